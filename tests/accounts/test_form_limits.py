"""The per-address limits of the forms that email a stranger's mailbox (register, password
reset, a new confirmation link) hold as before now that they are counted by
shop.rate_limits, which refuses them with 503 when its storage is down
(tests/test_redis_down.py). Kept to guard the move: these pass before and after it."""

from __future__ import annotations

from tests.conftest import client_as


def test_password_reset_requests_are_limited_per_address(client):
    for i in range(5):
        answer = client.post("/password/forgot", data={"email": f"n{i}@example.org"})
        assert answer.status_code == 302
    assert client.post("/password/forgot", data={"email": "n9@example.org"}).status_code == 429


def test_registrations_are_limited_per_address(client):
    for i in range(20):
        answer = client.post("/register", data={"email": f"new{i}@example.org"})
        assert answer.status_code == 200, i
    assert client.post("/register", data={"email": "new99@example.org"}).status_code == 429


def test_new_confirmation_links_are_limited_per_address(app, ctx):
    signed_in = client_as(app, "customer")
    for _ in range(5):
        assert signed_in.post("/account/verify").status_code == 302
    assert signed_in.post("/account/verify").status_code == 429
