"""Wrong passwords from anywhere cannot lock an account's owner out (issue 9, defect 19):
failures count per address and per account, and a browser or address that signed in to
the account before is not held to the account's count. The real limiter, in memory."""

from __future__ import annotations

from shop.extensions import db
from tests import factories as f

RIGHT = "the right password"


def _client(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(client, password, email="target@example.org"):
    return client.post("/login", data={"email": email, "password": password}).status_code


def _attack_from_many_addresses(app, prefix="10.9.0"):
    for i in range(10):
        assert _try(_client(app, f"{prefix}.{i}"), "wrong") == 401


def test_failures_from_elsewhere_do_not_lock_out_a_known_browser_or_address(app, ctx):
    f.user("customer", email="target@example.org", password=RIGHT)
    db.session.commit()
    home = _client(app, "192.0.2.10")
    assert _try(home, RIGHT) == 302  # signs in once: this browser and address are known
    home.post("/logout")

    _attack_from_many_addresses(app)

    assert _try(_client(app, "198.51.100.1"), RIGHT) == 429  # nobody known: locked
    home.environ_base["REMOTE_ADDR"] = "203.0.113.5"  # the known browser, on another network
    assert _try(home, RIGHT) == 302
    assert _try(_client(app, "192.0.2.10"), RIGHT) == 302  # another browser, the known address


def test_a_forged_known_device_cookie_counts_for_nothing(app, ctx):
    f.user("customer", email="target@example.org", password=RIGHT)
    db.session.commit()
    _attack_from_many_addresses(app)
    forger = _client(app, "198.51.100.2")
    forger.set_cookie("known_device", "[1,2,3,4,5,6,7,8,9]")
    assert _try(forger, RIGHT) == 429


def test_the_per_address_limit_still_holds_for_a_known_browser(app, ctx):
    f.user("customer", email="target@example.org", password=RIGHT)
    db.session.commit()
    home = _client(app, "192.0.2.10")
    assert _try(home, RIGHT) == 302
    home.post("/logout")
    for i in range(10):  # ten failures from one address, on ten different accounts
        assert _try(_client(app, "192.0.2.10"), "wrong", email=f"x{i}@example.org") == 401
    assert _try(home, RIGHT) == 429


def test_a_nul_byte_in_the_email_is_a_failed_sign_in_not_an_error(app, ctx):
    """The limiter looks the account up before the view: on PostgreSQL a NUL would raise."""
    client = _client(app, "192.0.2.77")
    assert _try(client, "wrong", email="target\x00@example.org") in (400, 401)
    assert client.post("/register", data={"email": "a\x00@example.org"}).status_code == 400
    assert client.post("/password/forgot", data={"email": "a\x00@example.org"}).status_code in (
        302,
        400,
    )
