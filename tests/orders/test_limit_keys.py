"""Rate-limit counters are keyed by digests (shop.rate_limits.digest): their storage, in
memory or in Redis, never holds a checkout key, an address or an email in clear. A
checkout key finds a session's open orders, so whoever reads the counters must not be
able to take one from them."""

from __future__ import annotations

import hashlib
import http.cookiejar
import os
import secrets
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db, limiter
from shop.orders.cart import CHECKOUT_KEY
from tests.accounts.test_rate_limit_redis import REDIS, _redis_up
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add

EMAIL = "ana.buyer@example.org"


def _memory_keys() -> list[str]:
    storage = limiter.storage  # limits' MemoryStorage: counters and moving-window events
    return [*storage.storage, *storage.events]


def _in_clear(keys: list[str], checkout_key: str) -> list[str]:
    plain_hash = hashlib.sha256(EMAIL.encode()).hexdigest()[:24]
    secrets_ = (checkout_key, "127.0.0.1", EMAIL, plain_hash)
    return [k for k in keys if any(s in k for s in secrets_)]


def test_checkout_and_sign_in_counters_in_memory_hold_nothing_in_clear(app, ctx, client):
    variant = stocked_variant()
    db.session.commit()
    add(client, variant.id)
    assert client.post("/checkout", data=CHECKOUT).status_code == 302
    assert client.post("/login", data={"email": EMAIL, "password": "guess"}).status_code == 401
    with client.session_transaction() as session:
        checkout_key = session[CHECKOUT_KEY]
    keys = _memory_keys()
    assert any("checkout-session:" in k for k in keys), keys  # the counter is there
    assert any("sign-in-account:" in k for k in keys), keys
    assert not _in_clear(keys, checkout_key)


def test_checkout_counters_in_redis_hold_no_checkout_key(tmp_path):
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS}")
    import redis

    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app(config_for_tests(url, str(tmp_path / "media")))
    with app.app_context():
        upgrade()
        variant_id = stocked_variant().id
        db.session.commit()
    prefix = f"test-keys-{secrets.token_hex(4)}"
    env = {**os.environ, "DB_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
           "RATELIMIT_STORAGE_URI": REDIS, "RATELIMIT_KEY_PREFIX": prefix}  # fmt: skip
    script = Path(__file__).parents[1] / "accounts" / "serve_store.py"
    server = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    shared = redis.Redis.from_url(REDIS)
    try:
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        for path, data in (("/cart/add", {"variant_id": variant_id, "quantity": "1"}),
                           ("/checkout", CHECKOUT)):  # fmt: skip
            with browser.open(f"{base}{path}", urllib.parse.urlencode(data).encode()) as answer:
                assert answer.status == 200  # followed to the cart, then to the payment page
        assert "/pay" in answer.url
        cookie = next(c.value for c in jar if c.name == "session")
        session = app.session_interface.get_signing_serializer(app).loads(cookie)
        keys = [k.decode() for k in shared.scan_iter(f"*{prefix}*")]
        assert any("checkout-session:" in k for k in keys), keys
        assert not _in_clear(keys, session[CHECKOUT_KEY])
    finally:
        server.terminate()
        server.wait(timeout=10)
        for key in shared.scan_iter(f"*{prefix}*"):
            shared.delete(key)
        shared.close()
