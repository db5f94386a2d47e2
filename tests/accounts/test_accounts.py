"""Customer accounts: registering, verifying, claiming guest orders, passwords, limits."""

from __future__ import annotations

import re

from sqlalchemy import select

from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.extensions import db
from shop.orders.models import Order
from tests import factories as f
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_payments import outbox
from tests.training.conftest import sign_in


def _link(mail: str, path: str) -> str:
    found = re.search(rf"https?://[^/\s]+({path}[^\s]+)", mail)
    assert found, mail
    return found.group(1)


def password_token(mail: str) -> str:
    """The token of an emailed password link: after the '#', never in the path or query."""
    found = re.search(r"https?://[^/\s]+/password/reset#([^\s?&/]+)", mail)
    assert found, mail
    return found.group(1)


def choose_password(client, token: str, password: str):
    return client.post(
        "/password/reset", data={"token": token, "password": password, "confirm": password}
    )


# Behaviour changed with issue 9 (defect 17): registering no longer takes a password nor
# signs in; the mailbox owner chooses the password through the emailed link, and guest
# orders join the account only when its signed-in owner presses the button.
def test_register_choose_the_password_by_mail_then_claim_guest_orders(app, ctx):
    variant = stocked_variant()
    guest_order = new_order([(variant, 1)])  # BUYER's email: buyer@example.com
    someone_elses = new_order([(variant, 1)])
    someone_elses.email = "other@example.com"
    db.session.commit()
    client = app.test_client()

    made = client.post("/register", data={"name": "Ana", "email": "Buyer@Example.com"})
    assert made.status_code == 200 and "Check your email" in made.get_data(as_text=True)
    mail = outbox(app)[-1]
    assert "Subject: Choose a password for your account" in mail
    token = password_token(mail)

    weak = choose_password(client, token, "short")
    assert weak.status_code == 400 and "at least 10 characters" in weak.get_data(as_text=True)
    assert choose_password(client, token, "a fine long password").status_code == 302
    signed_in = client.post(
        "/login", data={"email": "buyer@example.com", "password": "a fine long password"}
    )
    assert signed_in.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "(confirmed)" in page  # choosing the password through the mailbox confirmed it
    assert "1 order placed as a guest" in page and guest_order.number not in page
    assert db.session.get(Order, guest_order.id).user_id is None  # not before the click

    claimed = client.post("/account/claim", follow_redirects=True).get_data(as_text=True)
    assert "1 order(s) added to your account" in claimed
    page = client.get("/account").get_data(as_text=True)
    assert guest_order.number in page and someone_elses.number not in page
    user = accounts.user_by_email("buyer@example.com")
    assert db.session.get(Order, guest_order.id).user_id == user.id
    assert db.session.get(Order, someone_elses.id).user_id is None


def test_a_customer_sees_only_their_own_orders(app, ctx):
    variant = stocked_variant()
    alice, bob = f.user("customer"), f.user("customer")
    mine, theirs = new_order([(variant, 1)]), new_order([(variant, 1)])
    mine.user_id, theirs.user_id = alice.id, bob.id
    db.session.commit()
    client = app.test_client()
    sign_in(client, alice)
    page = client.get("/account").get_data(as_text=True)
    assert mine.number in page and theirs.number not in page
    # numbers are no key: only the unguessable token opens an order
    assert client.get(f"/orders/{theirs.number}").status_code == 404
    assert client.get(f"/admin/orders/{theirs.id}").status_code == 403
    assert client.post(f"/admin/orders/{theirs.id}/refund").status_code == 403


def test_password_reset_link_works_once_and_unknown_emails_get_the_same_answer(app, ctx):
    person = f.user("customer", email="kim@example.org", password="old password 1")
    db.session.commit()
    client = app.test_client()
    before = len(outbox(app))
    unknown = client.post(
        "/password/forgot", data={"email": "nobody@example.org"}, follow_redirects=True
    )
    known = client.post(
        "/password/forgot", data={"email": "kim@example.org"}, follow_redirects=True
    )
    message = "If there is an account for that address, we sent it a link"
    assert message in unknown.get_data(as_text=True) and message in known.get_data(as_text=True)
    mails = outbox(app)
    assert len(mails) == before + 1  # only the real account got mail

    token = password_token(mails[-1])
    assert client.get("/password/reset").status_code == 200
    assert choose_password(client, token, "new password 22").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, person.id).check_password("new password 22")
    again = choose_password(client, token, "third password 3")
    assert "invalid, has expired or was already used" in client.get(
        again.headers["Location"]
    ).get_data(as_text=True)
    assert db.session.get(User, person.id).check_password("new password 22")
    tampered = choose_password(client, token[:-3] + "abc", "third password 3")
    assert tampered.status_code == 302 and tampered.headers["Location"] == "/password/forgot"


