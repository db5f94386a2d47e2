"""After a refund the buyer is told what it took back of the training share, on the
order page and in a refund email sent once per refund, whoever made it (the back office,
the command, the Stripe dashboard), however often the webhook repeats it."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from shop.extensions import db
from shop.orders.gateway_events import apply_gateway_event
from shop.orders.gateways import DummyGateway, GatewayEvent
from shop.orders.models import Order
from shop.orders.payments import payment_succeeded
from shop.orders.refunds import refund_order
from shop.provenance.models import Trainee
from shop.unit_of_work import commit
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant, stripe_event
from tests.orders.test_payments import post_event
from tests.orders.test_refunds import _paid_stripe_order, charge, refund_object

# A line of $24.00 at a 10 % share: $2.40 went to the makers' training accounts.
SHARE_SENTENCE = "$2.40 of this order went to the makers' training accounts;"


def _paid(reference: str):
    variant = stocked_variant(price=2400, makers=2)
    order = new_order([(variant, 1)])
    payment_succeeded(
        order, gateway_name="dummy", reference=reference, amount=order.total, currency="USD"
    )
    db.session.commit()
    return order, variant


def refund_mails(app, number: str) -> list[email.message.EmailMessage]:
    folder = Path(app.config["MAIL_OUTBOX"])
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else ():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["Subject"].startswith("Refund of") and message["Subject"].endswith(number):
            found.append(message)
    return found


def _texts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def test_a_partial_refund_is_told_on_the_order_page_and_in_one_email(app, ctx):
    order, _variant = _paid("dummy_pi_n1")
    line_id, token, number = order.lines[0].id, order.token, order.number
    names = [t.legal_name for t in db.session.query(Trainee).all()]
    admin = client_as(app, "admin")
    response = confirmed(
        admin,
        f"/admin/orders/{order.id}/refund/confirm",
        data={"request_key": "n1", f"line-{line_id}": "10.00"},
    )
    assert response.status_code == 302

    page = app.test_client().get(f"/orders/{token}").get_data(as_text=True)
    told = SHARE_SENTENCE + " $1.00 was taken back with the refund, so $1.40 stays with them."
    assert told in page
    assert "goes to the training accounts" not in page  # the sentence of before the refund

    (mail,) = refund_mails(app, number)
    assert mail["Subject"] == f"Refund of $10.00 on order {number}"
    for text in _texts(mail):
        assert "We refunded $10.00" in text and "$10.00 of $" in text
        assert "$1.00 was taken back with the refund" in text
        assert not any(name in text for name in names)  # never who made it


def test_a_whole_refund_tells_all_of_the_share_was_taken_back(app, ctx):
    order, _variant = _paid("dummy_pi_n2")
    token, number = order.token, order.number
    result = app.test_cli_runner().invoke(args=["orders", "refund", number])
    assert result.exit_code == 0, result.output
    page = app.test_client().get(f"/orders/{token}").get_data(as_text=True)
    assert SHARE_SENTENCE + " all of it was taken back with the refund." in page
    (mail,) = refund_mails(app, number)  # the command tells the buyer too
    assert "all of it was taken back with the refund" in _texts(mail)[0]


def test_a_dashboard_refund_is_told_once_however_often_the_webhook_repeats_it(stripe_app):
    client = stripe_app.test_client()
    with stripe_app.app_context():
        order = _paid_stripe_order(client)
        total, number = order.total, order.number
        events = [
            stripe_event("evt_n1", "refund.created", refund_object("re_n1", 1000)),
            stripe_event("evt_n2", "refund.updated", refund_object("re_n1", 1000)),
            stripe_event("evt_n3", "charge.refunded", charge(1000, total)),
        ]
        for event in events + events:  # and every event delivered twice
            assert post_event(client, event).status_code == 200
        (mail,) = refund_mails(stripe_app, number)
        assert mail["Subject"] == f"Refund of $10.00 on order {number}"
        # a second refund, first known by its charge's total only, then by its id: one email
        post_event(client, stripe_event("evt_n4", "charge.refunded", charge(1500, total)))
        post_event(client, stripe_event("evt_n5", "refund.created", refund_object("re_n2", 500)))
        subjects = [m["Subject"] for m in refund_mails(stripe_app, number)]
        assert subjects == [f"Refund of $10.00 on order {number}",
                            f"Refund of $5.00 on order {number}"]  # fmt: skip


def test_a_store_refund_the_webhook_books_first_is_told_once(app, ctx):
    order, _variant = _paid("dummy_pi_n3")
    line_id, number = order.lines[0].id, order.number

    class WebhookFirst(DummyGateway):
        def refund(self, **kwargs):
            made = super().refund(**kwargs)
            event = GatewayEvent("evt_n6", "refunds_changed", kwargs["reference"], refunds=(made,))
            apply_gateway_event("dummy", event)  # as the webhook's job does
            commit()  # and its emails go after the commit
            return made

    done = refund_order(order.id, WebhookFirst(), line_amounts={line_id: 300})
    db.session.commit()
    assert done.to_tell is None  # booked by the webhook, which told the buyer
    assert len(refund_mails(app, number)) == 1
    assert db.session.get(Order, order.id).refunded_amount == 300
