"""Rate limits hold when the requests come all at once (attack findings 3 and 15):
each request takes its slot before the work, so requests sent together never get more
than the limit. Real requests, from threads, to a store served in its own process(es):
with limits in memory (one process) and in Redis (two processes sharing it)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from tests.accounts.test_rate_limit_redis import REDIS, _redis_up
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT

SETTINGS = {"CHECKOUT_LIMIT_PER_ADDRESS": "10 per hour", "CHECKOUT_LIMIT_PER_SESSION": "3 per hour"}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects()
    )


def _post(opener, url: str, data: dict, cookie: str = "") -> tuple[int, str]:
    headers = {"Cookie": cookie} if cookie else {}
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(data).encode(), headers=headers
    )
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _all_at_once(calls) -> list:
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i):
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # a crash shows in the results, not lost in a thread
            results[i] = (599, repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return results


@pytest.fixture(params=["memory", "redis"])
def served(request, tmp_path):
    """(base URLs, the app for reading the database, a variant id with 40 units)."""
    storage = "memory://" if request.param == "memory" else REDIS
    if request.param == "redis" and not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS}")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app(config_for_tests(url, str(tmp_path / "media")))
    with app.app_context():
        upgrade()
        variant_id = stocked_variant(quantity=40).id
        db.session.commit()
    made = app.test_cli_runner().invoke(
        args=["create-user", "target@example.org", "--role", "customer", "--password-stdin"],
        input="the right password\n",
    )
    assert made.exit_code == 0, made.output
    env = {**os.environ, "DB_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
           "RATELIMIT_STORAGE_URI": storage, "STORE_SETTINGS": json.dumps(SETTINGS),
           "RATELIMIT_KEY_PREFIX": f"test-{secrets.token_hex(4)}"}  # fmt: skip
    script = Path(__file__).parent / "accounts" / "serve_store.py"
    count = 1 if request.param == "memory" else 2  # memory counters live in one process
    processes = [
        subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        bases = [f"http://127.0.0.1:{p.stdout.readline().strip()}" for p in processes]
        yield bases, app, variant_id
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=10)


def _placed(results) -> int:
    return sum(1 for status, location in results if status == 302 and "/pay" in location)


def test_fifteen_checkouts_at_once_from_fresh_sessions_place_ten(served):
    bases, app, variant_id = served
    browsers = [_browser() for _ in range(15)]
    for i, browser in enumerate(browsers):  # fifteen carts, one address, per-address limit 10
        status, _ = _post(browser, f"{bases[i % len(bases)]}/cart/add",
                          {"variant_id": variant_id, "quantity": "1"})  # fmt: skip
        assert status == 302

    results = _all_at_once([
        lambda b=b, i=i: _post(b, f"{bases[i % len(bases)]}/checkout", CHECKOUT)
        for i, b in enumerate(browsers)
    ])  # fmt: skip

    assert sorted(status for status, _ in results) == [302] * 10 + [429] * 5, results
    assert _placed(results) == 10
    with app.app_context():
        assert db.session.scalar(select(func.count(Order.id))) == 10


def test_checkouts_at_once_from_one_session_place_its_limit_and_hold_one_order(served):
    bases, app, variant_id = served
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects())
    status, _ = _post(browser, f"{bases[0]}/cart/add", {"variant_id": variant_id, "quantity": "2"})
    assert status == 302
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)  # all eight send this one cookie

    results = _all_at_once([
        lambda i=i: _post(_browser(), f"{bases[i % len(bases)]}/checkout", CHECKOUT, cookie)
        for i in range(8)
    ])  # fmt: skip

    assert _placed(results) == 3 and [s for s, _ in results].count(429) == 5, results
    with app.app_context():
        pending = db.session.scalar(
            select(func.count(Order.id)).where(Order.status == OrderStatus.PENDING_PAYMENT)
        )
        assert pending == 1  # each checkout of the session replaced the one before


def test_forty_wrong_passwords_at_once_get_ten_checks(served):
    bases, _app, _variant = served
    wrong = {"email": "target@example.org", "password": "wrong"}
    results = _all_at_once([
        lambda i=i: _post(_browser(), f"{bases[i % len(bases)]}/login", wrong) for i in range(40)
    ])  # fmt: skip
    statuses = sorted(status for status, _ in results)
    assert statuses == [401] * 10 + [429] * 30, statuses  # a 429 is answered before any check
    # and the slots are spent: the right password is refused too, from a fresh browser
    assert (
        _post(_browser(), f"{bases[0]}/login", {**wrong, "password": "the right password"})[0]
        == 429
    )
