"""Which language a page is in (shop/i18n.py): `?lang=` through /language, the cookie,
the account, Accept-Language; where /language may send the reader back to; the page
cache's one copy per language; and the machine answers, which have no language."""

from __future__ import annotations

import html
import re

import pytest
from flask_babel import gettext

from shop.accounts.models import User
from shop.extensions import db
from shop.i18n import force_language
from tests import factories as f
from tests.conftest import client_as
from tests.training.conftest import one_maker_sale

PAGE = "/workshops"  # a public page, kept in the page cache
PASSWORD = "correct horse battery"  # tests.factories.user's


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def selected(response) -> list[str]:
    """The language(s) the header's menu shows chosen."""
    return re.findall(
        r'<option value="(\w+)" lang="\w+" selected>', response.get_data(as_text=True)
    )


def in_language(response, code: str) -> bool:
    return (
        response.status_code == 200
        and html_lang(response) == code
        and response.headers.get("Content-Language") == code
        and selected(response) == [code]
    )


def test_lang_in_the_address_is_remembered_and_the_address_comes_back_without_it(client):
    asked = client.get(f"{PAGE}?sort=name&lang=km")
    assert asked.status_code == 303 and asked.get_data() == b""
    assert asked.headers["Location"].startswith("/language?")
    assert asked.headers["Cache-Control"] == "no-store" and "ETag" not in asked.headers
    assert asked.headers["Content-Security-Policy"].startswith("default-src 'self'")
    remembered = client.get(asked.headers["Location"])
    assert remembered.status_code == 303 and remembered.headers["Location"] == f"{PAGE}?sort=name"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "km" and cookie.http_only
    assert in_language(client.get(remembered.headers["Location"]), "km")
    assert in_language(client.get("/products"), "km")  # every page after, by the cookie
    # followed in one go, as a browser does
    assert in_language(client.get(f"{PAGE}?lang=hi", follow_redirects=True), "hi")
    assert in_language(client.get(PAGE), "hi")


