"""Withdrawals in the institution's currency (issue 14): the local amount, the rate staff
typed (its source and date) and the converted amount are kept; the ledger posts the
converted amount, rounded down; the pages and the CSV show both; a rate more than 10 %
from the last one for its currency asks to be confirmed first."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from shop.extensions import db
from shop.timeutil import today
from shop.training.accounts import TrainingError
from shop.training.exchange import MAX_RATE_AGE_DAYS
from shop.training.models import Transfer, Withdrawal, WithdrawalPurpose, WithdrawalStatus
from shop.training.services import (
    RateNeedsConfirmation,
    approve_withdrawal,
    reject_withdrawal,
    request_withdrawal,
)
from tests import factories as f
from tests.confirming import confirmation_form, confirmed
from tests.conftest import client_as
from tests.training.conftest import balance_of, one_maker_sale, sign_in

# Yesterday: a rate is at most MAX_RATE_AGE_DAYS old, so the tests' rate follows the calendar.
RATE_DAY = date.today() - timedelta(days=1)
RATE_DATE = RATE_DAY.isoformat()  # as the form sends it
SHOWN_DAY = format_date(RATE_DAY, "d MMM y", locale="en")  # as the pages say it: 30 Nov 2026


@pytest.fixture
def maker(ctx):
    """A trainee holding $200.00 (a $2,000 sale at a 10 % share)."""
    trainee, _product, _order = one_maker_sale(stock=5, sold=1, price=200_000, bps=1000)
    db.session.commit()
    assert balance_of(trainee) == 20_000
    return trainee


@pytest.fixture
def people(ctx):
    requester, approver = f.user("staff"), f.user("staff")
    db.session.commit()
    return requester, approver


def _ask(trainee, requester, amount, currency=None, rate=None, source="ABA Bank board rate",
         day=RATE_DAY, **more):  # fmt: skip
    converting = currency not in (None, "USD")
    return request_withdrawal(
        trainee_id=trainee.id, amount=amount, purpose=WithdrawalPurpose.SCHOOL_FEES,
        payee="Phnom Penh Secondary School", details="", requested_by=requester,
        currency=currency, rate=rate, rate_source=source if converting else more.pop("src", None),
        rate_date=day if converting else more.pop("d", None), **more,
    )  # fmt: skip


def _count() -> int:
    return db.session.scalar(select(func.count(Withdrawal.id)))


def _verify_clean(app) -> None:
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "The ledger adds up" in result.output


def test_ten_thousand_rupees_post_the_expected_cents_and_the_ledger_adds_up(app, maker, people):
    requester, approver = people
    w = _ask(maker, requester, 1_000_000, "INR", "83.25", source="SBI TT buying rate")
    # 10,000 / 83.25 = 120.1201… USD, rounded down: 120.12.
    assert (w.amount, w.currency) == (12_012, "USD")
    assert (w.local_amount, w.local_currency, w.rate) == (1_000_000, "INR", "83.25")
    assert (w.rate_source, w.rate_date) == ("SBI TT buying rate", RATE_DAY)
    db.session.commit()
    approve_withdrawal(w.id, approver)
    db.session.commit()
    assert balance_of(maker) == 20_000 - 12_012
    transfer = db.session.get(Transfer, w.transfer_id)
    assert (transfer.amount, transfer.currency) == (12_012, "USD")
    _verify_clean(app)


def test_riel_keep_their_large_amount_and_the_rate_as_typed(app, maker, people):
    requester, approver = people
    # 410,000.00 riel (41,000,000 minor units, far above the store's usual bound) at 4,105.5
    w = _ask(maker, requester, 41_000_000, "KHR", "4105.50")
    assert w.amount == 9_986  # 410,000 / 4,105.5 = 99.866… USD
    assert w.rate == "4105.50"  # kept as typed
    db.session.commit()
    approve_withdrawal(w.id, approver)
    db.session.commit()
    assert balance_of(maker) == 20_000 - 9_986
    _verify_clean(app)


def test_a_withdrawal_in_the_accounts_currency_is_as_before(app, maker, people):
    requester, approver = people
    w = _ask(maker, requester, 5_000)
    assert (w.amount, w.currency, w.local_amount, w.local_currency) == (5_000, "USD", 5_000, "USD")
    assert (w.rate, w.rate_source, w.rate_date, w.exchange) == (None, None, None, None)
    db.session.commit()
    approve_withdrawal(w.id, approver)
    db.session.commit()
    assert balance_of(maker) == 15_000
    _verify_clean(app)


def _future() -> date:
    return date.today() + timedelta(days=2)


@pytest.mark.parametrize(
    ("asked", "field", "message"),
    [
        ({"currency": "KHR", "rate": "0"}, "rate", "more than zero"),
        ({"currency": "KHR", "rate": "-4100"}, "rate", "plain number"),
        ({"currency": "KHR", "rate": "four thousand"}, "rate", "plain number"),
        ({"currency": "KHR", "rate": ""}, "rate", "Enter the exchange rate"),
        ({"currency": "KHR", "rate": "4100", "source": "  "}, "rate_source", "where the rate"),
        ({"currency": "KHR", "rate": "4100", "day": None}, "rate_date", "rate's date"),
        ({"currency": "KHR", "rate": "4100", "day": "future"}, "rate_date", "future"),
        ({"currency": "KHR", "rate": "4100", "day": "91 days"}, "rate_date", "90 days old"),
        ({"currency": "KHR", "rate": "4100", "day": date(1900, 1, 1)}, "rate_date", "90 days old"),
        ({"currency": "EUR", "rate": "0.95"}, "currency", "currencies listed"),
        ({"currency": "KHR", "rate": "4100", "amount": 10**15 + 1}, "amount", "too large"),
        ({"currency": "KHR", "rate": "4100", "amount": 82_100_000}, "amount", "$200.24"),
        ({"currency": "KHR", "rate": "4100", "amount": 4_000}, "amount", "smallest amount"),
        ({"currency": None, "src": "ABA", "d": RATE_DAY}, "rate", "needs no exchange rate"),
        ({"currency": "USD", "rate": "1"}, "rate", "needs no exchange rate"),
    ],
)  # fmt: skip
def test_refused_inputs_change_nothing(maker, people, asked, field, message):
    requester, _approver = people
    asked = dict(asked)
    amount = asked.pop("amount", 410_000)
    if asked.get("day") == "future":
        asked["day"] = _future()
    if asked.get("day") == "91 days":
        asked["day"] = today() - timedelta(days=MAX_RATE_AGE_DAYS + 1)
    before = _count()
    with pytest.raises(TrainingError) as refused:
        _ask(maker, requester, amount, **asked)
    assert refused.value.field == field
    assert message in str(refused.value)
    db.session.rollback()
    assert _count() == before and balance_of(maker) == 20_000


def test_a_rate_at_most_ninety_days_old_is_taken(maker, people):
    requester, _approver = people
    day = today() - timedelta(days=MAX_RATE_AGE_DAYS)  # exactly 90 days old: still taken
    assert _ask(maker, requester, 410_000, "KHR", "4100", day=day).rate_date == day


def test_the_balance_rule_counts_the_converted_amount_of_waiting_withdrawals(maker, people):
    requester, _approver = people
    _ask(maker, requester, 41_000_000, "KHR", "4100")  # $100.00 waits
    _ask(maker, requester, 41_000_000, "KHR", "4100")  # $100.00 more: all of it, and fits
    with pytest.raises(TrainingError, match="more than the balance"):
        _ask(maker, requester, 4_100, "KHR", "4100")  # 41 riel, one more cent, does not


# --- the rate that moved more than 10 % ------------------------------------------------


@pytest.mark.parametrize(("second", "asks"), [("4360", False), ("4440", True),
                                              ("3640", False), ("3560", True)])  # fmt: skip
def test_a_rate_further_than_ten_percent_from_the_last_asks_first(maker, people, second, asks):
    requester, approver = people
    first = _ask(maker, requester, 410_000, "KHR", "4000")  # the first rate for KHR asks nothing
    approve_withdrawal(first.id, approver)  # paid: the rate the next ones are compared with
    db.session.commit()
    before = _count()
    if not asks:
        assert _ask(maker, requester, 410_000, "KHR", second).rate == second
        return
    with pytest.raises(RateNeedsConfirmation) as asked:
        _ask(maker, requester, 410_000, "KHR", second)
    assert asked.value.previous.rate == "4000" and asked.value.field == "rate"
    db.session.rollback()
    assert _count() == before
    confirmed_now = _ask(maker, requester, 410_000, "KHR", second, confirmed_rate=second)
    assert confirmed_now.rate == second
    # a confirmation of another rate is no confirmation of this one
    with pytest.raises(RateNeedsConfirmation):
        _ask(maker, requester, 410_000, "KHR", "5000", confirmed_rate=second)


def test_the_last_rate_is_the_last_paid_any_trainees_in_that_currency(maker, people):
    requester, approver = people
    other, _product, _order = one_maker_sale(stock=5, sold=1, price=200_000, bps=1000)
    first = _ask(maker, requester, 410_000, "KHR", "4100")
    approve_withdrawal(first.id, approver)
    paid_inr = _ask(maker, requester, 1_000_000, "INR", "83.25")  # another currency: its own
    approve_withdrawal(paid_inr.id, approver)
    db.session.commit()
    with pytest.raises(RateNeedsConfirmation):  # the other trainee's request compares too
        request_withdrawal(trainee_id=other.id, amount=410_000, purpose=WithdrawalPurpose.MATERIALS,
                           payee="X", details="", requested_by=requester, currency="KHR",
                           rate="5000", rate_source="ABA", rate_date=RATE_DAY)  # fmt: skip
    db.session.rollback()
    mistyped = _ask(maker, requester, 410_000, "KHR", "41000", confirmed_rate="41000")
    reject_withdrawal(mistyped.id, approver, "the rate was mistyped")
    # 41000 was rejected: 4150 is compared with 4100, and passes
    assert _ask(maker, requester, 410_000, "KHR", "4150").amount == 98  # 4,100 / 4,150 riel


def test_a_rate_waiting_for_approval_is_no_reference(maker, people):
    """The reviewer's case: a request at 5000 KHR (its jump from 4100 confirmed) waits for
    approval; the right rate, 4100.5, is still compared with 4100, the last one paid."""
    requester, approver = people
    paid = _ask(maker, requester, 410_000, "KHR", "4100")
    approve_withdrawal(paid.id, approver)
    waiting = _ask(maker, requester, 410_000, "KHR", "5000", confirmed_rate="5000")
    db.session.commit()
    assert waiting.status == WithdrawalStatus.REQUESTED
    assert _ask(maker, requester, 410_000, "KHR", "4100.5").rate == "4100.5"  # asks nothing
    with pytest.raises(RateNeedsConfirmation) as asked:  # 5000 still asks: 4100 was paid
        _ask(maker, requester, 410_000, "KHR", "5000")
    assert asked.value.previous.id == paid.id


def test_the_last_rate_paid_is_the_latest_by_the_rates_date(maker, people):
    requester, approver = people
    recent = _ask(maker, requester, 410_000, "KHR", "4100")
    late_entry = _ask(maker, requester, 410_000, "KHR", "3000", confirmed_rate="3000",
                      day=RATE_DAY - timedelta(days=20))  # fmt: skip  # an old invoice, paid now
    approve_withdrawal(recent.id, approver)
    approve_withdrawal(late_entry.id, approver)
    db.session.commit()
    # late_entry has the higher id, but its rate is older: 4100 is the last rate paid
    assert _ask(maker, requester, 410_000, "KHR", "4150").rate == "4150"
    with pytest.raises(RateNeedsConfirmation) as asked:
        _ask(maker, requester, 410_000, "KHR", "3050")
    assert asked.value.previous.id == recent.id


def _form(currency="KHR", amount="4100000.00", rate="4100", source="ABA Bank board rate",
          day=RATE_DATE) -> dict:  # fmt: skip
    return {"withdrawal-currency": currency, "withdrawal-amount": amount,
            "withdrawal-rate": rate, "withdrawal-rate_source": source,
            "withdrawal-rate_date": day, "withdrawal-purpose": "school_fees",
            "withdrawal-payee": "Phnom Penh Secondary School"}  # fmt: skip


def _pay_the_last(approver) -> None:
    """Approve the latest withdrawal: its rate becomes the last rate paid."""
    w = db.session.scalars(select(Withdrawal).order_by(Withdrawal.id.desc())).first()
    approve_withdrawal(w.id, approver)
    db.session.commit()


@pytest.fixture
def clients(app, maker, people):
    requester, approver = people
    a, b = app.test_client(), app.test_client()
    sign_in(a, requester)
    sign_in(b, approver)
    return a, b


def test_the_form_asks_to_confirm_a_rate_that_moved_and_saves_once_confirmed(
    maker, people, clients
):
    requester, _ = clients
    url = f"/staff/trainees/{maker.id}/withdrawals"
    first = requester.post(url, data=_form(amount="410000.00", rate="4000"))
    assert first.status_code == 302  # the first rate for KHR: saved, nothing asked
    assert _count() == 1
    _pay_the_last(people[1])

    asked = requester.post(url, data=_form(amount="410000.00", rate="4440",
                                           source="Wing board rate"))  # fmt: skip
    page = html.unescape(asked.get_data(as_text=True))
    assert asked.status_code == 200
    assert "Record this withdrawal at 1 USD = 4440 KHR, 11 % above the last rate?" in page
    assert f"1 USD = 4000 KHR (ABA Bank board rate, {SHOWN_DAY})" in page
    assert "Last rate paid" in page and "Last rate recorded" not in page
    assert f"1 USD = 4440 KHR (Wing board rate, {SHOWN_DAY})" in page  # the source and date typed
    assert "Phnom Penh Secondary School" in page
    assert "$92.34" in page  # 410,000 / 4,440 = 92.342… USD
    assert _count() == 1  # nothing written while it waits

    action, fields = confirmation_form(asked)
    tampered = dict(fields, **{"withdrawal-rate": "4500"})  # the rate shown was 4440
    again = requester.post(action, data=tampered)
    assert again.status_code == 200 and confirmation_form(again) is not None
    assert _count() == 1

    action, fields = confirmation_form(requester.post(url, data=_form(amount="410000.00",
                                                                      rate="4440")))  # fmt: skip
    done = requester.post(action, data=fields)
    assert done.status_code == 302 and _count() == 2
    saved = db.session.scalars(select(Withdrawal).order_by(Withdrawal.id.desc())).first()
    assert (saved.rate, saved.local_amount, saved.amount) == ("4440", 41_000_000, 9_234)
    twice = requester.post(action, data=fields)
    assert twice.status_code == 409 and _count() == 2  # the button acts once

    # a confirmation stated for one amount is refused for another, and writes nothing
    asked = requester.post(url, data=_form(amount="10000.00", rate="5000"))
    action, fields = confirmation_form(asked)
    other = requester.post(action, data={**fields, "withdrawal-amount": "20000.00"})
    assert other.status_code == 400 and "made for something else" in other.get_data(as_text=True)
    assert _count() == 2


@pytest.mark.parametrize(
    "changed",
    [
        {"withdrawal-rate_source": "made up"},
        {"withdrawal-rate_date": (RATE_DAY - timedelta(days=3)).isoformat()},
        {"withdrawal-payee": "Someone else"},
        {"withdrawal-purpose": "materials"},
        {"trainee": "other"},
    ],
    ids=["source", "date", "payee", "purpose", "trainee"],
)
def test_a_rate_confirmation_is_refused_for_anything_else_than_it_showed(
    maker, people, clients, changed
):
    requester, _ = clients
    url = f"/staff/trainees/{maker.id}/withdrawals"
    assert requester.post(url, data=_form(amount="410000.00", rate="4000")).status_code == 302
    _pay_the_last(people[1])
    action, fields = confirmation_form(requester.post(url, data=_form(amount="410000.00",
                                                                      rate="4440")))  # fmt: skip
    if changed == {"trainee": "other"}:
        other, _product, _order = one_maker_sale(stock=5, sold=1, price=200_000, bps=1000)
        db.session.commit()
        action, changed = f"/staff/trainees/{other.id}/withdrawals", {}
    sent = requester.post(action, data={**fields, **changed})
    assert sent.status_code == 400 and "made for something else" in sent.get_data(as_text=True)
    assert _count() == 1


def test_a_nine_percent_move_is_saved_straight_away(maker, people, clients):
    requester, _ = clients
    url = f"/staff/trainees/{maker.id}/withdrawals"
    assert requester.post(url, data=_form(amount="410000.00", rate="4000")).status_code == 302
    _pay_the_last(people[1])
    assert requester.post(url, data=_form(amount="410000.00", rate="4360")).status_code == 302
    assert _count() == 2


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"withdrawal-rate": "4,100"}, "no commas"),
        ({"withdrawal-rate": "0"}, "more than zero"),
        ({"withdrawal-rate": ""}, "Enter the exchange rate"),
        ({"withdrawal-rate_source": ""}, "Say where the rate comes from"),
        ({"withdrawal-rate_date": ""}, "date, like 2026-11-30"),
        ({"withdrawal-rate_date": "30/11/2026"}, "date, like 2026-11-30"),
        ({"withdrawal-currency": "EUR"}, "Choose one of the currencies listed."),
        ({"withdrawal-amount": "100000000000000.00"}, "at most"),
        ({"withdrawal-amount": "1.234"}, "decimal places"),
        ({"withdrawal-amount": "8210000.00"}, "more than the balance still available"),
        ({"withdrawal-currency": "USD", "withdrawal-amount": "1.00"}, "needs no exchange rate"),
    ],
)  # fmt: skip
def test_the_form_says_what_is_wrong_beside_the_field_and_writes_nothing(
    maker, clients, changed, message
):
    requester, _ = clients
    answer = requester.post(f"/staff/trainees/{maker.id}/withdrawals",
                            data={**_form(), **changed})  # fmt: skip
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert message in page and 'class="error-text"' in page
    assert _count() == 0 and balance_of(maker) == 20_000


def test_a_rate_of_1900_is_refused_beside_the_date_field(maker, clients):
    requester, _ = clients
    answer = requester.post(f"/staff/trainees/{maker.id}/withdrawals",
                            data=_form(day="1900-01-01"))  # fmt: skip
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and _count() == 0
    beside = re.search(r'id="withdrawal-rate_date-error">(.*?)</p>', page, re.S)
    assert beside is not None
    assert ("A rate more than 90 days old is not today's rate: enter the rate of the day you "
            "pay, with its date.") in beside.group(1)  # fmt: skip


def test_the_amount_hint_holds_in_any_currency(maker, clients):
    _, approver = clients
    page = html.unescape(approver.get(f"/staff/trainees/{maker.id}").get_data(as_text=True))
    assert ("In the currency chosen above. Converted to the account’s currency, at most the "
            "balance less withdrawals waiting for approval.") in page  # fmt: skip
    assert "At most the balance less" not in page


def test_the_pages_and_the_csv_show_both_amounts(maker, clients):
    requester, approver = clients
    url = f"/staff/trainees/{maker.id}/withdrawals"
    made = requester.post(url, data=_form("INR", "10000.00", "83.25", "SBI TT buying rate"))
    assert made.status_code == 302
    shown = f"₹10,000.00 at 1 USD = 83.25 INR (SBI TT buying rate, {SHOWN_DAY}) = $120.12"
    w = db.session.scalars(select(Withdrawal)).one()

    waiting = html.unescape(approver.get("/staff/withdrawals").get_data(as_text=True))
    assert "$120.12 for" in waiting and shown in waiting
    trainee_page = html.unescape(approver.get(f"/staff/trainees/{maker.id}").get_data(as_text=True))
    assert shown in trainee_page

    confirm = html.unescape(
        approver.get(f"/staff/withdrawals/{w.id}/approve").get_data(as_text=True)
    )
    assert "Pay $120.12 to Phnom Penh Secondary School" in confirm
    assert f"1 USD = 83.25 INR (SBI TT buying rate, {SHOWN_DAY})" in confirm
    assert "as $120.12" in confirm and "pay the school or supplier ₹10,000.00." in confirm
    paid = confirmed(approver, f"/staff/withdrawals/{w.id}/approve", follow_redirects=True)
    assert "Withdrawal approved" in paid.get_data(as_text=True)
    assert balance_of(maker) == 20_000 - 12_012

    history = html.unescape(approver.get("/staff/withdrawals/decided").get_data(as_text=True))
    assert shown in history
    statement = html.unescape(approver.get(f"/staff/trainees/{maker.id}").get_data(as_text=True))
    assert statement.count(shown) == 2  # the withdrawals table and the statement's line

    exported = approver.get(f"/staff/trainees/{maker.id}/statement.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    paid_out = [r for r in rows if r["kind"] == "Withdrawal"]
    assert [(r["amount"], r["currency"], r["local_currency"], r["local_amount"], r["rate"],
             r["rate_source"], r["rate_date"]) for r in paid_out] == [
        ("-120.12", "USD", "INR", "10000.00", "83.25", "SBI TT buying rate", RATE_DATE)
    ]  # fmt: skip
    sale = next(r for r in rows if r["kind"] == "Sale share")
    assert (sale["local_currency"], sale["rate"]) == ("", "")


def test_the_rate_confirmation_carries_the_forms_csrf_token(csrf_app):
    with csrf_app.app_context():
        trainee, _product, _order = one_maker_sale(stock=5, sold=1, price=200_000, bps=1000)
        client = client_as(csrf_app, "staff")
        db.session.commit()
        trainee_id = trainee.id
    page = client.get(f"/staff/trainees/{trainee_id}").get_data(as_text=True)
    token = re.search(r'name="withdrawal-csrf_token" type="hidden" value="([^"]+)"', page)
    url = f"/staff/trainees/{trainee_id}/withdrawals"
    data = {**_form(amount="410000.00", rate="4000"), "withdrawal-csrf_token": token.group(1)}
    assert client.post(url, data=data).status_code == 302
    with csrf_app.app_context():
        _pay_the_last(f.user("staff"))
    asked = client.post(url, data={**data, "withdrawal-rate": "4440"})
    action, fields = confirmation_form(asked)
    assert "withdrawal-csrf_token" in fields and "csrf_token" in fields
    assert client.post(action, data=fields).status_code == 302
    with csrf_app.app_context():
        assert db.session.scalars(select(Withdrawal.rate).order_by(Withdrawal.id)).all() == [
            "4000",
            "4440",
        ]


def test_the_pages_cost_no_more_statements_for_a_withdrawal_in_another_currency(
    maker, people, clients, count_queries
):
    requester, approver = people
    _client, approving = clients

    def statements(path: str) -> int:
        with count_queries() as counter:
            assert approving.get(path).status_code == 200
        return counter.count

    paths = [f"/staff/trainees/{maker.id}", "/staff/withdrawals", "/staff/withdrawals/decided",
             f"/staff/trainees/{maker.id}/statement.csv"]  # fmt: skip
    plain = _ask(maker, requester, 100)
    approve_withdrawal(plain.id, approver)
    _ask(maker, requester, 200)
    db.session.commit()
    before = [statements(path) for path in paths]
    converted = _ask(maker, requester, 1_000_000, "INR", "83.25")
    approve_withdrawal(converted.id, approver)
    _ask(maker, requester, 500_000, "INR", "83.25")
    db.session.commit()
    assert [statements(path) for path in paths] == before
