"""Absolute links, the Host header, start-up refusals and transport headers (issue 9:
defects 14, 20 and part of 22), as an operator and an attacker would see them."""

from __future__ import annotations

import io
import logging
import threading
import urllib.parse
import urllib.request
from urllib.parse import urlsplit

import pytest
import segno
from flask_migrate import upgrade
from werkzeug.serving import make_server

from shop import create_app
from shop.config import ConfigError, config_for_tests
from shop.extensions import db
from tests import factories as f
from tests.accounts.test_accounts import password_token
from tests.conftest import RequestIsolatingClient, rolled_back
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_payments import outbox


@pytest.fixture
def development_app(migrated_app):
    """`make run`'s rules (SHOP_ENV=development) with PUBLIC_BASE_URL set, on the test database."""
    application = create_app(
        {**migrated_app.config, "ENV_NAME": "development", "TRUSTED_HOSTS": None,
         "PUBLIC_BASE_URL": "https://shop.example"}
    )  # fmt: skip
    application.test_client_class = RequestIsolatingClient
    with application.app_context():
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    with rolled_back(application) as app:
        yield app


def test_emailed_links_and_qr_codes_ignore_the_host_header(development_app):
    app = development_app
    with app.app_context():
        f.user("customer", email="kim@example.org")
        f.batch(f.product(f.workshop()).variants[0], code="QR-9")
        order = new_order([(stocked_variant(), 1)])
        db.session.commit()
        from shop.orders.notifications import _fresh, confirmation_message

        with app.test_request_context("/", base_url="http://evil.example"):
            message = confirmation_message(_fresh(order.id))
            order_mail = message.get_body(("plain",)).get_content()
    assert f"https://shop.example/orders/{order.token}" in order_mail
    assert "evil.example" not in order_mail

    client = app.test_client()
    evil = {"Host": "evil.example"}
    # Even in development a foreign Host is refused before anything is mailed...
    assert client.post("/password/forgot", data={"email": "kim@example.org"},
                       headers=evil).status_code == 400  # fmt: skip
    assert client.get("/p/QR-9/qr.svg", headers=evil).status_code == 400
    # ...and one the store answers to still gets links on PUBLIC_BASE_URL only.
    local = {"Host": "127.0.0.1:5000"}
    sent = client.post("/password/forgot", data={"email": "kim@example.org"}, headers=local)
    assert sent.status_code == 302
    mail = outbox(app)[-1]
    assert "https://shop.example/password/reset#" in mail and "127.0.0.1" not in mail

    svg = client.get("/p/QR-9/qr.svg", headers=local).get_data()
    expected = io.BytesIO()
    segno.make("https://shop.example/p/QR-9", error="m").save(
        expected, kind="svg", scale=6, border=2, dark="#1f2a2e", xmldecl=False, title="Batch QR-9"
    )
    assert svg == expected.getvalue()


