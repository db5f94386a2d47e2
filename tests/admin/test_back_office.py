"""The admin back office: who may enter, and what its buttons do."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shop.audit.models import AuditEntry
from shop.catalog.models import Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus
from shop.provenance.models import Batch
from shop.training.models import Transfer, TransferKind
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as, routes, sign_in
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_payments import outbox
from tests.training.conftest import one_maker_sale, paid_order


@pytest.fixture
def admin_client(app, ctx):
    return client_as(app, "admin")


def test_every_admin_route_sends_visitors_to_sign_in_and_refuses_others(app, ctx):
    variant = stocked_variant()
    order = new_order([(variant, 1)])
    people = {r: f.user(r) for r in ("customer", "staff")}
    admin = f.user("admin")
    db.session.commit()
    image_id = f.product(f.workshop()).images[0].id
    db.session.commit()
    batch_id = db.session.scalar(select(Batch.id).where(Batch.variant_id == variant.id))
    urls = routes(app, {"order_id": order.id, "variant_id": variant.id, "product_id": variant.product_id, "image_id": image_id, "job_id": 999999, "slug": "privacy", "batch_id": batch_id},
                  keep=lambda rule: rule.rule.startswith("/admin"))  # fmt: skip
    assert len(urls) >= 12
    for method, path in urls:
        anonymous = app.test_client().open(path, method=method)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], path
        for role, person in people.items():
            client = app.test_client()
            sign_in(client, person)
            assert client.open(path, method=method).status_code == 403, (role, method, path)
    client = app.test_client()
    sign_in(client, admin)
    for method, path in urls:
        if method == "GET":
            assert client.get(path).status_code == 200, path
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT


def test_a_refund_pressed_twice_refunds_and_reverses_once(app, ctx, admin_client):
    _maker, _product, order = one_maker_sale(stock=5, sold=2, price=2000)  # share 400
    line_id = order.lines[0].id
    db.session.commit()
    page = admin_client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    form = {"request_key": key, f"line-{line_id}": "20.00", "reason": "Damaged in transit"}
    for _ in range(2):
        response = confirmed(admin_client, f"/admin/orders/{order.id}/refund/confirm", data=form)
        assert response.status_code == 302
    assert db.session.scalar(select(func.count(Refund.id))) == 1
    found = db.session.get(Order, order.id)
    assert found.refunded_amount == 2000 and found.refund_status == RefundStatus.PARTIAL
    reversed_ = db.session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.kind == TransferKind.REFUND_REVERSAL)
    )
    assert reversed_ == 200  # half the line: half its share, once
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.refund")).all()
    assert len(audit) == 1 and audit[0].actor_id == admin_client.person.id
    assert audit[0].after["refunded_amount"] == 2000 and audit[0].address

    too_much = confirmed(
        admin_client,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "another", f"line-{line_id}": "99.00"},
        follow_redirects=True,
    )
    assert "Nothing was refunded" in too_much.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Refund.id))) == 1


def test_shipping_sends_the_notice_and_cancelling_releases_stock(app, ctx, admin_client):
    variant = stocked_variant(quantity=5)
    paid = paid_order([(variant, 1)])
    unpaid = new_order([(variant, 2)])
    db.session.commit()
    before = len(outbox(app))
    missing = admin_client.post(f"/admin/orders/{paid.id}/ship", data={"tracking_number": ""})
    assert missing.status_code == 400
    shipped = admin_client.post(f"/admin/orders/{paid.id}/ship", data={"tracking_number": "LX123"})
    assert shipped.status_code == 302
    assert db.session.get(Order, paid.id).status == OrderStatus.FULFILLED
    mails = outbox(app)
    assert len(mails) == before + 1 and "LX123" in mails[-1]
    again = admin_client.post(f"/admin/orders/{paid.id}/ship", data={"tracking_number": "LX9"},
                              follow_redirects=True)  # fmt: skip
    assert "cannot be shipped now" in again.get_data(as_text=True)

    assert db.session.get(Variant, variant.id).stock == 2
    confirmed(admin_client, f"/admin/orders/{unpaid.id}/cancel")
    assert db.session.get(Order, unpaid.id).status == OrderStatus.CANCELLED
    assert db.session.get(Variant, variant.id).stock == 4
    refused = confirmed(admin_client, f"/admin/orders/{paid.id}/cancel", follow_redirects=True)
    assert (
        f"Order {paid.number} was shipped, so it cannot be cancelled: refund it instead."
        in refused.get_data(as_text=True)
    )


def test_recording_a_batch_raises_stock_and_bad_input_writes_nothing(app, ctx, admin_client):
    w = f.workshop()
    product = f.product(w, price=1000)
    variant = product.variants[0]
    maker, elsewhere = f.trainee(w), f.trainee(f.workshop())
    db.session.commit()
    good = {"code": "B-ADMIN-1", "workshop": w.id, "sku": variant.sku, "quantity": "7",
            "produced_month": "2026-02", "materials": "canvas", "makers": f"{maker.code}:2"}  # fmt: skip
    for bad, message in (
        ({"makers": f"{elsewhere.code}:1"}, "cannot be named as a maker"),
        ({"makers": "T1"}, "is not like T001:2"),
        ({"produced_month": "2999-01"}, "2999-01 is in the future"),
        ({"sku": "NOPE"}, "no variant with SKU"),
        ({"quantity": "0"}, "Quantity: must be at least 1"),
    ):
        response = admin_client.post("/admin/batches/new", data={**good, **bad})
        assert response.status_code == 400 and message in response.get_data(as_text=True), bad
    assert db.session.get(Variant, variant.id).stock == 0
    assert admin_client.post("/admin/batches/new", data=good).status_code == 302
    assert db.session.get(Variant, variant.id).stock == 7
    duplicate = admin_client.post("/admin/batches/new", data=good)
    assert duplicate.status_code == 400 and "was recorded before" in duplicate.get_data(
        as_text=True
    )
    assert db.session.get(Variant, variant.id).stock == 7


def test_stock_adjustments_need_a_reason_and_are_audited(app, ctx, admin_client):
    variant = stocked_variant(quantity=3)
    db.session.commit()
    no_reason = admin_client.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-1"},
                                  follow_redirects=True)  # fmt: skip
    assert "needs a reason" in no_reason.get_data(as_text=True)
    too_many = admin_client.post(f"/admin/stock/{variant.id}/adjust",
                                 data={"quantity": "-9", "reason": "lost"}, follow_redirects=True)  # fmt: skip
    assert "Nothing changed" in too_many.get_data(as_text=True)
    assert db.session.get(Variant, variant.id).stock == 3
    admin_client.post(
        f"/admin/stock/{variant.id}/adjust", data={"quantity": "-1", "reason": "Stocktake"}
    )
    assert db.session.get(Variant, variant.id).stock == 2
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "stock.adjust")).one()
    assert (entry.before, entry.after) == ({"on_hand": 3}, {"on_hand": 2})
    savepoint = db.session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("UPDATE audit_log SET summary = 'nothing happened'"))
    savepoint.rollback()


def test_admin_lists_cost_the_same_statements_whatever_the_size(
    app, ctx, admin_client, count_queries
):
    variant = stocked_variant(quantity=200)
    paid_order([(variant, 1)])
    db.session.commit()
    paths = ["/admin/", "/admin/orders", "/admin/orders?status=paid", "/admin/stock", "/admin/products",
             "/admin/stock/movements", "/admin/audit"]  # fmt: skip

    def counts() -> list[int]:
        result = []
        for path in paths:
            with count_queries() as counter:
                assert admin_client.get(path).status_code == 200, path
            result.append(counter.count)
        return result

    small = counts()
    for _ in range(40):
        other = stocked_variant(quantity=3)
        paid_order([(other, 1)])
        new_order([(variant, 1)])
    db.session.commit()
    large = counts()
    assert small == large, dict(zip(paths, zip(small, large, strict=True), strict=True))
    assert max(large) <= 8


def test_csv_exports_of_orders_and_stock(app, ctx, admin_client):
    variant = stocked_variant(quantity=4)
    order = paid_order([(variant, 1)])
    db.session.commit()
    orders_csv = admin_client.get("/admin/orders.csv").get_data(as_text=True)
    assert order.number in orders_csv and "number,placed,status" in orders_csv
    stock_csv = admin_client.get("/admin/stock.csv").get_data(as_text=True)
    assert f"{variant.sku}," in stock_csv and ",3," in stock_csv


def test_refund_the_whole_order_reverses_every_share(app, ctx, admin_client):
    _maker, _product, order = one_maker_sale(stock=5, sold=2, price=1500, bps=2000)  # share 600
    db.session.commit()
    response = confirmed(
        admin_client,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "whole", "everything": "y"},
    )
    assert response.status_code == 302
    found = db.session.get(Order, order.id)
    assert found.refund_status == RefundStatus.FULL and found.refunded_amount == found.total
    reversed_ = db.session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.kind == TransferKind.REFUND_REVERSAL)
    )
    assert reversed_ == 600


def test_a_customer_reaches_no_one_elses_order_through_any_url(app, ctx):
    variant = stocked_variant()
    alice, bob = f.user("customer"), f.user("customer")
    order = paid_order([(variant, 1)])
    order.user_id = alice.id
    db.session.commit()
    client = app.test_client()
    sign_in(client, bob)
    values = {"order_id": order.id, "token": order.number, "variant_id": variant.id,
              "product_id": variant.product_id}  # fmt: skip
    tried = 0
    order_routes = routes(
        app,
        values,
        keep=lambda rule: {"order_id", "token"} & set(rule.arguments) and "order" in rule.rule,
    )
    for method, path in order_routes:
        response = client.open(path, method=method, data={"everything": "y", "request_key": "k"})
        assert response.status_code in (403, 404), (method, path, response.status_code)
        tried += 1
    assert tried >= 6
    found = db.session.get(Order, order.id)
    assert found.status == OrderStatus.PAID and found.refunded_amount == 0
    assert order.number not in client.get("/account").get_data(as_text=True)
