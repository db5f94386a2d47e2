"""A Redis that refuses or hangs (attack on issue 10): a store in its own process uses one
real Redis for its page cache, rate-limit counters and job queue, through a link the test
can break (tests/flaky_link.py). What a visitor and an operator notice:

- pages are served at their usual speed, at most one request paying a timeout;
- a form that needs a limit (sign-in, checkout, register, password reset) answers 503
  with Retry-After and a page saying so, and changes nothing; never 500, never let
  through uncounted;
- paying does not wait for the queue: the job waits in the outbox;
- /readyz names what failed, quickly;
- all works again once Redis answers and the cool-down has passed.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from shop import create_app
from shop.accounts.models import User
from shop.config import config_for_tests
from shop.extensions import db
from shop.jobs.models import PENDING, Job
from shop.orders.models import Order, OrderStatus
from tests.flaky_link import FlakyLink
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT
from tests.test_several_machines import _forget_redis_keys, _redis_reason

SERVE_STORE = Path(__file__).parent / "accounts" / "serve_store.py"
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
COOL_DOWN = 2  # seconds; the store's default is 10
EMAIL, PASSWORD = "shopper@example.org", "the right password"
QUICK = 0.5  # seconds: a request that does not wait for Redis at all


@dataclass
class Answer:
    status: int
    headers: dict
    text: str
    seconds: float


class Visitor:
    """A browser (cookies kept, redirects not followed) on the store at `base`."""

    def __init__(self, base: str):
        self.base = base

        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        jar = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(jar, Stay())

    def call(self, path: str, data: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.monotonic()
        try:
            with self.opener.open(f"{self.base}{path}", data=body, timeout=30) as answer:
                status, headers, text = answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            status, headers, text = exc.code, dict(exc.headers), exc.read()
        return Answer(status, headers, text.decode(), time.monotonic() - started)


@dataclass
class Store:
    base: str
    app: object  # the same database, for reading what was written
    slug: str
    variant_id: int
    link: FlakyLink

    def visitor(self) -> Visitor:
        return Visitor(self.base)

    def count(self, model, *where) -> int:
        with self.app.app_context():
            found = db.session.scalar(select(func.count()).select_from(model).where(*where))
            db.session.remove()
            return found


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    parts = urllib.parse.urlsplit(REDIS)
    link = FlakyLink((parts.hostname, parts.port or 6379))
    through_link = f"redis://{link.url}{parts.path or '/0'}"
    tag = f"down_{secrets.token_hex(6)}"  # in every key, so all are removed afterwards
    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app(config_for_tests(url, str(tmp_path / "media")))
    with app.app_context():
        upgrade()
        variant = stocked_variant(quantity=20)
        slug, variant_id = variant.product.slug, variant.id
        db.session.commit()
    made = app.test_cli_runner().invoke(
        args=["create-user", EMAIL, "--role", "customer", "--password-stdin"], input=PASSWORD
    )
    assert made.exit_code == 0, made.output
    settings = {
        "CACHE_URL": through_link, "CACHE_KEY_PREFIX": f"{tag}:page:",
        "QUEUE_URL": through_link, "QUEUE_NAME": tag, "QUEUE_IMMEDIATE": False,
        "DEPENDENCY_COOL_DOWN_SECONDS": COOL_DOWN, "PROPAGATE_TEST_ERRORS": False,
    }  # fmt: skip
    env = {**os.environ, "DB_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
           "RATELIMIT_STORAGE_URI": through_link, "RATELIMIT_KEY_PREFIX": f"{tag}:limits:",
           "STORE_SETTINGS": json.dumps(settings)}  # fmt: skip
    log = (tmp_path / "store.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(SERVE_STORE)], env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), (tmp_path / "store.log").read_text()
        yield Store(f"http://127.0.0.1:{port}", app, slug, variant_id, link)
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        log.close()
        link.close()
        _forget_redis_keys(tag)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def refused_for_now(answer: Answer, action: str) -> None:
    assert answer.status == 503, (answer.status, answer.text[:500])
    assert int(answer.headers["Retry-After"]) >= 1
    assert f"We can&#39;t take {action} for a moment" in answer.text
    assert "Nothing was changed" in answer.text


def test_a_redis_that_refuses_costs_pages_nothing_and_limited_forms_say_503(store):
    store.link.refuse()
    visitor = store.visitor()
    for path in ("/", "/products", f"/products/{store.slug}"):
        assert visitor.call(path).status == 200, path

    # Sign-in refused, and never let through uncounted: not one password is checked.
    for _ in range(12):
        refused_for_now(visitor.call("/login", {"email": EMAIL, "password": "wrong"}), "sign-ins")
    refused_for_now(visitor.call("/login", {"email": EMAIL, "password": PASSWORD}), "sign-ins")
    assert visitor.call("/account").status == 302  # not signed in

    refused_for_now(visitor.call("/register", {"email": "new@example.org"}), "new accounts")
    assert store.count(User, User.email == "new@example.org") == 0
    forgot = visitor.call("/password/forgot", {"email": EMAIL})
    refused_for_now(forgot, "password reset requests")
    assert store.count(Job) == 0  # no email on its way

    assert (
        visitor.call("/cart/add", {"variant_id": store.variant_id, "quantity": "1"}).status == 302
    )
    checkout = visitor.call("/checkout", CHECKOUT)
    refused_for_now(checkout, "orders")
    assert checkout.seconds < QUICK
    assert store.count(Order) == 0

    ready = visitor.call("/readyz")
    assert ready.status == 503 and ready.seconds < 2
    assert json.loads(ready.text)["checks"] == {
        "database": "ok", "cache": "failed", "rate_limits": "failed", "queue": "failed",
        "media": "ok",
    }  # fmt: skip


def test_a_hung_redis_costs_one_request_a_second_and_the_next_ones_nothing(store):
    buyer = store.visitor()
    assert buyer.call("/cart/add", {"variant_id": store.variant_id, "quantity": "1"}).status == 302
    placed = buyer.call("/checkout", CHECKOUT)
    assert placed.status == 302 and placed.headers["Location"].endswith("/pay")
    pay = urllib.parse.urlsplit(placed.headers["Location"]).path

    store.link.hang()
    paid = buyer.call(pay, {"card_number": "4242424242424242"})
    assert paid.status == 302 and paid.seconds < 3, (paid.status, paid.seconds)
    assert store.count(Order, Order.status == OrderStatus.PAID) == 1
    assert store.count(Job, Job.status == PENDING) >= 1  # the confirmation waits for the relay

    # Redis is known down: nothing waits for it now, whatever asks.
    visitor = store.visitor()
    page = visitor.call(f"/products/{store.slug}")
    assert page.status == 200 and page.seconds < QUICK, page.seconds
    sign_in = visitor.call("/login", {"email": EMAIL, "password": PASSWORD})
    refused_for_now(sign_in, "sign-ins")
    assert sign_in.seconds < QUICK, sign_in.seconds
    ready = visitor.call("/readyz")
    assert ready.status == 503 and ready.seconds < QUICK
    assert {k for k, v in json.loads(ready.text)["checks"].items() if v == "failed"} == {
        "cache", "rate_limits", "queue",
    }  # fmt: skip


def test_once_redis_answers_again_everything_works_after_the_cool_down(store):
    visitor = store.visitor()
    assert visitor.call("/login", {"email": EMAIL, "password": "wrong"}).status == 401
    store.link.refuse()
    refused_for_now(visitor.call("/login", {"email": EMAIL, "password": "wrong"}), "sign-ins")

    store.link.forward()
    time.sleep(COOL_DOWN + 0.5)
    assert visitor.call("/login", {"email": EMAIL, "password": "wrong"}).status == 401
    signed_in = visitor.call("/login", {"email": EMAIL, "password": PASSWORD})
    assert signed_in.status == 302 and signed_in.headers["Location"].endswith("/account")
    assert (
        visitor.call("/cart/add", {"variant_id": store.variant_id, "quantity": "1"}).status == 302
    )
    assert visitor.call("/checkout", CHECKOUT).status == 302
    assert store.count(Order) == 1
    assert visitor.call("/readyz").status == 200