def test_the_eleventh_wrong_password_is_refused_without_checking_it(app, ctx, monkeypatch):
    f.user("customer", email="target@example.org", password="the right password")
    db.session.commit()
    checks = []
    real_check = User.check_password
    monkeypatch.setattr(
        User, "check_password", lambda self, pw: checks.append(pw) or real_check(self, pw)
    )
    client = app.test_client()
    for _ in range(10):
        assert (
            client.post(
                "/login", data={"email": "target@example.org", "password": "wrong"}
            ).status_code
            == 401
        )
    assert len(checks) == 10
    refused = client.post(
        "/login", data={"email": "target@example.org", "password": "the right password"}
    )
    assert refused.status_code == 429
    assert len(checks) == 10  # the password was not even looked at
    assert "Too many" in refused.get_data(as_text=True) or "too many" in refused.get_data(
        as_text=True
    )


def test_one_account_is_protected_from_many_addresses(app, ctx):
    f.user("customer", email="target@example.org", password="the right password")
    db.session.commit()
    for i in range(10):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i}"
        client.post("/login", data={"email": "target@example.org", "password": "wrong"})
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    assert (
        fresh.post("/login", data={"email": "target@example.org", "password": "wrong"}).status_code
        == 429
    )
    other = fresh.post("/login", data={"email": "someone@example.org", "password": "wrong"})
    assert other.status_code == 401  # other accounts from that address are not locked out


def test_changing_the_password_needs_the_current_one(app, ctx):
    person = f.user("customer", password="current password")
    db.session.commit()
    client = app.test_client()
    sign_in(client, person)
    wrong = client.post("/account/password", data={"current": "nope", "password": "brand new password",
                                                   "confirm": "brand new password"})  # fmt: skip
    assert wrong.status_code == 401
    right = client.post("/account/password", data={"current": "current password",
                                                    "password": "brand new password",
                                                    "confirm": "brand new password"})  # fmt: skip
    assert right.status_code == 302
    db.session.expire_all()
    assert (
        db.session.scalars(select(User).where(User.id == person.id))
        .one()
        .check_password("brand new password")
    )


def test_a_signed_in_customer_checks_out_into_their_account(app, ctx):
    from tests.orders.test_cart_and_checkout import CHECKOUT

    variant = stocked_variant()
    person = f.user("customer")
    db.session.commit()
    client = app.test_client()
    client.post("/cart/add", data={"variant_id": variant.id, "quantity": "1"})
    sign_in(client, person)
    assert client.post("/checkout", data=CHECKOUT).status_code == 302
    order = db.session.scalars(select(Order).where(Order.user_id == person.id)).one()
    assert order.number in client.get("/account").get_data(as_text=True)


def test_rate_limit_records_never_hold_the_email(app, ctx, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    for _ in range(11):
        client.post("/login", data={"email": "private.person@example.org", "password": "wrong"})
    assert "exceeded" in caplog.text  # the limiter did log the breach
    assert "private.person" not in caplog.text


def test_a_reset_link_expires(app, ctx, monkeypatch):
    import time

    person = f.user("customer", email="late@example.org", password="old password 1")
    db.session.commit()
    token = accounts.reset_token(person)
    assert accounts.user_for_reset_token(token) is not None
    monkeypatch.setattr(accounts, "RESET_MINUTES", 0)
    time.sleep(1.1)  # itsdangerous counts whole seconds
    assert accounts.user_for_reset_token(token) is None
    client = app.test_client()
    late = choose_password(client, token, "new password 22")
    page = client.get(late.headers["Location"])
    assert "invalid, has expired or was already used" in page.get_data(as_text=True)
