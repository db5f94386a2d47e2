"""An unpaid order is never lost (issue 11): the session remembers it, the cart page offers
to finish paying or to change the details, the pay page shows the details with a way back
to change them, and the buyer is emailed a link to finish the order."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from shop.extensions import db
from shop.jobs.models import Job
from shop.money import money_text
from shop.orders.models import Order, OrderStatus, Payment, PaymentStatus
from shop.orders.notifications import PAYMENT_WAITING
from shop.timeutil import as_utc
from tests import factories as f
from tests.conftest import jobs_held
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add
from tests.orders.test_holds import _counts, _run_out

DECLINED, PAYING = {"card_number": "4000000000000002"}, {"card_number": "4242424242424242"}


def _place(client, variant, quantity: str | None = "2", **details) -> Order:
    if quantity:
        add(client, variant.id, quantity)
    placed = client.post("/checkout", data={**CHECKOUT, **details})
    assert placed.status_code == 302 and placed.location.endswith("/pay"), placed.status_code
    db.session.expire_all()
    return db.session.scalars(select(Order).order_by(Order.id.desc())).first()


def _emails_to(app, address: str) -> list[email.message.EmailMessage]:
    folder = Path(app.config["MAIL_OUTBOX"])
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def test_back_from_the_pay_page_finds_the_order_waiting_not_an_empty_cart(client, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant)
    back = client.get("/checkout")  # the page Back leads to: the cart is empty now
    assert back.status_code == 302 and back.location.endswith("/cart")
    page = client.get("/cart").get_data(as_text=True)
    assert "Your cart is empty" not in page
    assert f'Order <span class="nowrap">{order.number}</span> is waiting for payment' in page
    assert f'href="/orders/{order.token}/pay">Finish paying</a>' in page
    assert f'action="/orders/{order.token}/change"' in page and "Change details" in page
    assert _counts(variant.id) == (5, 2, 3)  # still held for this buyer

    assert client.post(f"/orders/{order.token}/pay", data=PAYING).status_code == 302
    page = client.get("/cart").get_data(as_text=True)
    assert "Finish paying" not in page and "Your cart is empty" in page  # paid: forgotten


def test_the_checkout_says_placing_another_order_cancels_the_waiting_one(client, ctx):
    """Issue 11 review, 5: only the cart page told it; the checkout, where the order is
    placed, now says so too, naming the order, with the ways to keep it."""
    first, other = stocked_variant(quantity=5), stocked_variant(quantity=5)
    db.session.commit()
    waiting = _place(client, first)
    add(client, other.id, "1")
    page = client.get("/checkout").get_data(as_text=True)
    assert f'Order <span class="nowrap">{waiting.number}</span> is waiting for payment' in page
    assert (f'Placing this order cancels order <span class="nowrap">{waiting.number}</span> '
            f"({money_text(waiting.total, 'USD')}): its items go back on sale") in page  # fmt: skip
    assert f'href="/orders/{waiting.token}/pay">Finish paying order' in page
    assert f'action="/orders/{waiting.token}/change"' in page
    assert "Add its items to this order" in page
    # what it said happens: the new order cancels the waiting one
    _place(client, other, quantity=None)
    db.session.expire_all()
    assert db.session.get(Order, waiting.id).status == OrderStatus.CANCELLED
    assert "is waiting for payment" not in client.get("/checkout").get_data(as_text=True)


def test_the_checkout_says_an_order_whose_payment_started_is_kept(client, ctx):
    """An order whose payment has started is never replaced (shop.orders.holds.end_unpaid):
    the checkout and the cart say the new order is a separate one."""
    first, other = stocked_variant(quantity=5), stocked_variant(quantity=5)
    db.session.commit()
    waiting = _place(client, first)
    assert client.post(f"/orders/{waiting.token}/pay", data=DECLINED).status_code == 402
    add(client, other.id, "1")
    page = client.get("/checkout").get_data(as_text=True)
    assert "Placing this order cancels" not in page
    assert "so placing this order does not cancel it: they are two separate orders" in page
    cart = client.get("/cart").get_data(as_text=True)
    assert "replaces this order" not in cart and "places a separate order" in cart
    _place(client, other, quantity=None)
    db.session.expire_all()
    assert db.session.get(Order, waiting.id).status == OrderStatus.PENDING_PAYMENT


def test_change_details_gives_the_hold_back_and_refills_the_cart_and_the_checkout(client, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant, shipping_method="express", postal_code="69002")
    add(client, variant.id, "2")  # the buyer found the cart empty and added it again
    changed = client.post(f"/orders/{order.token}/change")
    assert changed.status_code == 302 and changed.location.endswith("/checkout")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert _counts(variant.id) == (5, 0, 5)

    form = client.get("/checkout").get_data(as_text=True)
    assert f"{order.number} is cancelled and its items are back in your cart" in form
    assert 'value="buyer@example.com"' in form and 'value="Ana Buyer"' in form
    assert 'value="69002"' in form and '<option selected value="FR">' in form
    assert re.search(
        r'<input(?=[^>]*name="shipping_method")(?=[^>]*value="express")(?=[^>]*checked)', form
    )
    cart = client.get("/cart").get_data(as_text=True)
    assert 'value="2"' in cart and variant.product.name in cart and "Finish paying" not in cart

    again = _place(client, variant, None)
    assert again.id != order.id and again.lines[0].quantity == 2  # not 2 + 2
    assert _counts(variant.id) == (5, 2, 3)
    assert 'value="buyer@example.com"' not in client.get("/checkout").get_data(as_text=True)


def test_change_details_stops_a_started_payment_first(client, ctx):
    """A declined card started a payment (the rule of shop.orders.holds.end_unpaid keeps
    such an order); the gateway stops it, and only then is the order changed."""
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant)
    assert client.post(f"/orders/{order.token}/pay", data=DECLINED).status_code == 402
    assert client.post(f"/orders/{order.token}/change").location.endswith("/checkout")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
    statuses = db.session.scalars(select(Payment.status).where(Payment.order_id == order.id))
    assert list(statuses) == [PaymentStatus.FAILED]  # it can no longer take money
    assert _counts(variant.id) == (5, 0, 5)


def test_a_paid_order_is_not_changed(client, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant)
    client.post(f"/orders/{order.token}/pay", data=PAYING)
    refused = client.post(f"/orders/{order.token}/change", follow_redirects=True)
    assert "is paid already, so it can&#39;t be changed" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PAID
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_the_pay_page_shows_the_details_with_a_change_button(client, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant, address_line2="Flat 3", shipping_method="express")
    page = client.get(f"/orders/{order.token}/pay").get_data(as_text=True)
    # the address as the post of France writes it, as on the order page
    for shown in ("buyer@example.com", "Ana Buyer", "1 Road", "Flat 3", "69001 LYON", "FRANCE",
                  "Express courier (3 to 5 days): $25.00"):  # fmt: skip
        assert shown in page, shown
    assert f'action="/orders/{order.token}/change"' in page
    assert 'Change<span class="visually-hidden"> your details</span>' in page


def test_the_emailed_link_reaches_the_pay_page_and_says_when_the_order_is_closed(app, ctx):
    variant = stocked_variant(quantity=9)
    db.session.commit()
    buyer, other = app.test_client(), app.test_client()
    address = "waiting.buyer@example.com"
    with jobs_held(app) as drain:
        order = _place(buyer, variant, "1", email=address)
        drain()  # the reminder's minutes have passed
    [message] = _emails_to(app, address)
    assert message["Subject"] == f"Order {order.number} is waiting for payment"
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"Finish your order: (\S+)", text).group(1)
    assert link == f"http://localhost/orders/{order.token}/pay"  # PUBLIC_BASE_URL, the token
    assert "Total: $32.00" in text and "nothing is charged" in text
    path = link.removeprefix("http://localhost")
    page = other.get(path)  # another browser: the link alone is enough
    assert page.status_code == 200 and "Pay $32.00" in page.get_data(as_text=True)
    assert other.get(f"/orders/{order.token[:-2]}/pay").status_code == 404

    _run_out([order.id])
    assert other.post(f"/orders/{order.token}/change").status_code == 302  # the hold ran out
    closed = other.get(path).get_data(as_text=True)
    assert "can no longer be paid" in closed and "was cancelled, and nothing was charged" in closed

    expired = _place(buyer, variant, "1", email=address)
    _run_out([expired.id])
    client_of_worker = app.test_cli_runner()
    assert "Released" in client_of_worker.invoke(args=["orders", "expire"]).output
    page = other.get(f"/orders/{expired.token}/pay").get_data(as_text=True)
    assert "was not paid in time, so its items went back on sale" in page
    assert "Put its items back in your cart" in page

    paid = _place(buyer, variant, "1", email="another.buyer@example.com")
    buyer.post(f"/orders/{paid.token}/pay", data=PAYING)
    answer = other.get(f"/orders/{paid.token}/pay", follow_redirects=True)
    assert f"Order {paid.number} is paid already" in answer.get_data(as_text=True)


def test_the_waiting_email_goes_only_while_the_order_waits(app, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    slow, quick = "slow.payer@example.com", "quick.payer@example.com"
    with jobs_held(app) as drain:  # the worker is busy: one buyer pays before it runs
        waiting = _place(app.test_client(), variant, "1", email=slow)
        buyer = app.test_client()
        paid = _place(buyer, variant, "1", email=quick)
        buyer.post(f"/orders/{paid.token}/pay", data=PAYING)
        drain()
    assert [m["Subject"] for m in _emails_to(app, slow)] == [
        f"Order {waiting.number} is waiting for payment"
    ]
    assert [m["Subject"] for m in _emails_to(app, quick)] == [
        f"Your order {paid.number} from Made Known"
    ]


def test_the_waiting_emails_count_against_the_mailbox_limit(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAILBOX_EMAIL_LIMIT", "2 per hour")
    variant = stocked_variant(quantity=9)
    db.session.commit()
    address = "victim@example.com"  # anyone may type any address at checkout
    with jobs_held(app) as drain:
        for _ in range(4):
            _place(app.test_client(), variant, "1", email=address)
        drain()
    assert len(_emails_to(app, address)) == 2


def test_orders_cancelled_before_their_reminder_take_no_share_of_the_mailbox(app, ctx, monkeypatch):
    """Attack on issue 11, finding 4: four presses of "Place order" (or placing, changing
    the details and placing again) leave one order open; it gets its reminder even though
    the mailbox's share is three."""
    monkeypatch.setitem(app.config, "MAILBOX_EMAIL_LIMIT", "3 per hour")
    variant = stocked_variant(quantity=9)
    db.session.commit()
    address = "double.clicker@example.com"
    buyer = app.test_client()
    with jobs_held(app) as drain:
        for _ in range(3):
            changed = _place(buyer, variant, "1", email=address)
            assert buyer.post(f"/orders/{changed.token}/change").status_code == 302
        kept = _place(buyer, variant, None, email=address)
        drain()
    assert [m["Subject"] for m in _emails_to(app, address)] == [
        f"Order {kept.number} is waiting for payment"
    ]