def test_outside_development_a_foreign_host_is_refused_and_nothing_is_mailed(app, ctx):
    f.user("customer", email="kim@example.org")
    db.session.commit()
    client = app.test_client()
    before = len(outbox(app))
    poisoned = client.post(
        "/password/forgot", data={"email": "kim@example.org"}, headers={"Host": "evil.example"}
    )
    assert poisoned.status_code == 400
    assert len(outbox(app)) == before
    # the configured host, and any other listed in TRUSTED_HOSTS, on any port, are served
    assert client.get("/login", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/login", headers={"Host": "127.0.0.1:5000"}).status_code == 200


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name in ("PUBLIC_BASE_URL", "PAYMENT_GATEWAY", "STRIPE_SECRET_KEY", "TRUSTED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    return monkeypatch


def test_outside_development_the_store_refuses_to_start_without_public_base_url(production_env):
    production_env.setenv("PAYMENT_GATEWAY", "dummy")
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL is not set"):
        create_app()
    production_env.setenv("PUBLIC_BASE_URL", "shop.example")  # no scheme: not an address
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be"):
        create_app()
    production_env.setenv("PUBLIC_BASE_URL", "https://shop.example/")
    production_env.setenv("TRUSTED_HOSTS", "www.shop.example, shop-internal")
    app = create_app()
    assert app.config["TRUSTED_HOSTS"] == ["shop.example", "www.shop.example", "shop-internal"]


def test_outside_development_the_test_gateway_runs_only_when_chosen(production_env):
    production_env.setenv("PUBLIC_BASE_URL", "https://shop.example")
    with pytest.raises(ConfigError, match="No payment gateway is configured"):
        create_app()  # before: the dummy gateway, taking "payments" with card 4242
    production_env.setenv("PAYMENT_GATEWAY", "stripe")
    with pytest.raises(ConfigError, match="needs STRIPE_SECRET_KEY"):
        create_app()
    production_env.setenv("PAYMENT_GATEWAY", "strpe")
    with pytest.raises(ConfigError, match="PAYMENT_GATEWAY must be one of dummy, stripe"):
        create_app()
    production_env.setenv("PAYMENT_GATEWAY", "dummy")
    assert create_app().extensions["payment_gateway"].name == "dummy"


def test_development_works_with_nothing_configured(monkeypatch, tmp_path):
    for name in ("SHOP_ENV", "PUBLIC_BASE_URL", "PAYMENT_GATEWAY", "STRIPE_SECRET_KEY",
                 "TRUSTED_HOSTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dev.db'}")
    app = create_app()
    assert app.extensions["payment_gateway"].name == "dummy"
    from shop.web import public_url

    with app.test_request_context("/", base_url="http://127.0.0.1:5001"):
        assert public_url("accounts.login") == "http://127.0.0.1:5001/login"
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    # A store left in development mode where strangers reach it (SHOP_ENV forgotten)
    # still builds no link on a Host header it was sent: other names are refused.
    client = app.test_client()
    for host in ("127.0.0.1:5000", "localhost:5000"):
        assert client.get("/login", headers={"Host": host}).status_code == 200, host
    outbox = tmp_path / "outbox"
    monkeypatch.setenv("MAIL_OUTBOX", str(outbox))
    refused = (
        create_app()
        .test_client()
        .post("/password/forgot", data={"email": "a@example.org"}, headers={"Host": "evil.example"})
    )
    assert refused.status_code == 400
    assert not outbox.exists() or not any(outbox.iterdir())


def test_the_pay_page_of_the_test_gateway_says_it_is_test_mode(app, ctx):
    order = new_order([(stocked_variant(), 1)])
    db.session.commit()
    page = app.test_client().get(f"/orders/{order.token}/pay").get_data(as_text=True)
    assert "Test mode." in page and "No money moves" in page


def test_outside_development_pages_demand_https(client):
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.fixture
def live_store(tmp_path):
    """A store of its own served by werkzeug's real server, whose access log we read."""
    app = create_app(config_for_tests(f"sqlite:///{tmp_path / 'live.db'}", str(tmp_path / "m")))
    with app.app_context():
        upgrade()
        f.user("customer", email="kim@example.org", password="old password 1")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_reset_token_never_reaches_the_access_log(live_store, caplog):
    app, base = live_store
    caplog.set_level(logging.INFO, logger="werkzeug")

    def post(path, fields):
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data)) as r:
            return r.status

    assert post("/password/forgot", {"email": "kim@example.org"}) == 200
    mail = outbox(app)[-1]
    token = password_token(mail)
    link = next(word for word in mail.split() if "/password/reset#" in word)
    assert urlsplit(link).fragment == token and token not in urlsplit(link).path
    # a browser opens the link: what is after '#' is never sent
    with urllib.request.urlopen(f"{base}{urlsplit(link).path}#{token}") as r:
        assert r.status == 200
    fields = {"token": token, "password": "new password 22", "confirm": "new password 22"}
    assert post("/password/reset", fields) == 200  # redirected to the sign-in page
    with app.app_context():
        from shop.accounts.services import user_by_email

        assert user_by_email("kim@example.org").check_password("new password 22")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/password/reset" in logged and token not in logged


def test_hold_lengths_that_would_shorten_a_started_payment_are_refused(production_env):
    production_env.setenv("PUBLIC_BASE_URL", "https://shop.example")
    production_env.setenv("PAYMENT_GATEWAY", "dummy")
    app = create_app()
    # Out of the box an abandoned order lets go sooner than one being paid.
    assert 0 < app.config["RESERVATION_MINUTES"] < app.config["PAYMENT_MINUTES"]
    production_env.setenv("RESERVATION_MINUTES", "30")
    production_env.setenv("PAYMENT_MINUTES", "15")
    with pytest.raises(ConfigError, match="RESERVATION_MINUTES must be more than 0 and at most"):
        create_app()


def test_a_payment_reminder_due_after_the_hold_ends_is_refused(production_env):
    production_env.setenv("PUBLIC_BASE_URL", "https://shop.example")
    production_env.setenv("PAYMENT_GATEWAY", "dummy")
    app = create_app()
    assert 0 < app.config["PAYMENT_REMINDER_MINUTES"] < app.config["RESERVATION_MINUTES"]
    production_env.setenv("PAYMENT_REMINDER_MINUTES", str(app.config["RESERVATION_MINUTES"]))
    with pytest.raises(ConfigError, match="PAYMENT_REMINDER_MINUTES must be at least 0 and less"):
        create_app()
