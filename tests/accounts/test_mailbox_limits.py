"""One mailbox cannot be flooded from many addresses: /register and /password/forgot
email it at most three times an hour together, and say the same thing either way."""

from __future__ import annotations

from shop.accounts.services import user_by_email
from shop.extensions import db
from tests import factories as f
from tests.orders.test_payments import outbox

FORGOT_ANSWER = "If there is an account for that address, we sent it a link"


def _from(app, number: int):
    """A client at its own address: the per-address limits never come into play."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"203.0.113.{number}"
    return client


def _mails_to(app, subject: str) -> int:
    return sum(subject in mail.split("\n", 1)[0] for mail in outbox(app))


def _sent_since(app, before: int) -> int:
    return len(outbox(app)) - before


def test_password_reset_mails_to_one_mailbox_stop_at_three_an_hour(app, ctx):
    f.user("customer", email="victim@example.org", password="a password 12")
    db.session.commit()
    before = _mails_to(app, "Reset your password")
    answers = []
    for number in range(1, 7):
        response = _from(app, number).post(
            "/password/forgot", data={"email": "Victim@example.org"}, follow_redirects=True
        )
        answers.append((response.status_code, FORGOT_ANSWER in response.get_data(as_text=True)))
    assert answers == [(200, True)] * 6  # the same answer every time: nothing revealed
    assert _mails_to(app, "Reset your password") - before == 3


def test_registrations_of_one_address_mail_it_three_times_an_hour_and_make_nothing_more(app, ctx):
    before, pages = len(outbox(app)), []
    for number in range(1, 6):
        response = _from(app, number).post("/register", data={"email": "new@example.org"})
        pages.append((response.status_code, "new@example.org" in response.get_data(as_text=True)))
    assert pages == [(200, True)] * 5
    assert _sent_since(app, before) == 3
    assert user_by_email("new@example.org") is not None


def test_a_request_over_the_limit_makes_no_account(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAILBOX_EMAIL_LIMIT", "1 per hour")
    f.user("customer", email="owner@example.org", password="a password 12")
    db.session.commit()
    before = len(outbox(app))
    # the mailbox's one email this hour goes on a reset; then registering it again,
    # or a new address, is answered as before
    _from(app, 1).post("/password/forgot", data={"email": "owner@example.org"})
    refused = _from(app, 2).post("/register", data={"email": "owner@example.org"})
    assert refused.status_code == 200 and "owner@example.org" in refused.get_data(as_text=True)
    assert _sent_since(app, before) == 1
    _from(app, 3).post("/register", data={"email": "fresh@example.org"})
    _from(app, 4).post("/register", data={"email": "fresh@example.org"})
    assert _sent_since(app, before) == 2
    assert user_by_email("fresh@example.org") is not None  # made by the first, once


def test_other_mailboxes_are_not_held_to_a_flooded_ones_count(app, ctx):
    before = len(outbox(app))
    for number in range(1, 5):
        _from(app, number).post("/register", data={"email": "flooded@example.org"})
    _from(app, 9).post("/register", data={"email": "someone.else@example.org"})
    assert _sent_since(app, before) == 4
