"""Log lines are JSON, one a request at least, and never name a person.

A buyer signs in, checks out and pays, and asks for a new password, while the mail
server refuses every recipient, quoting the address (as real servers do): the store
logs that it could not send, and no line holds an address, a name, a street, a
token or a password.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socketserver
import threading
from collections.abc import Iterator

import pytest

from shop import create_app
from shop.accounts import services as accounts
from shop.config import config_for_tests
from shop.extensions import db
from shop.request_log import JsonFormatter, PrivacyFilter
from tests import factories as f
from tests.conftest import RequestIsolatingClient, rolled_back
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import add

EMAIL = "amira.haddad@example.org"
PASSWORD = "olive grove 1987"
BUYER = {
    "email": EMAIL, "name": "Amira Haddad", "address_line1": "17 Rue des Tisserands",
    "city": "Roubaix", "postal_code": "59100", "country": "FR", "shipping_method": "standard",
}  # fmt: skip


class _RefusingSmtp(socketserver.StreamRequestHandler):
    """Speaks just enough SMTP to refuse every recipient, naming it in the reply."""

    def handle(self) -> None:
        self.wfile.write(b"220 refusing.test ESMTP\r\n")
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 refusing.test\r\n")
            elif verb == "RCPT":
                address = line.partition(":")[2].strip()
                self.wfile.write(f"550 5.1.1 {address}: Recipient address rejected\r\n".encode())
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # MAIL, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingSmtp)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mailing_app(migrated_app, refusing_smtp) -> Iterator:
    """The test database, with a mail server that refuses every recipient; an app
    context is open for the test's own setup."""
    application = create_app(
        config_for_tests(
            migrated_app.config["SQLALCHEMY_DATABASE_URI"], migrated_app.config["MEDIA_ROOT"],
            MAIL_SERVER="127.0.0.1", MAIL_PORT=refusing_smtp, MAIL_USE_TLS=False,
        )
    )  # fmt: skip
    application.test_client_class = RequestIsolatingClient
    with application.app_context():
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    with rolled_back(application) as app, app.app_context():
        yield app


class _Lines(logging.Handler):
    """Every record any logger passes on, as the JSON line a server would write."""

    def __init__(self):
        super().__init__(logging.INFO)  # the level gunicorn.conf.py runs at
        self.setFormatter(JsonFormatter())
        self.addFilter(PrivacyFilter())  # as logging_config() sets up the server's handler
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler, root = _Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def submitted_account_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:24]


def test_sign_in_checkout_and_password_reset_log_no_personal_data(mailing_app, log_lines):
    app = mailing_app
    person = f.user("customer", email=EMAIL, password=PASSWORD)
    variant = stocked_variant()
    db.session.commit()
    reset_token = accounts.reset_token(person)
    client = app.test_client()

    assert client.post("/login", data={"email": EMAIL, "password": "not it"}).status_code == 401
    assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
    add(client, variant.id)
    placed = client.post("/checkout", data=BUYER)
    assert placed.status_code == 302
    order_token = placed.headers["Location"].split("/")[2]
    paid = client.post(placed.headers["Location"], data={"card_number": "4242424242424242"})
    assert paid.status_code == 302  # paid; its confirmation is refused by the mail server
    client.get(f"/orders/{order_token}?next=/account")
    assert client.post("/password/forgot", data={"email": EMAIL}).status_code == 302
    new = "a brand new secret 42"
    reset = client.post(
        "/password/reset", data={"token": reset_token, "password": new, "confirm": new}
    )
    assert reset.status_code == 302
    for _ in range(11):  # someone tries passwords until the sign-in limit stops them
        client.post("/login", data={"email": EMAIL, "password": "guess"})
    assert client.post("/login", data={"email": EMAIL, "password": "guess"}).status_code == 429

    entries = [json.loads(line) for line in log_lines]  # each line is one JSON object
    assert all("\n" not in line for line in log_lines)
    routes = [
        (e["method"], e["route"], e["status"]) for e in entries if e["logger"] == "shop.access"
    ]
    for expected in [("POST", "/login", 401), ("POST", "/login", 302),
                     ("POST", "/checkout", 302), ("POST", "/orders/<token>/pay", 302),
                     ("GET", "/orders/<token>", 200), ("POST", "/password/forgot", 302),
                     ("POST", "/password/reset", 302)]:  # fmt: skip
        assert expected in routes
    access = [e for e in entries if e["logger"] == "shop.access"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in access)
    assert all(isinstance(e["duration_ms"], float | int) for e in access)
    # The emails are jobs: a refused one is logged by the job, to be tried again later.
    failures = [e for e in entries if e["logger"] == "shop.jobs" and " failed: " in e["message"]]
    assert failures, "the refused emails were logged"
    assert any("exceeded" in e["message"] for e in entries), "and the limit's breach"
    assert all("SMTPRecipientsRefused" in e["message"] and e["request_id"] for e in failures)

    text = "\n".join(log_lines)
    personal = [EMAIL, "amira", "Haddad", "Tisserands", "Roubaix", "59100", PASSWORD, new,
                reset_token, order_token, reset_token[:12], order_token[:12]]  # fmt: skip
    for value in personal:
        assert value.lower() not in text.lower(), value
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)  # no address of anyone
    assert "127.0.0.1" not in text  # nor the visitor's IP
    assert submitted_account_key(EMAIL) not in text  # nor the hash the limit counts it by


def test_an_exception_is_logged_by_type_and_place_never_by_its_message(log_lines):
    logger = logging.getLogger("shop.test")
    try:
        raise ValueError(f"duplicate key: (email)=({EMAIL}) for Amira Haddad")
    except ValueError:
        logger.exception("could not save the account of %s", EMAIL)
    entry = json.loads(log_lines[-1])
    assert entry["error"] == "builtins.ValueError"
    assert entry["stack"][-1].endswith(
        "in test_an_exception_is_logged_by_type_and_place_never_by_its_message"
    )
    assert entry["message"] == "could not save the account of [email withheld]"
    assert EMAIL not in log_lines[-1] and "Haddad" not in log_lines[-1]
