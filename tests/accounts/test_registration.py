"""Registering, as a stranger trying to take over a guest buyer's orders or to find out
who shops here would (issue 9, defects 17 and 18)."""

from __future__ import annotations

import re

import werkzeug.security

import shop.accounts.services as accounts
from shop.extensions import db
from shop.orders.models import Order
from tests import factories as f
from tests.accounts.test_accounts import choose_password, password_token
from tests.orders.conftest import BUYER, new_order, stocked_variant
from tests.orders.test_payments import outbox

GUEST = BUYER.email
STRANGERS_PASSWORD = "the stranger's own password"


def _register(client, email):
    return client.post("/register", data={"email": email, "name": "Someone",
                       "password": STRANGERS_PASSWORD, "confirm": STRANGERS_PASSWORD})  # fmt: skip


def _sign_in(client, email, password):
    return client.post("/login", data={"email": email, "password": password})


def test_a_stranger_registering_a_guest_buyers_address_gets_neither_account_nor_orders(app, ctx):
    order = new_order([(stocked_variant(), 1)])  # a guest order of GUEST
    db.session.commit()
    stranger = app.test_client()
    assert _register(stranger, GUEST).status_code == 200

    # the stranger's password was never set, nor is anyone signed in
    assert _sign_in(stranger, GUEST, STRANGERS_PASSWORD).status_code == 401
    assert stranger.get("/account").status_code == 302
    assert stranger.post("/account/claim").status_code == 302  # to sign in
    assert db.session.get(Order, order.id).user_id is None

    # the guest (the mailbox's owner) gets a set-your-password link, not a confirm button
    mail = outbox(app)[-1]
    assert "choose your password" in mail and STRANGERS_PASSWORD not in mail
    guest = app.test_client()
    assert choose_password(guest, password_token(mail), "the guest's password").status_code == 302
    assert _sign_in(guest, GUEST, "the guest's password").status_code == 302
    # nothing moves until the signed-in owner of the confirmed address says so
    assert db.session.get(Order, order.id).user_id is None
    assert "1 order placed as a guest" in guest.get("/account").get_data(as_text=True)
    assert guest.post("/account/claim").status_code == 302
    user = accounts.user_by_email(GUEST)
    assert db.session.get(Order, order.id).user_id == user.id
    assert _sign_in(stranger, GUEST, STRANGERS_PASSWORD).status_code == 401


def test_a_verification_link_confirms_nothing_for_whoever_merely_clicks_it(app, ctx):
    """An account whose password a stranger knows (made before registration stopped taking
    passwords, or by a typo) and whose mailbox owner clicks the link it sent them."""
    order = new_order([(stocked_variant(), 1)])
    strangers = f.user("customer", email=GUEST, password=STRANGERS_PASSWORD)
    db.session.commit()
    link = "/verify/" + accounts.verification_token(strangers)

    guest = app.test_client()
    clicked = guest.get(link)
    assert clicked.status_code == 302 and clicked.headers["Location"].startswith("/login")
    someone_else = app.test_client()
    assert _sign_in(someone_else, "other@example.org", "x").status_code == 401
    other = f.user("customer", email="other@example.org", password="another password")
    db.session.commit()
    assert _sign_in(someone_else, "other@example.org", "another password").status_code == 302
    assert someone_else.get(link).status_code == 302  # signed in as another account
    db.session.expire_all()
    assert accounts.user_by_email(GUEST).email_verified_at is None
    assert db.session.get(type(other), other.id).email_verified_at is None

    stranger = app.test_client()
    assert _sign_in(stranger, GUEST, STRANGERS_PASSWORD).status_code == 302
    page = stranger.get("/account").get_data(as_text=True)
    assert "placed as a guest with your email" not in page
    refused = stranger.post("/account/claim", follow_redirects=True).get_data(as_text=True)
    assert "Please confirm your email address first." in refused
    assert db.session.get(Order, order.id).user_id is None

    # confirming takes both: the link and the account's password
    assert stranger.get(link).status_code == 302
    assert accounts.user_by_email(GUEST).email_verified_at is not None


def _answer(response) -> str:
    return re.sub(r'name="csrf_token"[^>]*', "", response.get_data(as_text=True))


def test_registering_answers_the_same_whether_or_not_there_is_an_account(app, ctx, monkeypatch):
    f.user("customer", email="member@example.org", password="the member's password")
    db.session.commit()
    hashes = []
    real = werkzeug.security.generate_password_hash
    monkeypatch.setattr(accounts, "generate_password_hash",
                        lambda pw, *a, **k: hashes.append(pw) or real(pw, *a, **k))  # fmt: skip
    from shop.accounts import models

    monkeypatch.setattr(models, "generate_password_hash",
                        lambda pw, *a, **k: hashes.append(pw) or real(pw, *a, **k))  # fmt: skip

    answers = {}
    for email in ("member@example.org", "newcomer@example.org"):
        hashes.clear()
        before = len(outbox(app))
        response = _register(app.test_client(), email)
        answers[email] = (response.status_code, _answer(response).replace(email, "EMAIL"))
        assert len(hashes) == 1  # the same work either way: the timing does not tell
        assert len(outbox(app)) == before + 1
    assert answers["member@example.org"] == answers["newcomer@example.org"]
    assert answers["member@example.org"][0] == 200

    to_member = outbox(app)[-2]  # the owner is told instead, and how to get back in
    assert "Subject: Someone tried to register with your address" in to_member
    assert "sign in" in to_member and "/password/forgot" in to_member
    member = accounts.user_by_email("member@example.org")
    assert member.check_password("the member's password")  # nothing changed


def test_a_new_address_cannot_be_signed_in_to_before_its_mailbox_chose_a_password(app, ctx):
    client = app.test_client()
    _register(client, "fresh@example.org")
    assert _sign_in(client, "fresh@example.org", STRANGERS_PASSWORD).status_code == 401
    assert client.get("/account").status_code == 302
