"""The shoppers of bench/spike.py, for locust (run by it; not on its own).

Four in five browse the public pages; one in five buys SPIKE_PRODUCT: each purchase is
a new shopper (a fresh cookie jar, a new email address), as in a real crowd, so the
per-session checkout limit meets each buyer once. Every response is recorded here, with
its name, status, duration and moment, and written as JSON to SPIKE_RESULTS when locust stops: the
browsing percentiles are taken over all browsing pages together, which locust's own
per-name table cannot give.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from itertools import count

from locust import FastHttpUser, between, events, task

PRODUCTS = json.loads(os.environ.get("SPIKE_PRODUCTS", "[]"))
WORKSHOPS = json.loads(os.environ.get("SPIKE_WORKSHOPS", "[]"))
PRODUCT = os.environ.get("SPIKE_PRODUCT", "")
WAIT = [float(s) for s in os.environ.get("SPIKE_WAIT", "1,4").split(",")]
CARD = "4242424242424242"  # the dummy gateway's card that pays

_records: list[tuple[str, int, float, float]] = []  # (name, status, ms, when)
_outcomes: dict[str, int] = {}
_paid: list[dict] = []
_lock = threading.Lock()
_shopper = count(1)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VARIANT = re.compile(r'<option value="(\d+)"')


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None,
            **_kw):  # fmt: skip
    status = getattr(response, "status_code", 0) or 0
    with _lock:
        _records.append((name, int(status), float(response_time), time.time()))


@events.quitting.add_listener
def _write(environment, **_kw):
    path = os.environ.get("SPIKE_RESULTS")
    if path:
        with open(path, "w") as out:
            json.dump({"records": _records, "outcomes": _outcomes, "paid": _paid}, out)


def _outcome(what: str) -> None:
    with _lock:
        _outcomes[what] = _outcomes.get(what, 0) + 1


class Browser(FastHttpUser):
    """Home, listing (two pages), product and workshop pages, with think time."""

    weight = 4
    wait_time = between(*WAIT)

    @task(2)
    def home(self):
        self.client.get("/", name="browse:/")

    @task(3)
    def listing(self):
        page = random.choice(["", "?page=2"])
        self.client.get(f"/products{page}", name="browse:/products")

    @task(4)
    def product(self):
        self.client.get(f"/products/{random.choice(PRODUCTS)}", name="browse:/products/<slug>")

    @task(1)
    def workshops(self):
        self.client.get("/workshops", name="browse:/workshops")

    @task(2)
    def workshop(self):
        self.client.get(f"/workshops/{random.choice(WORKSHOPS)}", name="browse:/workshops/<slug>")


class Buyer(FastHttpUser):
    """Product page, add to cart, checkout (dummy gateway), pay with the card that pays."""

    weight = 1
    wait_time = between(*WAIT)

    def _form(self, response) -> str | None:
        found = CSRF.search(response.text or "")
        return found.group(1) if found else None

    @task
    def buy(self):
        self.client.cookiejar.clear()  # a new shopper each time
        email = f"shopper-{next(_shopper)}-{os.getpid()}@spike.example.com"
        page = self.client.get(f"/products/{PRODUCT}", name="buy:product page")
        variant, token = VARIANT.search(page.text or ""), self._form(page)
        if page.status_code != 200:
            return _outcome("product page failed")
        if not variant:  # no option left to choose: the form is gone
            return _outcome("sold out on the product page")
        if not token:
            return _outcome("product page without its form")
        added = self.client.post(
            "/cart/add", name="buy:/cart/add", allow_redirects=False,
            data={"csrf_token": token, "product_slug": PRODUCT, "variant_id": variant.group(1),
                  "quantity": "1"},
        )  # fmt: skip
        if added.status_code != 302 or "/cart" not in added.headers.get("Location", ""):
            return _outcome("add to cart refused")
        form = self.client.get("/checkout", name="buy:/checkout")
        token = self._form(form)
        if not token:
            return _outcome("checkout page failed")
        with self.client.post(
            "/checkout", name="buy:/checkout (place)", allow_redirects=False, catch_response=True,
            data={"csrf_token": token, "email": email, "name": "Spike Shopper",
                  "address_line1": "1 Example Street", "address_line2": "", "city": "Lyon",
                  "postal_code": "69001", "country": "FR", "shipping_method": "standard"},
        ) as placed:  # fmt: skip
            if placed.status_code == 409:  # sold out between cart and checkout: expected
                placed.success()
                return _outcome("sold out at checkout")
            if placed.status_code != 302 or "/pay" not in placed.headers.get("Location", ""):
                return _outcome(f"checkout answered {placed.status_code}")
        pay_url = placed.headers["Location"].split("://", 1)[-1]
        pay_url = pay_url[pay_url.index("/") :] if not pay_url.startswith("/") else pay_url
        pay = self.client.get(pay_url, name="buy:/orders/<token>/pay")
        token = self._form(pay)
        if not token:
            return _outcome("pay page failed")
        paid = self.client.post(
            pay_url, name="buy:/orders/<token>/pay (card)", allow_redirects=False,
            data={"csrf_token": token, "card_number": CARD},
        )  # fmt: skip
        if paid.status_code != 302:
            return _outcome(f"payment answered {paid.status_code}")
        order_url = pay_url.rsplit("/pay", 1)[0]
        self.client.get(order_url, name="buy:/orders/<token>")
        with _lock:
            _paid.append({"email": email, "order": order_url.rsplit("/", 1)[-1]})
        _outcome("paid")
