"""Work on several orders at once (mark them shipped, print packing slips), and an order's
timeline with internal notes that only the back office ever sees."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.jobs.models import DEAD, Job
from shop.orders.holds import cancel_unpaid
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.notes import OrderNote
from shop.orders.notifications import confirm_after_commit
from shop.orders.shipping import ship_several, why_no_packing_slip, why_not_shippable
from shop.unit_of_work import commit
from tests.admin.test_form_errors import assert_error_pattern
from tests.confirming import confirmation_form, confirmed
from tests.conftest import client_as, jobs_held
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_payments import outbox
from tests.orders.test_unpaid_orders import PAYING
from tests.orders.test_unpaid_orders import _place as place_order
from tests.training.conftest import paid_order, refund

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin_client(app, ctx):
    return client_as(app, "admin")


def _status(order_id: int) -> tuple[OrderStatus, str]:
    order = db.session.scalars(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    ).one()
    return order.status, order.tracking_number


def _ship_notices(app) -> list[str]:
    return [m for m in outbox(app) if "is on its way" in m.splitlines()[0]]


def test_ticked_orders_are_reviewed_then_shipped_each_with_its_notice(app, admin_client):
    variant = stocked_variant(quantity=10)
    first, second, shipped = (paid_order([(variant, 1)]) for _ in range(3))
    unpaid = new_order([(variant, 1)])
    db.session.commit()
    admin_client.post(f"/admin/orders/{shipped.id}/ship", data={"tracking_number": "OLD-1"})
    ticked = [first.id, second.id, shipped.id, unpaid.id]
    notices = len(_ship_notices(app))

    review = admin_client.post("/admin/orders/ship", data={"order": ticked})
    page = review.get_data(as_text=True)
    assert review.status_code == 200
    assert f'name="tracking-{first.id}"' in page and f'name="tracking-{second.id}"' in page
    assert (
        f'name="tracking-{shipped.id}"' not in page and f'name="tracking-{unpaid.id}"' not in page
    )
    assert f"Order {shipped.number} is shipped: it cannot be shipped now." in page
    assert f"Order {unpaid.number} is waiting for payment" in page
    assert _status(first.id) == (OrderStatus.PAID, "")  # the review changes nothing

    confirm = {"confirm": "1", "order": [first.id, second.id], f"tracking-{first.id}": "LX-1"}
    missing = admin_client.post("/admin/orders/ship", data=confirm)
    assert missing.status_code == 400
    assert f"Enter the tracking number of order {second.number}" in missing.get_data(as_text=True)
    assert _status(first.id) == (OrderStatus.PAID, "")  # all numbers first, then shipping

    confirm[f"tracking-{second.id}"] = "LX-2"
    done = admin_client.post("/admin/orders/ship", data=confirm, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert f"Shipped 2 orders: {first.number}, {second.number}" in text
    assert _status(first.id) == (OrderStatus.FULFILLED, "LX-1")
    assert _status(second.id) == (OrderStatus.FULFILLED, "LX-2")
    sent = _ship_notices(app)[notices:]
    assert len(sent) == 2 and any("LX-1" in m for m in sent) and any("LX-2" in m for m in sent)
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.ship")).all()
    assert {(e.target_id, e.after["tracking_number"]) for e in audit} >= {
        (first.id, "LX-1"), (second.id, "LX-2"),
    }  # fmt: skip

    again = admin_client.post("/admin/orders/ship", data=confirm, follow_redirects=True)
    assert f"Not shipped: Order {first.number} is shipped" in again.get_data(as_text=True)
    assert len(_ship_notices(app)) == notices + 2  # pressed twice: each buyer told once
    assert _status(first.id) == (OrderStatus.FULFILLED, "LX-1")


def test_an_order_shipped_meanwhile_is_named_and_the_others_are_shipped(app, admin_client):
    variant = stocked_variant(quantity=10)
    mine, theirs = paid_order([(variant, 1)]), paid_order([(variant, 1)])
    db.session.commit()
    review = admin_client.post("/admin/orders/ship", data={"order": [mine.id, theirs.id]})
    assert f'name="tracking-{theirs.id}"' in review.get_data(as_text=True)
    # Another admin ships one of them from its own page before this one confirms.
    admin_client.post(f"/admin/orders/{theirs.id}/ship", data={"tracking_number": "OTHER"})
    notices = len(_ship_notices(app))
    done = admin_client.post("/admin/orders/ship", follow_redirects=True, data={
        "confirm": "1", "order": [mine.id, theirs.id],
        f"tracking-{mine.id}": "MINE", f"tracking-{theirs.id}": "LATE",
    })  # fmt: skip
    text = done.get_data(as_text=True)
    assert f"Shipped 1 order: {mine.number}" in text
    assert f"Not shipped: Order {theirs.number} is shipped: it cannot be shipped now." in text
    assert _status(mine.id) == (OrderStatus.FULFILLED, "MINE")
    assert _status(theirs.id) == (OrderStatus.FULFILLED, "OTHER")  # never overwritten
    assert len(_ship_notices(app)) == notices + 1


def test_shipping_several_never_half_writes_an_order(app, ctx):
    """The service itself: a refused order keeps every column and gets no job or audit
    entry, while the others in the same call are shipped."""
    variant = stocked_variant(quantity=10)
    good, bad = paid_order([(variant, 1)]), paid_order([(variant, 1)])
    db.session.commit()
    jobs_before = db.session.scalar(select(func.count(Job.id)))
    with app.test_request_context():
        done = ship_several({good.id: "OK-1", bad.id: "x" * 81, 999_999: "NOPE"})
        db.session.flush()
    assert done.shipped == [good.number]
    assert any("at most 80 characters" in why for why in done.refused)
    assert "There is no order #999999." in done.refused
    assert _status(bad.id) == (OrderStatus.PAID, "")
    assert _status(good.id) == (OrderStatus.FULFILLED, "OK-1")
    notices = db.session.scalars(select(Job).where(Job.id > 0, Job.kind == "shipping_notice")).all()
    assert [
        j.payload["order_id"] for j in notices if j.payload["order_id"] in (good.id, bad.id)
    ] == [good.id]
    assert db.session.scalar(select(func.count(Job.id))) == jobs_before + 1
    entries = db.session.scalars(
        select(AuditEntry.target_id).where(AuditEntry.action == "order.ship")
    ).all()
    assert bad.id not in entries and good.id in entries
    db.session.rollback()


def test_bad_selections_are_refused_with_a_message(admin_client):
    nothing = admin_client.post("/admin/orders/ship", data={}, follow_redirects=True)
    assert "Tick at least one order first." in nothing.get_data(as_text=True)
    garbled = admin_client.post("/admin/orders/packing-slips", data={"order": ["1", "x"]},
                                follow_redirects=True)  # fmt: skip
    assert "were not understood" in garbled.get_data(as_text=True)
    too_many = admin_client.post("/admin/orders/ship", data={"order": list(range(1, 102))},
                                 follow_redirects=True)  # fmt: skip
    assert "Tick at most 100 orders at once." in too_many.get_data(as_text=True)
    away = admin_client.post("/admin/orders/ship", data={"back": "https://evil.example/"})
    assert away.headers["Location"].endswith("/admin/orders")
    kept = admin_client.post("/admin/orders/ship", data={"back": "/admin/orders?status=paid"})
    assert kept.headers["Location"].endswith("/admin/orders?status=paid")


def test_packing_slips_one_page_per_order_with_address_items_and_batches(admin_client):
    variant = stocked_variant(quantity=10)
    other = stocked_variant(quantity=10)
    first = paid_order([(variant, 2), (other, 1)])
    second = paid_order([(other, 3)])
    first.name, first.address_line1 = "Mia Slip", "7 Print Lane"
    db.session.commit()
    batch_of = {v.id: v.batches[0].code for v in (variant, other)}
    response = admin_client.post(
        "/admin/orders/packing-slips", data={"order": [first.id, second.id]}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    slips = page.split('<article class="packing-slip"')[1:]
    assert len(slips) == 2
    assert first.number in slips[0] and second.number in slips[1]
    assert (
        "Mia Slip" in slips[0] and "7 Print Lane" in slips[0] and "69001 LYON" in slips[0]
    )  # as the French post writes it
    rows = re.findall(
        r"<tr>\s*<td>(.*?)</td>.*?<td class=\"num\">(\d+)</td>\s*<td>(.*?)</td>", slips[0], re.S
    )
    assert [(qty, codes) for _name, qty, codes in rows] == [
        ("2", batch_of[variant.id]), ("1", batch_of[other.id]),
    ]  # fmt: skip
    assert batch_of[other.id] in slips[1] and ">3<" in slips[1]
    assert "@" not in "".join(slips)  # no email address on paper in the parcel
    css = (ROOT / "static/css/site.css").read_text()
    printing = css[css.index("@media print") :]
    assert re.search(r"\.packing-slip \{[^}]*break-after: page", printing)


def _orders_that_cannot_ship(variant) -> dict[str, Order]:
    """A cancelled order, one waiting for payment, one refunded in full before shipping,
    beside one to ship and one shipped already (committed)."""
    cancelled, waiting = new_order([(variant, 1)]), new_order([(variant, 1)])
    cancel_unpaid(cancelled)
    to_ship, shipped, refunded = (paid_order([(variant, 1)]) for _ in range(3))
    shipped.status, shipped.tracking_number = OrderStatus.FULFILLED, "OLD-1"
    refund(refunded)  # everything: the whole order's money went back
    db.session.commit()
    return {"cancelled": cancelled, "waiting": waiting, "refunded": refunded,
            "to_ship": to_ship, "shipped": shipped}  # fmt: skip


def test_a_packing_slip_is_for_an_order_with_something_to_ship_in_bulk_shippings_words(ctx):
    """The service: an order that can ship, or was shipped (a slip printed again), has a
    slip; the others are refused with the words bulk shipping uses for them."""
    o = _orders_that_cannot_ship(stocked_variant(quantity=10))
    assert why_no_packing_slip(o["to_ship"]) is None and why_no_packing_slip(o["shipped"]) is None
    for kind in ("cancelled", "waiting", "refunded"):
        assert why_no_packing_slip(o[kind]) == why_not_shippable(o[kind]) is not None, kind
    assert why_no_packing_slip(o["refunded"]) == (
        f"Order {o['refunded'].number} was refunded in full, so there is nothing to ship."
    )
    assert why_no_packing_slip(o["cancelled"]) == (
        f"Order {o['cancelled'].number} is cancelled: it cannot be shipped now."
    )
    o["shipped"].refunded_amount = o["shipped"].total  # sent back and refunded: nothing to pack
    assert why_no_packing_slip(o["shipped"]) == (
        f"Order {o['shipped'].number} was refunded in full, so there is nothing to ship."
    )
    db.session.rollback()


def test_packing_slips_leave_out_orders_that_cannot_ship_and_say_why(admin_client):
    o = _orders_that_cannot_ship(stocked_variant(quantity=10))
    ticked = [o[k].id for k in ("cancelled", "waiting", "refunded", "to_ship", "shipped")]
    response = admin_client.post("/admin/orders/packing-slips", data={"order": [*ticked, 999_999]})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    slips = page.split('<article class="packing-slip"')[1:]
    assert [o["to_ship"].number in slips[0], o["shipped"].number in slips[1]] == [True, True]
    assert len(slips) == 2 and "not allocated yet" not in page
    review = admin_client.post("/admin/orders/ship", data={"order": ticked}).get_data(as_text=True)
    left_out = page[page.index("Left out") : page.index('<article class="packing-slip"')]
    for kind in ("cancelled", "waiting", "refunded"):
        why = why_not_shippable(o[kind])
        assert html.escape(why) in left_out and html.escape(why) in review, kind
    assert "There is no order #999999." in left_out
    assert o["to_ship"].number not in left_out and o["shipped"].number not in left_out

    none = admin_client.post(
        "/admin/orders/packing-slips",
        data={"order": [o[k].id for k in ("cancelled", "waiting", "refunded")]},
    )
    text = none.get_data(as_text=True)
    assert "No packing slip to print: none of the ticked orders has anything to ship." in text
    assert '<article class="packing-slip"' not in text
    assert text.count("<li>Order ") == 3


def test_bulk_forms_carry_and_need_the_csrf_token(csrf_app):
    with csrf_app.app_context():
        order = paid_order([(stocked_variant(quantity=3), 1)])
        client = client_as(csrf_app, "admin")
        db.session.commit()
        order_id = order.id
    page = client.get("/admin/orders").get_data(as_text=True)
    form = page[page.index('<form method="post"') :]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    for path in ("/admin/orders/ship", "/admin/orders/packing-slips"):
        refused = client.post(path, data={"order": [order_id]})
        assert refused.status_code == 400 and "This form has expired" in refused.get_data(
            as_text=True
        )
        assert client.post(path, data={"order": [order_id], "csrf_token": token}).status_code == 200
    note = client.post(f"/admin/orders/{order_id}/notes", data={"body": "hello"})
    assert note.status_code == 400
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count(OrderNote.id))) == 0


def _timeline(client, order_id: int) -> str:
    page = client.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    return page[
        page.index('<ol class="order-timeline">') : page.index(
            "</ol>", page.index('<ol class="order-timeline">')
        )
    ]


def test_the_timeline_tells_the_orders_story_and_notes_stay_in_the_back_office(app, admin_client):
    order = paid_order([(stocked_variant(quantity=5, price=2000), 2)])
    confirm_after_commit(order)  # as the pay page does
    commit()  # and the job runs, as after any commit in the tests
    admin_client.post(f"/admin/orders/{order.id}/ship", data={"tracking_number": "TRK-9"})
    confirmed(admin_client, f"/admin/orders/{order.id}/refund/confirm",
              {"request_key": "k1", f"line-{order.lines[0].id}": "5.00", "reason": "Scuffed"})  # fmt: skip
    secret = "Buyer phoned: leave the parcel with the neighbour at no. 12"
    added = admin_client.post(f"/admin/orders/{order.id}/notes", data={"body": secret},
                              follow_redirects=True)  # fmt: skip
    assert "Note added" in added.get_data(as_text=True)

    events = _timeline(admin_client, order.id)
    titles = re.findall(r"<strong>([^<]+)</strong>", events)
    assert titles == [
        "Placed", "Paid", "Email sent: Order confirmation", "Shipped",
        "Email sent: Shipping notice", "Refund of $5.00", "Email sent: Refund notice",
        "Internal note",
    ]  # fmt: skip
    assert "tracking TRK-9" in events and "Scuffed" in events and secret in events
    assert f"by {admin_client.person.label}" in events

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "order.note")).one()
    assert entry.target_id == order.id and secret not in str(entry.summary) + str(entry.after)
    buyer_page = app.test_client().get(f"/orders/{order.token}").get_data(as_text=True)
    assert secret not in buyer_page and "neighbour" not in buyer_page
    assert not any("neighbour" in mail for mail in outbox(app))

    empty = admin_client.post(f"/admin/orders/{order.id}/notes", data={"body": "   "},
                              follow_redirects=True)  # fmt: skip
    assert "Write the note first." in empty.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OrderNote.id))) == 1


def test_an_email_that_could_not_be_sent_says_so(app, admin_client):
    order = paid_order([(stocked_variant(quantity=2), 1)])
    confirm_after_commit(order)
    db.session.commit()  # not unit_of_work's: its job is not run
    job = db.session.scalars(
        select(Job).where(Job.kind == "order_confirmation").order_by(Job.id.desc())
    ).first()
    job.status, job.attempts = DEAD, 10
    db.session.commit()
    assert "Email not sent: Order confirmation" in _timeline(admin_client, order.id)
    assert "gave up after 10 tries" in _timeline(admin_client, order.id)


def test_the_timeline_tells_whether_the_payment_reminder_went(app, admin_client):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    with jobs_held(app) as drain:
        waiting = place_order(app.test_client(), variant, "1", email="slow@example.com")
        buyer = app.test_client()
        prompt = place_order(buyer, variant, "1", email="prompt@example.com")
        buyer.post(f"/orders/{prompt.token}/pay", data=PAYING)
        assert "Email waiting to be sent: Payment reminder" in _timeline(admin_client, waiting.id)
        drain()  # the reminder's minutes passed: one order still waited, one was paid
    assert "Email sent: Payment reminder" in _timeline(admin_client, waiting.id)
    told = _timeline(admin_client, prompt.id)
    assert "Payment reminder not sent" in told and "the order was paid first" in told
    assert "Email sent: Payment reminder" not in told


def test_the_order_page_costs_the_same_statements_however_long_its_story(
    app, admin_client, count_queries
):
    order = paid_order([(stocked_variant(quantity=5), 1)])
    db.session.commit()

    def statements() -> int:
        with count_queries() as counter:
            assert admin_client.get(f"/admin/orders/{order.id}").status_code == 200
        return counter.count

    def refund(key: str) -> None:
        line = f"line-{order.lines[0].id}"
        admin_client.post(
            f"/admin/orders/{order.id}/refund", data={"request_key": key, line: "1.00"}
        )

    admin_client.post(f"/admin/orders/{order.id}/notes", data={"body": "first note"})
    admin_client.post(f"/admin/orders/{order.id}/ship", data={"tracking_number": "T"})
    refund("r0")
    short = statements()
    for i in range(15):
        admin_client.post(f"/admin/orders/{order.id}/notes", data={"body": f"note {i}"})
    for i in range(1, 4):
        refund(f"r{i}")
    long = statements()
    assert _timeline(admin_client, order.id).count("Internal note") == 16
    assert short == long


def test_a_customer_cannot_add_or_read_notes(app, ctx):
    order = paid_order([(stocked_variant(quantity=2), 1)])
    customer = client_as(app, "customer")
    db.session.commit()
    assert customer.post(f"/admin/orders/{order.id}/notes", data={"body": "x"}).status_code == 403
    anonymous = app.test_client()
    assert anonymous.post(f"/admin/orders/{order.id}/notes", data={"body": "x"}).status_code == 302
    assert db.session.scalar(select(func.count(OrderNote.id))) == 0


def test_a_note_too_long_is_refused_beside_its_field_and_kept_as_typed(app, admin_client):
    order = paid_order([(stocked_variant(quantity=2), 1)])
    db.session.commit()
    typed = "Buyer called about the parcel; " * 70  # 2,170 characters
    response = admin_client.post(f"/admin/orders/{order.id}/notes", data={"body": typed})
    length = len(typed.strip())
    page = assert_error_pattern(response, [(
        "note-body",
        f"A note is at most 2,000 characters; this one has {length:,}. Shorten it, or add it "
        "as two notes.",
    )])  # fmt: skip
    assert f"<h1>Order {order.number}</h1>" in page  # the order page, answered at once
    textarea = re.search(r'<textarea[^>]*id="note-body"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea.group(1).strip() == typed.strip()  # nothing typed is lost
    assert db.session.scalar(select(func.count(OrderNote.id))) == 0
    assert "Internal note" not in _timeline(admin_client, order.id)  # no note was added


def test_the_order_page_names_the_shipping_method_as_the_buyer_chose_it(admin_client):
    order = paid_order([(stocked_variant(quantity=2), 1)])
    db.session.commit()
    page = admin_client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert f"{order.email} · Standard post (7 to 14 days)" in page
    assert "· standard<" not in page
    for path in ("/admin/orders/ship", "/admin/orders/packing-slips"):
        listed = admin_client.post(path, data={"order": [order.id]}).get_data(as_text=True)
        assert (
            "Standard post (7 to 14 days)" in listed and "standard shipping" not in listed.lower()
        )


def test_cancelling_says_why_an_order_cannot_be_cancelled(app, admin_client):
    variant = stocked_variant(quantity=10)
    unpaid, expired = new_order([(variant, 1)]), new_order([(variant, 1)])
    paid, shipped, refunded = (paid_order([(variant, 1)]) for _ in range(3))
    expired.status = OrderStatus.EXPIRED
    shipped.status = OrderStatus.FULFILLED
    refund(refunded)
    db.session.commit()
    # Two confirmation pages of one order (two tabs): the first cancels it, the second is
    # told it is cancelled already.
    first = confirmation_form(admin_client.get(f"/admin/orders/{unpaid.id}/cancel"))
    second = confirmation_form(admin_client.get(f"/admin/orders/{unpaid.id}/cancel"))
    assert admin_client.post(first[0], data=first[1]).status_code == 302
    again = admin_client.post(second[0], data=second[1], follow_redirects=True)
    assert f"Order {unpaid.number} is cancelled already." in again.get_data(as_text=True)
    assert _status(unpaid.id)[0] == OrderStatus.CANCELLED
    assert db.session.get(Order, refunded.id).refund_status == RefundStatus.FULL
    for order, why in (
        (unpaid, "is cancelled already."),
        (expired, "expired unpaid, so it is closed already: its held units went back on sale."),
        (paid, "is paid, so it cannot be cancelled: refund it instead."),
        (shipped, "was shipped, so it cannot be cancelled: refund it instead."),
        (refunded, "was paid and refunded in full: there is nothing to cancel."),
    ):
        told = admin_client.get(f"/admin/orders/{order.id}/cancel", follow_redirects=True)
        text = told.get_data(as_text=True)
        assert f"Order {order.number} {why}" in text, order.status
        assert "Only an unpaid order" not in text
        assert "Cancel this unpaid order" not in text  # no button offering it
