from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.catalog.models import ProductStatus, StockMovement, Variant
from shop.extensions import db
from shop.orders.checkout import CheckoutError, release_expired
from shop.orders.models import Order, OrderLine, OrderStatus, Reservation, ReservationStatus
from shop.provenance.models import VettingKind
from shop.provenance.services import record_vetting_event
from shop.timeutil import today, utcnow
from tests.conftest import jobs_held
from tests.orders.conftest import new_order, stocked_variant

CHECKOUT = {
    "email": "buyer@example.com", "name": "Ana Buyer", "address_line1": "1 Road",
    "city": "Lyon", "postal_code": "69001", "country": "FR", "shipping_method": "standard",
}  # fmt: skip


def _stock(variant_id):
    return db.session.scalar(select(Variant.stock).where(Variant.id == variant_id))


def add(client, variant_id, quantity="1"):
    return client.post(
        "/cart/add", data={"variant_id": variant_id, "quantity": quantity}, follow_redirects=True
    )


def test_add_change_and_remove_cart_lines_with_server_totals(client, ctx):
    variant = stocked_variant(quantity=5, price=1250)
    db.session.commit()
    page = add(client, variant.id, "2").get_data(as_text=True)
    assert "Added 2" in page and "$25.00" in page
    page = client.post(
        "/cart/update", data={"variant_id": variant.id, "quantity": "3"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "$37.50" in page
    page = client.post(
        "/cart/remove", data={"variant_id": variant.id}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Your cart is empty" in page


def test_checkout_with_an_empty_cart_leads_to_the_cart_saying_so_once(client, ctx):
    response = client.get("/checkout")
    assert response.status_code == 302 and response.location == "/cart"
    page = client.get("/cart").get_data(as_text=True)
    assert page.count("Your cart is empty.") == 1
    assert 'class="flash flash-error"' not in page  # no error above the page's own words


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("0", "between 1 and 99"), ("-2", "between 1 and 99"), ("1.5", "whole number"), ("x", "whole number"),
     ("6", "Only 5 of"), ("100", "between 1 and 99")],
)  # fmt: skip
def test_quantities_must_be_whole_and_within_stock(client, ctx, quantity, message):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    page = add(client, variant.id, quantity).get_data(as_text=True)
    assert message in page
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_archived_suspended_and_vanished_items_are_refused(client, ctx):
    archived = stocked_variant()
    archived.product.status = ProductStatus.ARCHIVED
    paused = stocked_variant()
    record_vetting_event(
        paused.product.workshop, kind=VettingKind.SUSPENDED, occurred_on=today(), author="S"
    )
    db.session.commit()
    assert "no longer sold" in add(client, archived.id).get_data(as_text=True)
    assert "be bought at the moment" in add(client, paused.id).get_data(as_text=True)
    assert "no longer in the shop" in add(client, 999_999).get_data(as_text=True)

    # an item that goes off sale after it was added is stopped at the cart and at checkout
    fine = stocked_variant()
    db.session.commit()
    add(client, fine.id)
    db.session.get(Variant, fine.id).product.status = ProductStatus.ARCHIVED
    db.session.commit()
    page = client.get("/cart").get_data(as_text=True)
    assert "no longer sold" in page and 'href="/checkout"' not in page
    response = client.post("/checkout", data=CHECKOUT)
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_checkout_validates_the_buyer_details(client, ctx):
    variant = stocked_variant()
    db.session.commit()
    add(client, variant.id)
    response = client.post(
        "/checkout", data={**CHECKOUT, "email": "not-an-email", "country": "", "city": ""}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter an email address in the right format" in page and "Choose a country" in page
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_placing_an_order_snapshots_lines_and_reserves_stock(client, ctx, app):
    variant = stocked_variant(quantity=5, price=2400)
    db.session.commit()
    add(client, variant.id, "2")
    response = client.post("/checkout", data={**CHECKOUT, "shipping_method": "express"})
    assert response.status_code == 302 and "/pay" in response.headers["Location"]
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert (order.status, order.subtotal, order.shipping, order.total) == (
            OrderStatus.PENDING_PAYMENT, 4800, 2500, 7300,
        )  # fmt: skip
        line = db.session.scalars(select(OrderLine)).one()
        assert (line.sku, line.unit_price, line.quantity, line.impact_share_bps) == (
            variant.sku,
            2400,
            2,
            1000,
        )
        assert _stock(variant.id) == 3
        reservation = db.session.scalars(select(Reservation)).one()
        assert reservation.quantity == 2 and reservation.status == ReservationStatus.HELD
        held_for = reservation.expires_at.replace(tzinfo=None) - order.created_at.replace(
            tzinfo=None
        )
        assert timedelta(minutes=14) < held_for <= timedelta(minutes=15, seconds=5)
    page = client.get("/cart").get_data(as_text=True)
    # The cart is emptied, and offers the unpaid order instead (shop.orders.unpaid).
    assert "Nothing else is in your cart" in page and "Finish paying" in page


def test_expired_reservations_go_back_to_stock_by_command_and_at_the_next_checkout(app, ctx):
    variant = stocked_variant(quantity=2)
    order = new_order([(variant, 2)])
    db.session.commit()
    assert _stock(variant.id) == 0
    with pytest.raises(CheckoutError, match="sold out"):
        new_order([(variant, 1)])
    db.session.rollback()
    # the hold ran out: the next checkout touching the stock releases it first
    order.reserved_until = utcnow() - timedelta(minutes=1)
    for reservation in order.reservations:
        reservation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    second = new_order([(variant, 1)])
    db.session.commit()
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED
    assert _stock(variant.id) == 1
    # and the command releases what nobody touched
    for reservation in second.reservations:
        reservation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["orders", "expire"])
    assert "Released 1 expired reservation(s)" in result.output
    assert _stock(variant.id) == 2
    assert release_expired(utcnow()) == 0  # nothing is released twice


def test_a_fault_midway_through_placing_an_order_leaves_nothing(client, ctx, app, monkeypatch):
    """Fault injection: the second variant's stock update blows up."""
    import shop.orders.checkout as services

    first, second = stocked_variant(quantity=5), stocked_variant(quantity=5)
    db.session.commit()
    add(client, first.id, "2")
    add(client, second.id, "1")
    real = services.change_stock
    calls = []

    def failing(variant_id, kind, quantity):
        calls.append(variant_id)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real(variant_id, kind, quantity)

    monkeypatch.setattr(services, "change_stock", failing)
    with pytest.raises(RuntimeError):
        client.post("/checkout", data=CHECKOUT)
    with app.app_context():
        assert db.session.scalar(select(func.count(Order.id))) == 0
        assert db.session.scalar(select(func.count(Reservation.id))) == 0
        assert db.session.scalar(select(func.count(StockMovement.id))) == 2  # the two batches only
        assert (_stock(first.id), _stock(second.id)) == (5, 5)
    # the cart survives, so the buyer can simply try again
    monkeypatch.setattr(services, "change_stock", real)
    assert client.post("/checkout", data=CHECKOUT).status_code == 302


def test_query_budget_for_the_cart_and_placing_an_order(app, client, ctx, count_queries):
    for _ in range(30):  # a bigger catalog must not change the counts
        stocked_variant()
    variants = [stocked_variant(quantity=9) for _ in range(3)]
    db.session.commit()
    for variant in variants:
        add(client, variant.id, "2")
    with count_queries() as cart_page:
        assert client.get("/cart").status_code == 200
    with jobs_held(app), count_queries() as placing:  # the request's own, not its email job's
        assert client.post("/checkout", data=CHECKOUT).status_code == 302
    for variant in variants:  # a new cart beside the unpaid order the cart page offers
        add(client, variant.id, "1")
    with count_queries() as with_unpaid_order:
        page = client.get("/cart").get_data(as_text=True)
    assert "Finish paying" in page
    assert cart_page.count <= 4, cart_page.statements
    assert with_unpaid_order.count == cart_page.count + 1, with_unpaid_order.statements
    # With the per-address hold cap, the page cache's version token and the "finish your
    # order" email's job, whatever the cart.
    assert placing.count <= 14, "\n".join(s[:110] for s in placing.statements)


def test_a_guest_cannot_reach_an_order_by_number_or_a_guessed_token(client, ctx):
    variant = stocked_variant()
    order = new_order([(variant, 1)])
    db.session.commit()
    assert client.get(f"/orders/{order.token}").status_code == 200
    for guess in (
        order.number,
        str(order.id),
        order.token[:-1],
        order.token[:-1] + "x",
        "a" * 65,
        "%00",
    ):
        expected = 400 if guess == "%00" else 404  # a NUL byte is refused for every request
        assert client.get(f"/orders/{guess}").status_code == expected, guess
        assert client.get(f"/orders/{guess}/pay").status_code == expected, guess
    # Only the link's holder sees the order, and, since issue 11 ("the order page shows
    # the shipping address"), where it ships: so no cache anywhere may keep the page.
    response = client.get(f"/orders/{order.token}")
    page = response.get_data(as_text=True)
    assert order.number in page and "Ana Buyer" in page and "69001 LYON" in page
    assert "no-store" in response.headers["Cache-Control"]
