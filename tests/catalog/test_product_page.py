"""The product page's essentials (issue 11, buyers 5): the price under the title, options
as named choices, the gallery, the makers' share in money, and an "Add to cart" the cart
refused shown back with the problem beside its field and what was typed kept."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from itertools import pairwise

from shop.catalog.models import Variant
from shop.extensions import db
from tests import factories as f

VOID = {"input", "img", "source", "meta", "link", "br", "hr"}


class Page(HTMLParser):
    """A page's elements with their attributes, and the text of those with an id."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text_of: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag in VOID:
            return
        self._open.append((tag, a.get("id")))
        if a.get("id"):
            self.text_of[a["id"]] = ""

    def handle_data(self, data):
        for _tag, element_id in self._open:
            if element_id:
                self.text_of[element_id] += data

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass

    def find(self, tag: str, **attrs) -> list[dict]:
        return [
            a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def _two_option_product(stock: dict[tuple[str, str], int]):
    """A T-shirt in sizes and colours: {(size, colour): units}."""
    variants = [({"size": size, "colour": colour}, 2400, units)
                for (size, colour), units in stock.items()]  # fmt: skip
    return _with_variants(f.workshop(), "Two-Way Tee", variants, sku="TEE")


def _with_variants(w, name: str, variants: list[tuple[dict, int, int]], sku: str = ""):
    """A product with a variant per (options, price in cents, units made)."""
    p = f.product(w, name=name, variants=0, images=0)
    for i, (options, price, units) in enumerate(variants):
        v = Variant(sku=f"{sku or p.slug}-{i}", options=options, price=price, currency="USD",
                    position=i)  # fmt: skip
        p.variants.append(v)
        db.session.flush()
        if units:
            f.batch(v, quantity=units)
    return p


def _cart(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("cart") or {})


def test_price_sits_under_the_title_and_the_share_is_said_in_money(client, ctx):
    w = f.workshop()
    same = f.product(w, name="Plain Tote", price=2400)
    varied = f.product(w, name="Sized Tote", variants=2, price=1600, impact_share_bps=1200)
    db.session.commit()
    page = client.get(f"/products/{same.slug}").get_data(as_text=True)
    assert re.search(r"</h1>\s*<p class=\"product-price\">\$24.00", page)
    assert "10 % of this price ($2.40) goes to the makers' training accounts." in page
    page = client.get(f"/products/{varied.slug}").get_data(as_text=True)
    assert re.search(r"</h1>\s*<p class=\"product-price\">From \$16.00", page)
    assert "12 % of each price (from $1.92) goes to the makers' training accounts." in page


def _priced(w, name: str, variants: list[tuple[int, int]]):
    """A product with a variant per (price in cents, units made)."""
    return _with_variants(w, name, [({"size": f"S{i}"}, price, units)
                                    for i, (price, units) in enumerate(variants)])  # fmt: skip


def _tile_price(listing: str, name: str) -> str:
    tile = listing[listing.index(f'class="card-title">{name}<') :]
    found = re.search(r'<p class="card-price">\s*(.*?)\s*(?:<span|</p>)', tile, re.S)
    return found.group(1)


def _page_price(page: str) -> str:
    return re.search(r'<p class="product-price">([^<]*?)\s*(?:<span|</p>)', page).group(1)


def test_from_is_said_only_when_the_prices_a_buyer_can_pay_differ(client, ctx):
    """Issue 11 review, 6: "from" on every tile, and "From $0.99" on a page where only the
    $1,234.57 variant could be bought. The price shown is the lowest a buyer can pay (of
    all the variants when none can be bought), with "from" only when those differ; the
    JSON-LD offers say the same."""
    w = f.workshop()
    f.vet(w)
    cases = {  # name: (variants as (price, units made), the tile's price, the page's)
        "One Price Tote": ([(2400, 3), (2400, 5)], "$24.00", "$24.00"),
        "Cheap Sold Out": ([(99, 0), (123457, 2)], "$1,234.57", "$1,234.57"),
        "Two Prices Left": ([(1000, 0), (2000, 1), (3000, 1)], "from $20.00", "From $20.00"),
        "None Left": ([(1500, 0), (1200, 0)], "from $12.00", "From $12.00"),
        "None Left One Price": ([(1500, 0), (1500, 0)], "$15.00", "$15.00"),
    }
    products = {name: _priced(w, name, variants) for name, (variants, _, _) in cases.items()}
    db.session.commit()
    listing = client.get("/products").get_data(as_text=True)
    for name, (_, tile, shown) in cases.items():
        assert _tile_price(listing, name) == tile, name
        page = client.get(f"/products/{products[name].slug}").get_data(as_text=True)
        assert _page_price(page) == shown, name
        offers = json.loads(
            re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
        )["offers"]
        in_stock = [o for o in offers if o["availability"].endswith("/InStock")] or offers
        lowest = min(in_stock, key=lambda o: Decimal(o["price"]))["price"]
        assert shown.endswith(f"${Decimal(lowest):,}"), name  # the page's price, offered
    cheap = client.get(f"/products/{products['Cheap Sold Out'].slug}").get_data(as_text=True)
    assert "10 % of this price ($123.45)" in cheap
    # sorted by the price shown, not by a variant nobody can buy
    ordered = client.get("/products?sort=price_asc").get_data(as_text=True)
    names = re.findall(r'class="card-title">([^<]+)<', ordered)
    assert names == ["None Left", "None Left One Price", "Two Prices Left", "One Price Tote",
                     "Cheap Sold Out"]  # fmt: skip


def test_options_are_radio_groups_named_after_each_option(client, ctx):
    p = _two_option_product({("S", "natural"): 3, ("M", "natural"): 0, ("M", "black"): 2})
    db.session.commit()
    html = client.get(f"/products/{p.slug}").get_data(as_text=True)
    page = Page(html)
    assert re.findall(r"<legend>([^<]+)</legend>", html) == ["Size", "Colour"]
    sizes = page.find("input", type="radio", name="option.size")
    colours = page.find("input", type="radio", name="option.colour")
    assert [a["value"] for a in sizes] == ["S", "M"]
    assert [a["value"] for a in colours] == ["natural", "black"]
    # the first variant a buyer can take is chosen; every radio has its label
    assert "checked" in sizes[0] and "checked" in colours[0]
    for radio in sizes + colours:
        assert page.find("label", **{"for": radio["id"]})
    assert 'name="variant_id"' not in html


def test_the_options_chosen_put_that_variant_in_the_cart(client, ctx):
    p = _two_option_product({("S", "natural"): 3, ("M", "natural"): 0, ("M", "black"): 2})
    db.session.commit()
    black_m = next(v for v in p.variants if v.options == {"size": "M", "colour": "black"})
    added = client.post("/cart/add", data={"product_slug": p.slug, "option.size": "M",
                                           "option.colour": "black", "quantity": "2"})  # fmt: skip
    assert added.status_code == 302
    assert _cart(client) == {str(black_m.id): 2}
    assert "Added 2 × Two-Way Tee" in client.get("/cart").get_data(as_text=True)


def test_a_combination_not_made_is_refused_beside_the_options_keeping_them(client, ctx):
    p = _two_option_product({("S", "natural"): 3, ("M", "black"): 2})
    db.session.commit()
    refused = client.post("/cart/add", data={"product_slug": p.slug, "option.size": "S",
                                             "option.colour": "black", "quantity": "3"})  # fmt: skip
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    page = Page(html)
    assert "combination" in page.text_of["options-error"]
    assert all(g["aria-describedby"] == "options-error" for g in page.find("fieldset"))
    checked = {a["name"]: a["value"] for a in page.find("input", type="radio") if "checked" in a}
    assert checked == {"option.size": "S", "option.colour": "black"}
    assert page.find("input", id="quantity")[0]["value"] == "3"
    assert _cart(client) == {}


def test_too_many_is_refused_beside_the_quantity_keeping_what_was_typed(client, ctx):
    w = f.workshop()
    p = f.product(w, name="Sized Tote", variants=2)
    f.batch(p.variants[0], quantity=2)
    f.batch(p.variants[1], quantity=4)
    db.session.commit()
    refused = client.post("/cart/add", data={"product_slug": p.slug, "option.size": "S1",
                                             "quantity": "7"})  # fmt: skip
    assert refused.status_code == 422
    page = Page(refused.get_data(as_text=True))
    quantity = page.find("input", id="quantity")[0]
    assert quantity["value"] == "7"
    assert quantity["aria-invalid"] == "true" and "autofocus" in quantity
    assert "Only 4" in page.text_of[quantity["aria-describedby"]]
    # the option tried stays chosen; the title says there is an error
    assert [a["value"] for a in page.find("input", name="option.size") if "checked" in a] == ["S1"]
    assert "<title>Error: Sized Tote" in refused.get_data(as_text=True)
    assert _cart(client) == {}
    # a quantity that is not a number is kept too, beside the same field
    refused = client.post("/cart/add", data={"product_slug": p.slug, "option.size": "S1",
                                             "quantity": "lots"})  # fmt: skip
    page = Page(refused.get_data(as_text=True))
    assert refused.status_code == 422 and "digits 0-9" in page.text_of["quantity-error"]
    assert page.find("input", id="quantity")[0]["value"] == "lots"


def test_a_product_with_one_variant_has_nothing_to_choose(client, ctx):
    w = f.workshop()
    p = f.product(w, name="Cushion", variants=1)
    f.batch(p.variants[0], quantity=3)
    db.session.commit()
    html = client.get(f"/products/{p.slug}").get_data(as_text=True)
    page = Page(html)
    assert page.find("input", type="hidden", name="variant_id", value=str(p.variants[0].id))
    assert not page.find("input", type="radio")
    assert "Size: S0" in html and '<span class="stock-status">Only 3 left</span>' in html


def test_the_gallery_works_without_script_and_the_main_picture_comes_first(client, ctx):
    w = f.workshop()
    p = f.product(w, name="Pictured Tote", images=3)
    db.session.commit()
    page = Page(client.get(f"/products/{p.slug}").get_data(as_text=True))
    slides = [a["id"] for a in page.find("div", **{"class": "gallery-slide"})]
    assert slides == ["picture-1", "picture-2", "picture-3"]
    thumbs = [a["href"] for a in page.find("a", **{"class": "gallery-thumb"})]
    assert thumbs == ["#picture-1", "#picture-2", "#picture-3"]
    images = page.find("img")
    main = images[0]
    assert main["fetchpriority"] == "high" and "loading" not in main
    assert [a.get("loading") for a in images[1:3]] == ["lazy", "lazy"]  # the other slides
    assert sum(1 for a in images if a.get("fetchpriority")) == 1


def test_the_listings_first_pictures_are_not_lazy_and_headings_do_not_skip(client, ctx):
    w = f.workshop()
    for i in range(6):
        f.product(w, name=f"Tote {i}")
    db.session.commit()
    html = client.get("/products").get_data(as_text=True)
    levels = [int(h[1]) for h in re.findall(r"<(h[1-6])\b", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels
    lazy = [("loading" in a) for a in Page(html).find("img", **{"class": "card-image"})]
    assert lazy == [False] * 4 + [True] * 2


def test_variants_picked_by_id_still_work(client, ctx):
    """Other forms (and older pages) send the variant itself."""
    w = f.workshop()
    p = f.product(w)
    f.batch(p.variants[0], quantity=2)
    db.session.commit()
    added = client.post("/cart/add", data={"variant_id": p.variants[0].id, "quantity": "1"})
    assert added.status_code == 302
    assert _cart(client) == {str(p.variants[0].id): 1}
