"""Sign-out, password change and password reset end every other session (issue 9, 16)."""

from __future__ import annotations

import pytest

from shop.extensions import db
from tests import factories as f
from tests.accounts.test_accounts import choose_password, password_token
from tests.orders.test_payments import outbox

PASSWORD = "the first password"


def _signed_in_twice(app):
    """Two browsers signed in to one account, and a third holding a copy of the first's cookie."""
    f.user("customer", email="two@example.org", password=PASSWORD)
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        made = client.post("/login", data={"email": "two@example.org", "password": PASSWORD})
        assert made.status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", first.get_cookie("session").value)
    for client in (first, second, copy):
        assert client.get("/account").status_code == 200
    return first, second, copy


def _signed_out(client) -> bool:
    response = client.get("/account")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_out_ends_every_session_and_copied_cookies(app, ctx):
    first, second, copy = _signed_in_twice(app)
    assert first.post("/logout").status_code == 302
    assert _signed_out(first) and _signed_out(second) and _signed_out(copy)


def test_changing_the_password_ends_every_other_session(app, ctx):
    first, second, copy = _signed_in_twice(app)
    changed = first.post("/account/password", data={
        "current": PASSWORD, "password": "the second password", "confirm": "the second password",
    })  # fmt: skip
    assert changed.status_code == 302
    assert first.get("/account").status_code == 200  # the one that changed it goes on
    assert _signed_out(second) and _signed_out(copy)


@pytest.mark.parametrize("while_signed_in", [False, True])
def test_a_password_reset_ends_every_session(app, ctx, while_signed_in):
    first, second, copy = _signed_in_twice(app)
    resetter = first if while_signed_in else app.test_client()
    resetter.post("/password/forgot", data={"email": "two@example.org"})
    token = password_token(outbox(app)[-1])
    assert choose_password(resetter, token, "the second password").status_code == 302
    assert _signed_out(first) and _signed_out(second) and _signed_out(copy)
