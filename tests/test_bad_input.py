"""Bad input from outside gets a clear 400 or 404 and changes nothing (issue 9, defect 21),
and the smaller input rules of defect 22: money is a plain decimal, a negative amount in
a CSV export stays a number, one page's forms never share a field id."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.money import MoneyError, parse_major
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.orders.conftest import migrated_stripe_app, sign, stripe_app  # noqa: F401  (fixtures)
from tests.store_state import changes, store_state
from tests.training.conftest import one_maker_sale, refund

HUGE = "1" + "0" * 23  # 10^23: OverflowError once it reached SQLite
BEYOND_INT = str(2**31)  # "integer out of range" on PostgreSQL


@pytest.mark.parametrize(
    "text",
    ["1e3", "1E+999999", "99999999999999999999", "sNaN", "NaN", "-0.01", "+1", "1,000", "١٢",
     "²", "0x10", "1_000", " . ", "12.", ".5"],
)  # fmt: skip
def test_money_is_a_plain_decimal_of_sane_size(text):
    with pytest.raises(MoneyError):
        parse_major(text, "USD")


def test_money_keeps_the_currency_minor_digits_and_percentages_their_two():
    from shop.money import parse_percent_bps

    assert parse_major("12.5", "USD") == 1250 and parse_major("1250", "JPY") == 1250
    with pytest.raises(MoneyError, match="at most 0 decimal places"):
        parse_major("12.5", "JPY")
    assert parse_percent_bps("12.5") == 1250 and parse_percent_bps("100") == 10_000
    for text in ("sNaN", "1e2", "100.01", "-1", "12.345"):
        with pytest.raises(MoneyError):
            parse_percent_bps(text)


@pytest.fixture
def store(app, ctx):
    _maker, product, order = one_maker_sale(stock=5, sold=1)
    db.session.commit()
    return {"product": product, "variant": product.variants[0], "order": order,
            "admin": client_as(app, "admin"), "staff": client_as(app, "staff")}  # fmt: skip


def test_query_strings_and_paths_out_of_range_are_404_or_ignored(app, ctx, store):
    client = app.test_client()
    before = store_state()
    for url in (f"/products?page={HUGE}", f"/products?page={BEYOND_INT}", "/products?page=²",
                "/products?page=-1"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get("/products?category=²").status_code == 404  # no such category
    assert store["staff"].get(f"/staff/balances.csv?workshop={BEYOND_INT}").status_code == 200
    for url in (f"/staff/trainees?workshop={HUGE}", "/staff/trainees?workshop=²"):
        refused = store["staff"].get(url)  # a list filter it cannot use is named, not ignored
        assert refused.status_code == 400, url
        assert "Workshop: there is no such choice" in refused.get_data(as_text=True), url
    assert store["admin"].get(f"/admin/stock/movements?variant={HUGE}").status_code == 200
    for url in (
        f"/admin/orders/{HUGE}",
        f"/admin/orders/{BEYOND_INT}",
        f"/admin/products/{BEYOND_INT}",
    ):
        assert store["admin"].get(url).status_code == 404, url
    assert store["staff"].get(f"/staff/trainees/{BEYOND_INT}").status_code == 404
    for variant_id in (HUGE, BEYOND_INT, "²", "-1", "1e3"):
        response = client.post("/cart/add", data={"variant_id": variant_id, "quantity": "1"})
        assert response.status_code in (400, 404), variant_id
    assert changes(before, store_state()) == {}


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [("GET", "/products?q=%00", None), ("GET", "/p/%00", None), ("GET", "/products/a%00b", None),
     ("GET", "/orders/x%00y", None), ("POST", "/login", {"email": "a\x00@example.org", "password": "x"}),
     ("POST", "/register", {"email": "b@example.org", "password": "pw\x00pw", "name": "B"}),
     ("POST", "/checkout", {"email": "c@example.org", "name": "C\x00", "address_line1": "1 Road",
                            "city": "Lyon", "postal_code": "1", "country": "FR", "shipping_method": "standard"})],
)  # fmt: skip
def test_a_nul_byte_anywhere_is_a_400_and_changes_nothing(app, ctx, store, method, url, data):
    client = app.test_client()
    client.post("/cart/add", data={"variant_id": store["variant"].id, "quantity": "1"})
    before = store_state()
    response = client.open(url, method=method, data=data)
    assert response.status_code == 400
    assert changes(before, store_state()) == {}


def test_money_fields_refuse_overflowing_and_exotic_amounts(app, ctx, store):
    admin, product, variant = store["admin"], store["product"], store["variant"]
    before = store_state()
    for price in ("1E+999999", "99999999999999999999", "1e3", "sNaN"):
        response = admin.post(f"/admin/products/{product.id}/variants",
                              data={"sku": "NEW-1", "options": "", "price": price})  # fmt: skip
        assert response.status_code == 400, price
        assert "is not an amount" in response.get_data(
            as_text=True
        ) or "at most" in response.get_data(as_text=True)
        admin.post(f"/admin/variants/{variant.id}/price", data={"options": "", "price": price})
    form = {"name": "N", "slug": product.slug, "description": "", "story": "", "category_id": "0",
            "workshop_id": str(product.workshop_id), "status": "active"}  # fmt: skip
    for share in ("sNaN", "1E+999999", "NaN", "1e2"):
        response = admin.post(f"/admin/products/{product.id}", data={**form, "impact_share": share})
        assert response.status_code == 400 and "percentage" in response.get_data(as_text=True)
    order = store["order"]
    line_id = order.lines[0].id
    for amount in ("1E+999999", "99999999999999999999"):
        response = confirmed(
            admin,
            f"/admin/orders/{order.id}/refund/confirm",
            data={"request_key": "k", f"line-{line_id}": amount, "reason": "x"},
        )
        assert response.status_code == 400, amount
    assert changes(before, store_state()) == {}


@pytest.mark.parametrize("body", [b"[]", b"null", b'"event"', b"42",
                                  b'{"id": "evt_1", "type": "payment_intent.succeeded"}',
                                  b'{"id": "evt_2", "type": "charge.refunded", "data": null}',
                                  b'{"id": "evt_3", "type": "charge.refunded", "data": {"object": []}}',
                                  b"[" * 100_000])  # fmt: skip
def test_a_well_signed_event_that_is_not_an_event_object_is_a_400(stripe_app, body):  # noqa: F811
    client = stripe_app.test_client()
    with stripe_app.app_context():
        before = store_state()
        response = client.post("/stripe/webhook", data=body, content_type="application/json",
                               headers={"Stripe-Signature": sign(body)})  # fmt: skip
        assert response.status_code == 400
        assert changes(before, store_state()) == {}


def test_negative_amounts_stay_numbers_in_csv_exports_and_formulas_do_not(app, ctx, store):
    order = store["order"]
    refund(order, {order.lines[0].id: order.lines[0].line_total})
    maker_id = _trainee_id(order)
    db.session.commit()
    body = store["staff"].get(f"/staff/trainees/{maker_id}/statement.csv").get_data(as_text=True)
    amounts = [row["amount"] for row in csv.DictReader(io.StringIO(body))]
    assert amounts == ["1.00", "-1.00"]  # a refund reversal is a number a sheet can add up
    from shop.web import _cell

    assert [_cell(v) for v in ("-0.01", "12", "-1+2", "=1+2", "+1", "-A1", "@x")] == [
        "-0.01", "12", "'-1+2", "'=1+2", "'+1", "'-A1", "'@x"]  # fmt: skip


def _trainee_id(order) -> int:
    from shop.provenance.models import BatchMaker

    return db.session.scalar(select(BatchMaker.trainee_id).limit(1))


def test_the_staff_trainee_page_gives_every_field_its_own_id(app, ctx, store):
    page = (
        store["staff"].get(f"/staff/trainees/{_trainee_id(store['order'])}").get_data(as_text=True)
    )
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [i for i, n in ids.items() if n > 1] == []
    for label_for in re.findall(r'<label for="([^"]+)"', page):
        assert ids[label_for] == 1, label_for


def test_admin_stock_search_matches_percent_and_underscore_literally(app, ctx, store):
    w = f.workshop()
    f.product(w, name="Tote 50% cotton")
    f.product(w, name="Tote 50 cm")
    f.product(w, name="Tote a_b")
    f.product(w, name="Tote axb")
    db.session.commit()
    page = store["admin"].get("/admin/stock?q=50%25").get_data(as_text=True)
    assert "Tote 50% cotton" in page and "Tote 50 cm" not in page
    page = store["admin"].get("/admin/stock?q=a_b").get_data(as_text=True)
    assert "Tote a_b" in page and "Tote axb" not in page


def test_stripe_event_guard_accepts_a_real_event_shape():
    from shop.orders.views import is_event_object

    good = {"id": "evt_1", "type": "x", "data": {"object": {"id": "pi_1"}}}
    assert is_event_object(json.dumps(good).encode())
    assert not is_event_object(b"\xff")


NON_ASCII_DIGITS = ["٣", "３", "२", "³", "1٣"]  # Arabic-Indic, fullwidth, Devanagari, superscript


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
def test_quantities_and_stock_counts_take_only_ascii_digits(app, ctx, store, digits):
    """int() reads '٣' and '３' as 3; a quantity or stock count typed that way is refused
    with a message, and nothing changes (cart, stock, batches)."""
    admin, variant = store["admin"], store["variant"]
    before = store_state()
    buyer = app.test_client()
    page = buyer.post("/cart/add", data={"variant_id": str(variant.id), "quantity": digits},
                      follow_redirects=True)  # fmt: skip
    assert "digits 0-9" in page.get_data(as_text=True)
    with buyer.session_transaction() as session:
        assert not session.get("cart")
    page = admin.post(f"/admin/stock/{variant.id}/adjust",
                      data={"quantity": digits, "reason": "count"}, follow_redirects=True)  # fmt: skip
    assert "digits 0-9" in page.get_data(as_text=True)
    page = admin.post("/admin/batches/new", data={
        "code": "B-DIGITS", "workshop": str(store["product"].workshop_id), "sku": variant.sku,
        "quantity": digits, "produced_month": "2026-01", "makers": "",
    })  # fmt: skip
    assert page.status_code == 400 and "digits 0-9" in page.get_data(as_text=True)
    assert changes(before, store_state()) == {}


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
def test_csv_numbers_take_only_ascii_digits(digits):
    from shop import csv_import

    with pytest.raises(csv_import.FieldError, match="not a whole number"):
        csv_import.integer(digits, "quantity")
    with pytest.raises(csv_import.FieldError):
        csv_import.month(f"2026-0{digits}", "produced_month")