def test_accept_language_picks_when_nothing_else_does(client):
    assert in_language(client.get(PAGE, headers={"Accept-Language": "bn-IN,bn;q=0.9"}), "bn")
    assert in_language(
        client.get(PAGE, headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"}), "hi"
    )
    assert in_language(client.get(PAGE, headers={"Accept-Language": "fr-FR,de;q=0.8"}), "en")
    # the browser's order counts: a regional English first is English
    assert in_language(client.get(PAGE, headers={"Accept-Language": "en-GB,km;q=0.8"}), "en")
    assert in_language(client.get(PAGE, headers={"Accept-Language": "en-IN,bn;q=0.1"}), "en")
    assert in_language(client.get(PAGE), "en")
    client.set_cookie("lang", "km")  # the browser's own choice comes first
    assert in_language(client.get(PAGE, headers={"Accept-Language": "bn"}), "km")


def test_an_unknown_lang_in_the_address_is_ignored(client):
    client.set_cookie("lang", "hi")
    for value in ("xx", "", "KM", "km-KH", "../en"):
        answer = client.get(PAGE, query_string={"lang": value})
        assert in_language(answer, "hi"), value
    assert in_language(client.get(PAGE, query_string={"lang": "fr"}), "hi")
    fresh = client.application.test_client()
    assert in_language(fresh.get(f"{PAGE}?lang=zz"), "en")


def test_language_with_an_unknown_lang_is_refused_and_changes_nothing(app, ctx):
    client = client_as(app, "staff")
    client.set_cookie("lang", "bn")
    with app.test_request_context(), force_language("bn"):  # said in the reader's language
        title = html.escape(gettext("That language is not one we have"))
        advice = html.escape(gettext("Choose English, Khmer, Hindi or Bengali from the menu."))
    for value in ("xx", "", "english", "km;"):
        answer = client.get("/language", query_string={"lang": value, "next": "/staff/"})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400, value
        assert title in page and advice in page
        assert html_lang(answer) == answer.headers["Content-Language"] == "bn"
        assert not any(c.startswith("lang=") for c in answer.headers.getlist("Set-Cookie"))
    assert client.get_cookie("lang").value == "bn"
    assert db.session.get(User, client.person.id).language in (None, "")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/staff/",
        "https://evil.example",
        "https://evil.example/",
        "http:evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "\\/evil.example",
        " //evil.example",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\x7f/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_language_never_sends_the_reader_to_another_host(client, target):
    answer = client.get("/language", query_string={"lang": "km", "next": target})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"
    assert client.get_cookie("lang").value == "km"  # the choice is still remembered


def test_language_goes_back_to_a_path_of_this_store(client):
    answer = client.get("/language", query_string={"lang": "bn", "next": "/products?q=tote"})
    assert answer.headers["Location"] == "/products?q=tote"


def test_a_staff_members_choice_is_saved_on_the_account_and_follows_them(app, ctx):
    person = f.user("staff")
    db.session.commit()
    first = app.test_client()
    signed_in = first.post("/login", data={"email": person.email, "password": PASSWORD})
    assert signed_in.status_code in (302, 303)
    assert in_language(first.get("/staff/trainees?lang=km", follow_redirects=True), "km")
    assert db.session.get(User, person.id).language == "km"

    # another browser: nothing chosen in it, and it asks for Bengali; signed in, Khmer
    second = app.test_client()
    second.set_cookie("lang", "hi")
    assert in_language(second.get("/login", headers={"Accept-Language": "bn"}), "hi")
    second.post("/login", data={"email": person.email, "password": PASSWORD})
    page = second.get("/staff/trainees", headers={"Accept-Language": "bn"})
    assert in_language(page, "km")
    with force_language("km"):  # the sign-in's own message already in her language
        assert html.escape(gettext("You are signed in.")) in page.get_data(as_text=True)

    # the menu (a plain GET form) changes the account's choice too
    assert second.get("/language?lang=en&next=/staff/trainees").status_code == 303
    assert db.session.get(User, person.id).language == "en"
    assert in_language(first.get("/staff/trainees"), "en")


def test_the_page_cache_keeps_one_copy_per_language(client):
    english = client.get(PAGE)
    assert in_language(english, "en")
    khmer_reader = client.application.test_client()
    khmer_reader.set_cookie("lang", "km")
    khmer = khmer_reader.get(PAGE)
    assert in_language(khmer, "km")  # not the English copy kept a moment ago
    assert in_language(client.get(PAGE), "en")  # nor the other way round
    bengali = client.application.test_client().get(PAGE, headers={"Accept-Language": "bn"})
    assert in_language(bengali, "bn")
    tags = {english.headers["ETag"], khmer.headers["ETag"], bengali.headers["ETag"]}
    assert len(tags) == 3
    for answer in (english, khmer, bengali):
        assert "accept-language" in answer.headers["Vary"].lower()
        assert "cookie" in answer.headers["Vary"].lower()
    # A copy's ETag is answered 304 in its own language only.
    assert (
        khmer_reader.get(PAGE, headers={"If-None-Match": khmer.headers["ETag"]}).status_code == 304
    )
    assert client.get(PAGE, headers={"If-None-Match": khmer.headers["ETag"]}).status_code == 200


MACHINE_ANSWERS = ["/log/checkpoint", "/.well-known/did.json", "/api/v1/openapi.json"]


@pytest.mark.parametrize("path", MACHINE_ANSWERS)
def test_machine_answers_are_the_same_in_every_language(app, ctx, path):
    one_maker_sale()  # something in the log
    db.session.commit()
    plain = app.test_client().get(path)
    assert plain.status_code == 200, path
    for code in ("km", "hi", "bn"):
        reader = app.test_client()
        reader.set_cookie("lang", code)
        answer = reader.get(path, headers={"Accept-Language": f"{code},en;q=0.5"})
        assert answer.status_code == 200
        assert answer.get_data() == plain.get_data(), (path, code)
        assert answer.mimetype == plain.mimetype and answer.mimetype != "text/html"
        assert "Content-Language" not in answer.headers
        assert "accept-language" not in answer.headers.get("Vary", "").lower()
        # `?lang=` switches pages only: a machine's answer is the same, not a redirect
        asked = reader.get(path, query_string={"lang": code})
        assert asked.status_code == 200 and asked.get_data() == plain.get_data(), (path, code)
        assert "Content-Language" not in asked.headers


@pytest.mark.parametrize("language", ["km", "hi", "bn"])
def test_a_staff_members_emails_come_in_the_language_she_chose(app, ctx, language):
    """The worker has no visitor to ask: the account's own choice names the language."""
    from tests.orders.test_payments import outbox_messages

    person = f.user("staff", password="a password 12")
    person.language = language
    db.session.commit()
    before = len(outbox_messages(app))
    app.test_client().post("/password/forgot", data={"email": person.email})
    sent = outbox_messages(app)[before:]
    assert len(sent) == 1
    with force_language(language):
        subject = gettext("Reset your password")
    assert subject != "Reset your password"
    assert sent[0]["Subject"] == subject
    html_body = sent[0].get_body(("html",)).get_content()
    assert f'<html lang="{language}"' in html_body


def test_a_head_request_changes_no_ones_language(app, ctx):
    client = client_as(app, "staff")
    answer = client.head("/language?lang=bn&next=/staff/trainees")
    assert answer.status_code == 303
    assert db.session.get(User, client.person.id).language in (None, "")


def test_a_language_refused_with_q_zero_is_not_chosen(client):
    assert in_language(client.get(PAGE, headers={"Accept-Language": "km;q=0, en;q=0.5"}), "en")
    assert in_language(client.get(PAGE, headers={"Accept-Language": "km;q=0"}), "en")


def test_the_menu_on_the_answer_to_a_form_comes_back_to_a_page(app, ctx):
    """A form's answer (a refused withdrawal request) has a POST-only address: the menu
    must not lead there (405) but to a page."""
    trainee = f.trainee(f.workshop())
    db.session.commit()
    client = client_as(app, "staff")
    answer = client.post(f"/staff/trainees/{trainee.id}/withdrawals", data={})
    assert answer.status_code == 400
    back = re.search(r'name="next" value="([^"]*)"', answer.get_data(as_text=True)).group(1)
    switched = client.get("/language", query_string={"lang": "hi", "next": html.unescape(back)})
    assert client.get(switched.headers["Location"]).status_code == 200
