from datetime import timedelta

from shop.catalog.models import ProductStatus
from shop.extensions import db
from shop.provenance.models import VettingKind
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from tests import factories as f


def test_home_shows_featured_products_and_the_programme(client, ctx):
    w = f.workshop()
    f.product(w, name="Plain Tote")
    f.product(w, name="Featured Tote", featured=True)
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "Featured Tote" in page
    assert "Plain Tote" not in page  # only featured ones when some are featured
    assert "training accounts" in page


def test_listing_filters_searches_sorts_and_paginates(client, ctx, app):
    w = f.workshop()
    f.product(w, name="Canvas Tote", price=3000)
    f.product(w, name="Rice Tote", price=1000)
    f.product(w, name="Silk Tie", price=2000, category_name="Accessories", description="Silk.")
    f.product(w, name="Hidden Draft Tote", status=ProductStatus.DRAFT)
    f.product(w, name="Old Archived Tote", status=ProductStatus.ARCHIVED)
    db.session.commit()

    page = client.get("/products").get_data(as_text=True)
    assert "3 products" in page
    assert "Hidden Draft Tote" not in page and "Old Archived Tote" not in page

    page = client.get("/products?category=accessories").get_data(as_text=True)
    assert "Silk Tie" in page and "Canvas Tote" not in page

    page = client.get("/products?q=tote").get_data(as_text=True)
    assert "Canvas Tote" in page and "Rice Tote" in page and "Silk Tie" not in page

    page = client.get("/products?sort=price_asc").get_data(as_text=True)
    assert page.index("Rice Tote") < page.index("Silk Tie") < page.index("Canvas Tote")
    page = client.get("/products?sort=price_desc").get_data(as_text=True)
    assert page.index("Canvas Tote") < page.index("Silk Tie") < page.index("Rice Tote")

    app.config["PRODUCTS_PER_PAGE"] = 2
    try:
        first = client.get("/products?sort=price_asc").get_data(as_text=True)
        second = client.get("/products?sort=price_asc&page=2").get_data(as_text=True)
        beyond = client.get("/products?page=9").get_data(as_text=True)
    finally:
        app.config["PRODUCTS_PER_PAGE"] = 12
    assert "Page 1 of 2" in first and "Canvas Tote" not in first
    assert "Canvas Tote" in second and "Rice Tote" not in second
    assert "nothing on page 9" in beyond


def test_search_treats_wildcards_as_text(client, ctx):
    f.product(f.workshop(), name="100% Cotton Tote")
    f.product(f.workshop(), name="Silk Tie", description="Silk.")
    db.session.commit()
    page = client.get("/products?q=%25").get_data(as_text=True)
    assert "100% Cotton Tote" in page and "Silk Tie" not in page
    assert "No products match" in client.get("/products?q=_x_").get_data(as_text=True)


def test_a_bad_sort_or_page_falls_back_instead_of_failing(client, ctx):
    f.product(f.workshop(), name="Canvas Tote")
    db.session.commit()
    assert client.get("/products?sort=drop&page=abc").status_code == 200
    assert client.get("/products?page=-3").status_code == 200


def test_product_page_shows_variants_and_the_provenance_panel(client, ctx):
    w = f.workshop(name="Riverside Sewing School", region="Phnom Penh")
    f.vet(w, last_visit_days_ago=10)
    p = f.product(w, name="Rice Tote", variants=2, price=1800, impact_share_bps=1250)
    f.batch(p.variants[0], quantity=4, materials="rice-paper sacks")
    db.session.commit()
    page = client.get(f"/products/{p.slug}").get_data(as_text=True)
    assert "Rice Tote" in page
    assert "$18.00" in page and "$18.01" in page
    assert "Only 4 left" in page and "Sold out" in page
    assert "Riverside Sewing School" in page and "Phnom Penh, Cambodia" in page
    assert "Vetted partner" in page
    assert "Agreement signed" in page
    assert (today() - timedelta(days=10)).strftime("%B %Y") in page
    assert "March 2026" in page and "rice-paper sacks" in page
    # of the price a buyer can pay: the $18.01 size is sold out
    assert "12.5 % of this price ($2.25) goes to the makers' training accounts" in page


def test_a_suspended_workshops_products_show_as_unavailable(client, ctx):
    w = f.workshop(name="Paused Workshop")
    f.vet(w)
    p = f.product(w, name="Paused Tote")
    f.batch(p.variants[0], quantity=5)
    record_vetting_event(
        w, kind=VettingKind.SUSPENDED, occurred_on=today(), author="Staff", notes="concern X"
    )
    db.session.commit()
    page = client.get(f"/products/{p.slug}").get_data(as_text=True)
    assert "can't be bought" in page
    assert "In stock" not in page and "Unavailable" in page
    assert "Vetted partner" not in page
    assert "concern X" not in page  # the reason stays with staff
    listing = client.get("/products").get_data(as_text=True)
    assert "Unavailable" in listing


def test_archived_products_stay_reachable_but_say_so_and_drafts_do_not_exist(client, ctx):
    w = f.workshop()
    archived = f.product(w, status=ProductStatus.ARCHIVED)
    draft = f.product(w, status=ProductStatus.DRAFT)
    db.session.commit()
    assert "no longer made" in client.get(f"/products/{archived.slug}").get_data(as_text=True)
    assert client.get(f"/products/{draft.slug}").status_code == 404


def test_unknown_pages_get_the_stores_404(client):
    for url in (
        "/products/no-such-thing",
        "/workshops/no-such-place",
        "/p/NO-SUCH-BATCH",
        "/nowhere",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "We could not find that page" in response.get_data(as_text=True)


def test_a_names_hyphenated_words_are_kept_whole_and_its_markup_escaped(client, ctx):
    """shop.typography.whole_words: a word with a hyphen in it is one unit CSS keeps on a
    line where it fits ("T- / Shirt" was how a tile broke it); what admins typed stays text."""
    w = f.workshop()
    tee = f.product(w, name="Block-Print T-Shirt")
    odd = f.product(w, name="Tote <b>-bold-</b> x-<i>")
    db.session.commit()
    words = '<span class="word">Block-Print</span> <span class="word">T-Shirt</span>'
    assert f'<h1 id="product-title">{words}</h1>' in client.get(f"/products/{tee.slug}").text
    assert f'<h2 class="card-title">{words}</h2>' in client.get("/products").text
    page = client.get(f"/products/{odd.slug}").text
    assert '<span class="word">&lt;b&gt;-bold-&lt;/b&gt;</span>' in page
    assert '<span class="word">x-&lt;i&gt;</span>' in page and "<b>-bold" not in page