def test_the_waiting_email_waits_a_few_minutes_for_the_buyer_to_pay(app, ctx):
    """A buyer who pays at once is not told their order is waiting: the reminder is due
    PAYMENT_REMINDER_MINUTES after placing, and a worker running every due job before
    then sends nothing."""
    variant = stocked_variant(quantity=5)
    db.session.commit()
    address = "prompt.payer@example.com"
    with jobs_held(app) as drain:
        order = _place(app.test_client(), variant, "1", email=address)
        drain(ignore_delays=False)
        assert _emails_to(app, address) == []
        job = db.session.scalars(
            select(Job).where(Job.kind == PAYMENT_WAITING).order_by(Job.id.desc())
        ).first()
        assert job.payload == {"order_id": order.id} and job.status == "pending"
        waits = as_utc(job.run_after) - as_utc(order.created_at)
        assert timedelta(minutes=2, seconds=55) <= waits <= timedelta(minutes=3, seconds=5)
        drain()  # three minutes later
    assert [m["Subject"] for m in _emails_to(app, address)] == [
        f"Order {order.number} is waiting for payment"
    ]


def test_signing_in_keeps_the_unpaid_order(client, ctx):
    variant = stocked_variant(quantity=5)
    f.user("customer", email="ana@example.org", password="the right password")
    db.session.commit()
    order = _place(client, variant)
    signed_in = client.post(
        "/login", data={"email": "ana@example.org", "password": "the right password"}
    )
    assert signed_in.status_code == 302
    page = client.get("/cart").get_data(as_text=True)
    assert f'href="/orders/{order.token}/pay">Finish paying</a>' in page


def test_a_card_sent_for_a_closed_order_is_answered_by_its_closed_page(client, ctx):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    order = _place(client, variant)
    _run_out([order.id])
    client.post(f"/orders/{order.token}/change")  # cancelled, in another tab
    sent = client.post(f"/orders/{order.token}/pay", data=PAYING)
    assert sent.status_code == 302 and sent.location.endswith(f"/orders/{order.token}/pay")
    page = client.get(sent.location).get_data(as_text=True)
    assert f"Order {order.number} was cancelled, and nothing was charged" in page
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
