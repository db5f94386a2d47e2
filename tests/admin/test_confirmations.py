"""Money moves only through a confirmation page (issue 11, item 9; removing an image is
tested with the gallery, in test_product_editor.py): refunds, cancelling an
order, paying a withdrawal, posting a correction and removing an image each show what
will happen first; the action refuses a request that did not come through that page
(no token, an altered one, an expired one, someone else's, one for another target),
changing nothing, and the page's button acts once however often it is pressed."""

from __future__ import annotations

import html
import re

import pytest
from flask_login import login_user
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from shop import confirmations
from shop.accounts.models import User
from shop.audit.models import AuditEntry
from shop.confirmations import LIFETIME, UsedConfirmation, forget_used
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Refund
from shop.timeutil import utcnow
from shop.training.models import CorrectionRequest, Transfer, TransferKind, WithdrawalPurpose
from shop.training.services import propose_correction, request_withdrawal
from tests import factories as f
from tests.confirming import confirmation_form, confirmed
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant
from tests.store_state import changes, store_state
from tests.training.conftest import balance_of, one_maker_sale


def _text(response) -> str:
    """What the page says: its words, tags left out."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def _refund_page(client, order, **form):
    data = {"request_key": "k1", **form}
    return client.post(f"/admin/orders/{order.id}/refund/confirm", data=data)


# --- Refunds ----------------------------------------------------------------------------


def test_the_refund_page_says_what_will_be_refunded_and_writes_nothing(app, ctx):
    _maker, product, order = one_maker_sale(stock=5, sold=2, price=1500)
    line = order.lines[0]
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()
    page = _refund_page(admin, order, **{f"line-{line.id}": "5.00", "include_shipping": "y",
                                         "reason": "Torn seam"})  # fmt: skip
    body = _text(page)
    shipping = f"${order.shipping / 100:.2f}"
    total = f"${(500 + order.shipping) / 100:.2f}"
    assert page.status_code == 200
    assert f"Refund {total} on {order.number} through the test-mode gateway" in body
    assert f"{product.name} ({line.sku})" in body and "$5.00" in body and shipping in body
    assert "Torn seam" in body and f"Yes, refund {total}" in body
    assert changes(before, store_state()) == {}  # only a page: nothing written

    order.gateway = "stripe"  # what the page names is the order's own gateway
    db.session.commit()
    stripe = _text(_refund_page(admin, order, **{f"line-{line.id}": "5.00"}))
    assert f"Refund $5.00 on {order.number} through Stripe?" in stripe


def test_a_refund_that_cannot_be_made_is_refused_before_its_confirmation_page(app, ctx):
    _maker, _product, order = one_maker_sale(stock=5, sold=1, price=1500)
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()
    too_much = _refund_page(admin, order, **{f"line-{order.lines[0].id}": "99.00"})
    assert too_much.status_code == 400 and confirmation_form(too_much) is None
    assert "at most $15.00 can still be refunded" in _text(too_much)
    nothing = _refund_page(admin, order)
    assert nothing.status_code == 400 and "Enter an amount for at least one line" in _text(nothing)
    assert changes(before, store_state()) == {}


def test_a_refund_without_its_confirmation_changes_nothing(app, ctx):
    _maker, _product, order = one_maker_sale(stock=5, sold=2, price=1500)
    db.session.commit()
    admin, other = client_as(app, "admin"), client_as(app, "admin")
    action, fields = confirmation_form(_refund_page(admin, order, everything="y"))
    token, elsewhere = fields["confirmation"], _cancel_token(app, admin)
    before = store_state()
    cases = {
        "no token (the old form, a forged post)": ({}, admin, "needs its confirmation page"),
        "an altered token": ({"confirmation": token[:-2] + "xx"}, admin, "needs its confirmation page"),
        "another admin's": ({"confirmation": token}, other, "made for something else"),
        "a token of another action": ({"confirmation": elsewhere}, admin,
                                      "made for something else"),
    }  # fmt: skip
    for name, (data, client, message) in cases.items():
        answer = client.post(action, data=data)
        assert answer.status_code == 400, name
        assert message in _text(answer) and "nothing was changed" in _text(answer), name
    assert changes(before, store_state()) == {}
    assert admin.post(action, data=fields).status_code == 302  # the right one still acts
    assert db.session.scalar(select(func.count(Refund.id))) == 1


def _cancel_token(app, client) -> str:
    unpaid = new_order([(stocked_variant(quantity=2), 1)])
    db.session.commit()
    return confirmation_form(client.get(f"/admin/orders/{unpaid.id}/cancel"))[1]["confirmation"]


def test_an_expired_confirmation_changes_nothing(app, ctx, monkeypatch):
    _maker, _product, order = one_maker_sale(stock=5, sold=2, price=1500)
    db.session.commit()
    admin = client_as(app, "admin")

    class Earlier(TimestampSigner):  # signs as if the page was opened 10 minutes ago
        def get_timestamp(self) -> int:
            return super().get_timestamp() - int(LIFETIME.total_seconds()) - 5

    with app.test_request_context(), monkeypatch.context() as patched:
        login_user(db.session.get(User, admin.person.id))
        patched.setattr(confirmations, "_serializer", lambda: URLSafeTimedSerializer(
            app.secret_key, salt=confirmations.SALT, signer=Earlier))  # fmt: skip
        token = confirmations.confirmation_token("order.refund", order.id, order.total,
                                                 {"lines": None, "shipping": True})  # fmt: skip
    before = store_state()
    answer = admin.post(f"/admin/orders/{order.id}/refund", data={"confirmation": token})
    assert answer.status_code == 400 and "longer than 10 minutes" in _text(answer)
    assert changes(before, store_state()) == {}


def test_a_refund_confirmed_twice_refunds_and_reverses_once(app, ctx):
    maker, _product, order = one_maker_sale(stock=5, sold=2, price=2000)  # share 400
    db.session.commit()
    admin = client_as(app, "admin")
    action, fields = confirmation_form(
        _refund_page(admin, order, **{f"line-{order.lines[0].id}": "20.00"})
    )
    first = admin.post(action, data=fields)
    assert first.status_code == 302
    after_first = store_state()
    second = admin.post(action, data=fields)  # a double click, or Back and press again
    assert second.status_code == 409
    assert "already used" in _text(second) and "it acted once only" in _text(second)
    assert changes(after_first, store_state()) == {}
    assert db.session.scalar(select(func.count(Refund.id))) == 1
    reversed_ = db.session.scalar(
        select(func.sum(Transfer.amount)).where(Transfer.kind == TransferKind.REFUND_REVERSAL)
    )
    assert reversed_ == 200 and balance_of(maker) == 200
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("order.refund") == 1


def test_a_refund_whose_amount_changed_after_its_page_refunds_nothing(app, ctx):
    """The token names the amount shown: if another refund took some of it meanwhile,
    pressing the button refunds nothing and says so."""
    _maker, _product, order = one_maker_sale(stock=5, sold=2, price=2000)
    db.session.commit()
    admin = client_as(app, "admin")
    action, fields = confirmation_form(_refund_page(admin, order, everything="y"))
    confirmed(admin, f"/admin/orders/{order.id}/refund/confirm",
              {"request_key": "meanwhile", f"line-{order.lines[0].id}": "5.00"})  # fmt: skip
    before = store_state()
    answer = admin.post(action, data=fields, follow_redirects=True)
    assert "changed after the confirmation page" in _text(answer)
    assert "Nothing was refunded" in _text(answer)
    assert changes(before, store_state()) == {}
    assert db.session.scalar(select(func.sum(Refund.amount))) == 500


# --- Cancelling ------------------------------------------------------------------------


def test_cancelling_an_order_goes_through_its_confirmation_page_once(app, ctx):
    variant = stocked_variant(quantity=5)
    unpaid = new_order([(variant, 2)])
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()
    assert admin.post(f"/admin/orders/{unpaid.id}/cancel").status_code == 400
    page = admin.get(f"/admin/orders/{unpaid.id}/cancel")
    assert f"Cancel unpaid order {unpaid.number}?" in _text(page)
    assert changes(before, store_state()) == {}  # neither the refusal nor the page wrote
    action, fields = confirmation_form(page)
    assert admin.post(action, data=fields).status_code == 302
    assert db.session.get(Order, unpaid.id).status == OrderStatus.CANCELLED
    after = store_state()
    assert admin.post(action, data=fields).status_code == 409
    assert changes(after, store_state()) == {}


# --- Withdrawals and corrections -------------------------------------------------------


@pytest.fixture
def requests_to_decide(ctx):
    maker, _product, _order = one_maker_sale(stock=10, sold=5, price=1000)  # 500 credited
    maker.legal_name = "Private Legalname"
    requester = f.user("staff")
    withdrawal = request_withdrawal(
        trainee_id=maker.id, amount=150, purpose=WithdrawalPurpose.COURSE_FEES,
        payee="Phnom Penh Sewing Institute", details="Pattern cutting, term 2",
        requested_by=requester,
    )  # fmt: skip
    correction, _ = propose_correction(trainee_id=maker.id, amount=-40, reason="Counted twice",
                                       proposed_by=requester, request_key="c-1")  # fmt: skip
    db.session.commit()
    return maker, withdrawal, correction


def test_paying_a_withdrawal_says_to_whom_from_whose_account_and_pays_once(
    app, ctx, requests_to_decide
):
    maker, withdrawal, _ = requests_to_decide
    approver = client_as(app, "staff")
    before = store_state()
    refused = approver.post(f"/staff/withdrawals/{withdrawal.id}/approve")
    assert refused.status_code == 400 and "needs its confirmation page" in _text(refused)
    page = approver.get(f"/staff/withdrawals/{withdrawal.id}/approve")
    body = _text(page)
    assert (f"Pay $1.50 to Phnom Penh Sewing Institute from trainee {maker.code}’s account?"
            in body)  # fmt: skip
    assert "Pattern cutting, term 2" in body and "$5.00" in body and "$3.50" in body
    assert "Private Legalname" not in body  # the code names her here
    assert changes(before, store_state()) == {}
    action, fields = confirmation_form(page)
    assert approver.post(action, data=fields).status_code == 302
    assert balance_of(maker) == 350
    after = store_state()
    again = approver.post(action, data=fields)
    assert again.status_code == 409 and "acted once only" in _text(again)
    assert changes(after, store_state()) == {} and balance_of(maker) == 350


def test_a_withdrawals_confirmation_pays_no_other_withdrawal(app, ctx, requests_to_decide):
    maker, withdrawal, _ = requests_to_decide
    other = request_withdrawal(trainee_id=maker.id, amount=100, purpose=WithdrawalPurpose.MATERIALS,
                               payee="Supplier", details="", requested_by=f.user("staff"))  # fmt: skip
    db.session.commit()
    approver = client_as(app, "staff")
    _, fields = confirmation_form(approver.get(f"/staff/withdrawals/{withdrawal.id}/approve"))
    before = store_state()
    answer = approver.post(f"/staff/withdrawals/{other.id}/approve", data=fields)
    assert answer.status_code == 400 and "made for something else" in _text(answer)
    assert changes(before, store_state()) == {}


def test_posting_a_correction_goes_through_its_confirmation_page_once(app, ctx, requests_to_decide):
    maker, _, correction = requests_to_decide
    approver = client_as(app, "staff")
    before = store_state()
    assert approver.post(f"/staff/corrections/{correction.id}/approve").status_code == 400
    page = approver.get(f"/staff/corrections/{correction.id}/approve?back=trainee")
    assert f"Take $0.40 back from trainee {maker.code}’s account?" in _text(page)
    assert "Private Legalname" not in _text(page)
    assert changes(before, store_state()) == {}
    action, fields = confirmation_form(page)
    done = approver.post(action, data=fields)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/trainees/{maker.id}")
    assert balance_of(maker) == 460
    assert db.session.get(CorrectionRequest, correction.id).status.value == "approved"
    after = store_state()
    assert approver.post(action, data=fields).status_code == 409
    assert changes(after, store_state()) == {}


def test_whoever_asked_is_not_offered_the_confirmation(app, ctx, requests_to_decide):
    _, withdrawal, correction = requests_to_decide
    requester = app.test_client()
    from tests.conftest import sign_in

    sign_in(requester, withdrawal.requested_by)
    for url in (f"/staff/withdrawals/{withdrawal.id}/approve",
                f"/staff/corrections/{correction.id}/approve"):  # fmt: skip
        answer = requester.get(url, follow_redirects=True)
        assert confirmation_form(answer) is None
        assert "another staff member must approve it" in _text(answer)


# --- Housekeeping ----------------------------------------------------------------------


def test_used_confirmations_are_forgotten_once_they_could_not_be_used_anyway(app, ctx):
    now = utcnow()
    db.session.add_all([
        UsedConfirmation(nonce="old", action="order.refund", used_at=now - LIFETIME * 2),
        UsedConfirmation(nonce="fresh", action="order.refund", used_at=now),
    ])  # fmt: skip
    db.session.flush()
    assert forget_used(now) == 1
    assert db.session.scalars(select(UsedConfirmation.nonce)).all() == ["fresh"]
