"""Finding things in the back office: the orders and products lists (search, filters,
sort, pages, thumbnails), refused filters said plainly, and statement counts that do not
grow with the data, whatever is searched, filtered and sorted."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shop.catalog.models import ProductImage, ProductStatus
from shop.extensions import db
from tests import factories as f
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant
from tests.training.conftest import paid_order


@pytest.fixture
def admin_client(app, ctx):
    return client_as(app, "admin")


def _order(variant, *, name="Ana Buyer", email="ana@example.com", day=None, quantity=1, paid=True):
    order = (paid_order if paid else new_order)([(variant, quantity)])
    order.name, order.email = name, email
    if day:
        order.created_at = datetime(2026, 3, day, 12, 0, tzinfo=UTC)
    db.session.flush()
    return order


def _listed(client, query: str) -> list[str]:
    """The order numbers the list shows, in its order."""
    response = client.get(f"/admin/orders?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return re.findall(r'href="/admin/orders/\d+">([^<]+)</a>', response.get_data(as_text=True))


def test_orders_are_found_by_number_email_or_name(admin_client):
    variant = stocked_variant(quantity=10)
    ana = _order(variant, name="Ana Pérez", email="ana@example.com")
    bo = _order(variant, name="Bo Lindqvist", email="bo.l@example.net")
    cy = _order(variant, name="Cy Young", email="cy@example.org")
    db.session.commit()

    assert _listed(admin_client, f"q={ana.number.lower()}") == [ana.number]  # any case
    assert _listed(admin_client, f"q={bo.number[3:8]}") == [bo.number]  # part of a number
    assert _listed(admin_client, "q=example.net") == [bo.number]
    assert _listed(admin_client, "q=young") == [cy.number]
    assert _listed(admin_client, "q=p%C3%A9rez") == [ana.number]
    assert _listed(admin_client, "q=%25") == []  # LIKE's wildcard is a plain character here
    assert _listed(admin_client, "q=example") == [cy.number, bo.number, ana.number]


def test_orders_filter_by_status_and_day_and_sort(admin_client):
    variant = stocked_variant(quantity=20)
    first = _order(variant, day=1, quantity=3)
    second = _order(variant, day=2, quantity=1)
    third = _order(variant, day=3, quantity=2)
    unpaid = _order(variant, day=2, quantity=1, paid=False)
    db.session.commit()

    # The whole day; placed at the same moment, the later order first.
    on_the_2nd = [unpaid.number, second.number]
    assert _listed(admin_client, "placed_from=2026-03-02&placed_to=2026-03-02") == on_the_2nd
    assert _listed(admin_client, "placed_from=2026-03-03") == [third.number]
    assert _listed(admin_client, "placed_to=2026-03-01") == [first.number]
    assert _listed(admin_client, "status=pending_payment") == [unpaid.number]
    assert _listed(admin_client, "status=to_ship&sort=oldest") == [
        first.number, second.number, third.number,
    ]  # fmt: skip
    assert _listed(admin_client, "status=paid&sort=total_high") == [
        first.number, third.number, second.number,
    ]  # fmt: skip
    assert _listed(admin_client, "sort=total_low&status=paid")[0] == second.number
    by_status = _listed(admin_client, "sort=status")
    assert by_status[0] == unpaid.number  # waiting for payment comes first in an order's life
    page = admin_client.get("/admin/orders?status=paid&sort=total_high").get_data(as_text=True)
    assert 'value="total_high" selected' in page and 'value="paid" selected' in page


def test_pages_keep_the_search_filters_and_sort(admin_client):
    variant = stocked_variant(quantity=40)
    for _ in range(31):
        _order(variant, name="Page Person")
    _order(variant, name="Someone Else")
    db.session.commit()
    page = admin_client.get("/admin/orders?q=page+person&sort=oldest").get_data(as_text=True)
    assert "31 orders" in page and "Page 1 of 2" in page
    nxt = re.search(r'<a href="([^"]+)">Next</a>', page).group(1).replace("&amp;", "&")
    assert "q=page+person" in nxt and "sort=oldest" in nxt and "page=2" in nxt
    second = admin_client.get(nxt).get_data(as_text=True)
    assert "Page 2 of 2" in second and len(re.findall(r'name="order" value="', second)) == 1
    csv = admin_client.get("/admin/orders.csv?q=someone").get_data(as_text=True)
    assert csv.count("\n") == 2  # the header and the one order that matches


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=shipped-ish", "Status: there is no such choice"),
        ("refund=some", "Refund: there is no such choice"),
        ("sort=price", "Sort: there is no such choice"),
        ("placed_from=2026-02-30", "Placed from: enter a date like 2026-03-01"),
        ("placed_to=yesterday", "Placed until: enter a date like 2026-03-01"),
        ("placed_from=２０２６-03-01", "Placed from: enter a date like 2026-03-01"),
        ("placed_from=2026-03-05&placed_to=2026-03-01", "Placed until: the date is before"),
        ("q=" + "x" * 101, "type at most 100 characters"),
    ],
)
def test_a_filter_the_list_cannot_use_is_named_not_a_500(admin_client, query, message):
    variant = stocked_variant(quantity=2)
    order = _order(variant)
    db.session.commit()
    response = admin_client.get(f"/admin/orders?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page
    assert "<title>Error: Orders" in page and 'aria-invalid="true"' in page
    assert order.number not in page  # no list that looks filtered but is not
    download = admin_client.get(f"/admin/orders.csv?{query}")
    assert download.status_code == 400 and message in download.get_data(as_text=True)


def test_each_order_shows_the_pictures_of_what_it_holds(admin_client):
    w = f.workshop()
    product = f.product(w, name="Block Print Tote", images=0)
    bare = f.product(w, name="Plain Tie", images=0).variants[0]
    f.batch(product.variants[0], quantity=5)
    f.batch(bare, quantity=5)
    db.session.add(ProductImage(product_id=product.id, filename="tote-front.jpg", alt_text="Front",
                                width=800, height=800, position=0))  # fmt: skip
    db.session.add(ProductImage(product_id=product.id, filename="tote-back.jpg", alt_text="Back",
                                width=800, height=800, position=1))  # fmt: skip
    order = paid_order([(product.variants[0], 2), (bare, 1)])
    db.session.commit()
    page = admin_client.get("/admin/orders").get_data(as_text=True)
    row = page[page.index(order.number) :]
    row = row[: row.index("</tr>")]
    assert re.search(
        r'<img class="thumb" src="[^"]*tote-front\.jpg" alt="Block Print Tote × 2"', row
    )
    assert "tote-back.jpg" not in row  # the product's first picture only
    assert "Plain Tie × 1" in row  # no picture: its name instead


def test_products_are_found_by_name_or_sku_filtered_by_status_and_sorted(admin_client):
    w = f.workshop()
    tote = f.product(w, name="Canvas Tote", price=1000)
    tee = f.product(w, name="Pattern Tee", price=1500)
    draft = f.product(w, name="Draft Scarf", price=900, status=ProductStatus.DRAFT)
    f.batch(tee.variants[0], quantity=9)
    f.batch(tote.variants[0], quantity=2)
    db.session.commit()

    def listed(query: str) -> list[str]:
        response = admin_client.get(f"/admin/products?{query}")
        assert response.status_code == 200
        return re.findall(
            r'href="/admin/products/\d+">([^<]+)</a>', response.get_data(as_text=True)
        )

    assert listed("q=tote") == ["Canvas Tote"]
    assert listed(f"q={tee.variants[0].sku.lower()}") == ["Pattern Tee"]
    assert listed("status=draft") == ["Draft Scarf"]
    assert listed("status=active&sort=stock_low") == ["Canvas Tote", "Pattern Tee"]
    assert listed("sort=newest")[0] == draft.name
    refused = admin_client.get("/admin/products?status=gone&sort=cheap")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Status: there is no such choice" in text
    assert "Sort: there is no such choice" in text and "Canvas Tote" not in text


def test_admin_lists_cost_the_same_statements_with_search_filters_and_sort(
    app, ctx, admin_client, count_queries
):
    variant = stocked_variant(quantity=400)
    first = paid_order([(variant, 1)])
    db.session.commit()
    paths = [
        "/admin/orders?q=example&status=paid&refund=none&placed_from=2000-01-01"
        "&placed_to=2999-12-31&sort=total_high",
        f"/admin/orders?q={first.number.lower()}&sort=status&page=1",
        "/admin/orders?status=to_ship&sort=oldest",
        "/admin/products?q=e&status=active&sort=stock_low",
        "/admin/products?sort=newest",
    ]

    pages: dict[str, str] = {}

    def counts() -> list[int]:
        result = []
        for path in paths:
            with count_queries() as counter:
                response = admin_client.get(path)
            assert response.status_code == 200, path
            pages[path] = response.get_data(as_text=True)
            result.append(counter.count)
        return result

    small = counts()
    for i in range(40):
        other = stocked_variant(quantity=3)
        db.session.add(ProductImage(product_id=other.product_id, filename=f"p{i}.jpg",
                                    alt_text="x", width=10, height=10))  # fmt: skip
        paid_order([(other, 1), (variant, 2)])
        new_order([(variant, 1)])
    db.session.commit()
    large = counts()
    assert small == large, dict(zip(paths, zip(small, large, strict=True), strict=True))
    assert max(large) <= 5
    # ... and the lists measured were searched, filtered and sorted, not whole.
    assert "41 orders" in pages[paths[0]] and "1 order " in pages[paths[1]]
    assert 'value="oldest" selected' in pages[paths[2]]
    assert 'value="stock_low" selected' in pages[paths[3]]
