"""`ledger verify`, `create-user` and signing in."""

from __future__ import annotations

from sqlalchemy import text

from shop.accounts.models import Role
from shop.accounts.services import user_by_email
from shop.extensions import db
from tests import factories as f
from tests.training.conftest import one_maker_sale


def test_ledger_verify_is_clean_then_catches_a_tampered_balance(app, ctx):
    t, _product, _order = one_maker_sale(stock=5, sold=2)
    db.session.commit()
    runner = app.test_cli_runner()

    clean = runner.invoke(args=["ledger", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "The ledger adds up" in clean.output and "transfer(s)" in clean.output

    db.session.execute(
        text(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + 7 WHERE trainee_id = :t"
        ),
        {"t": t.id},
    )
    db.session.commit()
    dirty = runner.invoke(args=["ledger", "verify"])
    assert dirty.exit_code == 1
    assert f"trainee:{t.id}: credits_posted" in dirty.output
    assert "total debits" in dirty.output and "does not add up" in dirty.output


def test_create_user_reads_the_password_from_stdin_and_refuses_bad_input(app, ctx):
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["create-user", "Staff@Example.org", "--role", "staff", "--role", "admin",
              "--password-stdin"],
        input="a long enough password\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    person = user_by_email("staff@example.org")
    assert person.role_names == {"staff", "admin"}
    assert person.check_password("a long enough password")
    assert person.password_hash.startswith("scrypt:")

    again = runner.invoke(
        args=["create-user", "staff@example.org", "--role", "staff", "--password-stdin"],
        input="another long password\n",
    )
    assert again.exit_code != 0 and "already an account" in again.output
    short = runner.invoke(
        args=["create-user", "new@example.org", "--role", "customer", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    assert user_by_email("new@example.org") is None


def test_sign_in_renews_the_session_keeps_the_cart_and_redirects_only_on_site(app, ctx):
    person = f.user("staff", email="kim@example.org", password="pass phrase 123")
    assert Role.STAFF in {r.role for r in person.roles}
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["cart"] = {"1": 2}
        session["planted"] = "fixation attempt"

    wrong = client.post("/login", data={"email": "kim@example.org", "password": "nope"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).replace("kim@", "nobody@") == unknown.get_data(as_text=True)
    assert "That email and password do not match an account." in wrong.get_data(as_text=True)

    response = client.post(
        "/login",
        data={"email": "KIM@example.org", "password": "pass phrase 123",
              "next": "https://evil.example/steal"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/trainees"
    with client.session_transaction() as session:
        assert session["cart"] == {"1": 2} and "planted" not in session
        assert session["_user_id"] == person.get_id()

    client.post("/logout")
    with client.session_transaction() as session:
        assert "_user_id" not in session
    back = client.post(
        "/login",
        data={
            "email": "kim@example.org",
            "password": "pass phrase 123",
            "next": "/staff/reconciliation",
        },
    )
    assert back.headers["Location"] == "/staff/reconciliation"
    for hostile in ("//evil.example", "/\\evil.example", "javascript:alert(1)", "http:/x"):
        client.post("/logout")
        landed = client.post(
            "/login",
            data={"email": "kim@example.org", "password": "pass phrase 123", "next": hostile},
        )
        assert landed.headers["Location"] == "/staff/trainees", hostile
