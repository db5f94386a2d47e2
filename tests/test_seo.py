"""Found and shared (issue 11, buyers 8): robots.txt, the sitemap, the icons, canonical
links, descriptions and link-preview cards, and JSON-LD that matches the page. Every
absolute link comes from PUBLIC_BASE_URL ("http://localhost" in tests), never the Host."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

from shop.catalog.models import ProductStatus
from shop.extensions import db
from shop.provenance.models import VettingKind
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from tests import factories as f

BASE = "http://localhost"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
OTHER_HOST = {"Host": "127.0.0.1"}  # a trusted host, not PUBLIC_BASE_URL's


def _meta(html: str) -> dict[str, str]:
    """<meta property|name=... content=...> and <link rel=canonical>, by name."""
    found = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', html)
    }
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', html)
    if canonical:
        found["canonical"] = canonical.group(1)
    return found


def _structured(html: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def _store():
    w = f.workshop(slug="open-workshop")
    f.vet(w)
    on_sale = f.product(w, slug="on-sale", name="On Sale Tote", variants=2, price=2400)
    f.batch(on_sale.variants[0], quantity=3, code="B-ON-SALE")
    draft = f.product(w, slug="a-draft", name="Draft Tote", status=ProductStatus.DRAFT)
    f.batch(draft.variants[0], quantity=2, code="B-DRAFT")
    f.product(w, slug="archived", name="Old Tote", status=ProductStatus.ARCHIVED)
    paused = f.workshop(slug="paused-workshop")
    f.vet(paused)
    halted = f.product(paused, slug="paused-goods", name="Paused Tote")
    f.batch(halted.variants[0], quantity=2, code="B-PAUSED")
    record_vetting_event(paused, kind=VettingKind.SUSPENDED, occurred_on=today(),
                         author="Staff", notes="review")  # fmt: skip
    db.session.commit()
    return on_sale


def test_robots_txt_keeps_crawlers_out_of_private_pages_and_searches(client):
    response = client.get("/robots.txt", headers=OTHER_HOST)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = {line.split(": ", 1)[1] for line in lines if line.startswith("Disallow: ")}
    for path in ("/admin/", "/staff/", "/cart", "/checkout", "/orders/", "/products?q="):
        assert path in disallowed
    assert "/products" not in disallowed and "/" not in disallowed
    assert f"Sitemap: {BASE}/sitemap.xml" in lines  # PUBLIC_BASE_URL, not the Host


def test_the_sitemap_lists_every_product_on_sale_and_no_draft(client, ctx):
    on_sale = _store()
    response = client.get("/sitemap.xml", headers=OTHER_HOST)
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ElementTree.fromstring(response.data)  # noqa: S314 (the store's own output)
    locs = [url.findtext(f"{SITEMAP}loc") for url in root.iter(f"{SITEMAP}url")]
    assert len(locs) == len(set(locs))
    for path in ("/", "/products", "/workshops", "/impact", "/products/on-sale",
                 "/workshops/open-workshop", "/p/B-ON-SALE"):  # fmt: skip
        assert f"{BASE}{path}" in locs, path
    for hidden in ("a-draft", "B-DRAFT", "archived", "paused", "B-PAUSED"):
        assert not [loc for loc in locs if hidden in loc], hidden
    assert all(loc.startswith(f"{BASE}/") for loc in locs)
    product = next(
        u for u in root.iter(f"{SITEMAP}url") if u.findtext(f"{SITEMAP}loc").endswith("/on-sale")
    )
    assert product.findtext(f"{SITEMAP}lastmod") == on_sale.updated_at.date().isoformat()


def test_the_sitemap_comes_from_the_page_cache_and_answers_304(client, ctx, count_queries):
    _store()
    first = client.get("/sitemap.xml")
    with count_queries() as q:
        again = client.get("/sitemap.xml")
    assert again.data == first.data and q.count == 1  # the storefront version only
    assert (
        client.get("/sitemap.xml", headers={"If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )
    f.product(f.workshop(), slug="brand-new")
    db.session.commit()
    assert b"/products/brand-new" in client.get("/sitemap.xml").data


def test_icons_are_served_at_the_root(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    touch = client.get("/apple-touch-icon.png")
    assert touch.status_code == 200 and touch.data[:8] == b"\x89PNG\r\n\x1a\n"
    html = client.get("/").get_data(as_text=True)
    assert 'rel="apple-touch-icon"' in html and 'href="/favicon.ico"' in html


def test_public_pages_have_a_canonical_link_a_description_and_a_card(client, ctx):
    on_sale = _store()
    pages = {
        "/": f"{BASE}/",
        "/products?sort=price_asc&category=bags&page=1": f"{BASE}/products?category=bags",
        "/products?q=tote": f"{BASE}/products",
        f"/products/{on_sale.slug}": f"{BASE}/products/{on_sale.slug}",
        "/workshops": f"{BASE}/workshops",
        "/workshops/open-workshop": f"{BASE}/workshops/open-workshop",
        "/p/B-ON-SALE": f"{BASE}/p/B-ON-SALE",
        "/impact": f"{BASE}/impact",
    }
    descriptions = set()
    for path, canonical in pages.items():
        html = client.get(path, headers=OTHER_HOST).get_data(as_text=True)
        meta = _meta(html)
        assert meta.get("canonical") == canonical, path
        assert meta["og:url"] == canonical and meta["og:title"] and meta["og:site_name"]
        assert meta["description"] == meta["og:description"] and meta["twitter:card"], path
        descriptions.add(meta["description"])
    assert len(descriptions) >= 6  # per page, not one for all
    for private in ("/cart", "/login?next=/account", "/no-such-page", "/products/a-draft"):
        html = client.get(private).get_data(as_text=True)
        assert ("og:title" in html) == private.startswith("/login"), private
        if private.startswith("/login"):
            assert _meta(html)["canonical"] == f"{BASE}/login"


def test_the_content_pages_are_found_and_shared_like_every_public_page(client, ctx):
    """Shipping, returns, contact, privacy, terms: a canonical link, a description of their
    own (their opening words once written) and a link-preview card; in the sitemap."""
    from shop.content.pages import PAGES, page_by_slug, update_page

    update_page(page_by_slug("returns"), "Returns and refunds",
                "You have **30 days** to send an item back & get your money.\n\n## How")  # fmt: skip
    db.session.commit()
    descriptions = set()
    for slot in PAGES:
        html = client.get(f"/pages/{slot.slug}", headers=OTHER_HOST).get_data(as_text=True)
        meta = _meta(html)
        canonical = f"{BASE}/pages/{slot.slug}"
        assert meta.get("canonical") == canonical and meta["og:url"] == canonical, slot.slug
        assert meta["og:title"] and meta["og:site_name"] == "Made Known", slot.slug
        assert meta["description"] == meta["og:description"] and meta["twitter:card"], slot.slug
        descriptions.add(meta["description"])
    assert len(descriptions) == len(PAGES)
    returns = _meta(client.get("/pages/returns").get_data(as_text=True))
    assert (
        returns["description"] == "You have 30 days to send an item back &amp; get your money. How"
    )
    root = ElementTree.fromstring(client.get("/sitemap.xml").data)  # noqa: S314
    locs = [url.findtext(f"{SITEMAP}loc") for url in root.iter(f"{SITEMAP}url")]
    for slot in PAGES:
        assert f"{BASE}/pages/{slot.slug}" in locs, slot.slug


def test_a_products_card_and_json_ld_match_what_its_page_shows(client, ctx):
    on_sale = _store()
    html = client.get(f"/products/{on_sale.slug}", headers=OTHER_HOST).get_data(as_text=True)
    data = _structured(html)
    meta = _meta(html)
    assert data["@context"] == "https://schema.org" and data["@type"] == "Product"
    assert data["name"] == re.search(r'<h1 id="product-title">([^<]+)</h1>', html).group(1)
    assert data["brand"] == {"@type": "Brand", "name": "Made Known"}
    assert data["description"] == "Cotton canvas tote."
    assert data["url"] == meta["canonical"]
    # the picture: absolute, on PUBLIC_BASE_URL, the same as the link preview's
    assert data["image"][0] == meta["og:image"] == meta["twitter:image"]
    assert data["image"][0].startswith(f"{BASE}/media/") and meta["og:type"] == "product"
    assert meta["twitter:card"] == "summary_large_image"
    offers = {offer["sku"]: offer for offer in data["offers"]}
    for variant in on_sale.variants:
        offer = offers[variant.sku]
        assert offer["@type"] == "Offer" and offer["priceCurrency"] == "USD"
        assert f"${offer['price']}" in html  # the price the page shows
    first, second = (offers[v.sku] for v in on_sale.variants)
    assert (first["price"], second["price"]) == ("24.00", "24.01")
    assert first["availability"] == "https://schema.org/InStock"  # 3 in stock
    assert second["availability"] == "https://schema.org/OutOfStock"  # none made yet
    # the price under the title: the one a buyer can pay (the other is sold out)
    assert "Sold out" in html and '<p class="product-price">$24.00' in html


def test_json_ld_cannot_end_its_script_element(client, ctx):
    w = f.workshop()
    p = f.product(w, name="Tote </script><script>alert(1)</script>", description="a < b & c")
    db.session.commit()
    html = client.get(f"/products/{p.slug}").get_data(as_text=True)
    data = _structured(html)
    assert data["name"] == "Tote </script><script>alert(1)</script>"
    assert data["description"] == "a < b & c"
    assert "<script>alert(1)" not in html
