"""Cookies, headers and the sign-in check, as an operator would inspect them."""

from __future__ import annotations

import shop.accounts.services as accounts
from shop import create_app
from shop.config import load_config
from shop.extensions import db
from tests import factories as f


def test_production_cookies_are_secure_httponly_and_lax(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example")
    monkeypatch.setenv("PAYMENT_GATEWAY", "dummy")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    app = create_app(config)
    with app.test_request_context("/"):
        from flask import session

        session["x"] = 1
        response = app.make_response("ok")
        app.session_interface.save_session(app, session, response)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_unknown_email_costs_a_password_check_like_a_wrong_password(app, ctx, monkeypatch):
    f.user("customer", email="known@example.org", password="the right password")
    db.session.commit()
    checks = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda h, p: checks.append(h) or real(h, p)
    )
    assert accounts.authenticate("nobody@example.org", "guess") is None
    assert len(checks) == 1 and checks[0].startswith("scrypt:")  # as slow as a real account's


def test_pages_carry_the_security_headers(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_behind_a_trusted_proxy_limits_count_the_visitor_not_the_proxy(migrated_app):
    from tests.conftest import rolled_back

    application = create_app({**migrated_app.config, "TRUSTED_PROXIES": 1})
    with rolled_back(application) as app, app.app_context():
        from shop.extensions import limiter

        limiter.reset()
        client = app.test_client()
        for _ in range(10):
            client.post("/login", data={"email": "a@example.org", "password": "x"},
                        headers={"X-Forwarded-For": "203.0.113.7"})  # fmt: skip
        blocked = client.post("/login", data={"email": "b@example.org", "password": "x"},
                              headers={"X-Forwarded-For": "203.0.113.7"})  # fmt: skip
        other_visitor = client.post("/login", data={"email": "b@example.org", "password": "x"},
                                    headers={"X-Forwarded-For": "198.51.100.9"})  # fmt: skip
        assert blocked.status_code == 429 and other_visitor.status_code == 401


def test_one_role_guard_protects_both_back_offices(app):
    from shop.accounts import views

    assert not hasattr(views, "role_required")  # the unused third one is gone
    for blueprint in ("admin", "staff"):
        hooks = app.before_request_funcs[blueprint]
        assert [hook.__qualname__ for hook in hooks] == ["role_guard.<locals>.guard"]
    for path, role in (("/admin/", "staff"), ("/staff/trainees", "admin")):
        from tests.conftest import client_as

        with app.app_context():
            assert client_as(app, role).get(path).status_code == 403
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
