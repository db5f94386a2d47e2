"""Every page of the store, for every kind of visitor, renders in Khmer, Hindi and
Bengali: no error, the page says its language (<html lang>, Content-Language), and the
back office's forms, sent empty, answer with their messages rather than a failure.

A translation can break a page where English cannot: a plural whose count is not the
number (Jinja takes a trans block's first variable as the count), a placeholder a lazy
string formats too early. The store is tests/whole_store.py's: one of everything, every
route of the URL map filled in, so a page added later is covered without edits here.
"""

from __future__ import annotations

import pytest

from tests.whole_store import all_rules, build_store, clients, forms_on, path_for, resign

LANGUAGES = ("km", "hi", "bn")
# Forms that act without anything typed (signing out, switching language) or whose
# blank answer is a refusal any language gives alike: they are not sent.
NOT_SENT = ("/logout", "/language")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_renders_in_the_language(app, ctx, language):
    store = build_store()
    by_role = clients(app, store)
    pages = sent = 0
    for role, client in by_role.items():
        client.set_cookie("lang", language)
        for rule, method in all_rules(app):
            if method != "GET":
                continue
            path = path_for(rule, store)
            response = client.get(path)
            assert response.status_code < 500, (language, role, rule.rule)
            if response.mimetype != "text/html" or response.status_code != 200:
                continue
            html = response.get_data(as_text=True)
            assert f'<html lang="{language}"' in html, (language, role, rule.rule)
            assert response.headers.get("Content-Language") == language, (role, rule.rule)
            pages += 1
            if role not in ("admin", "staff") or not path.startswith(("/admin", "/staff")):
                continue
            for form in forms_on(html, path):
                if form.method != "POST" or form.action.startswith(NOT_SENT):
                    continue
                blank = {
                    name: (value if name in ("csrf_token", "request_key") else "")
                    for name, value in form.fields.items()
                }
                if len(blank) < 2:  # nothing to type: pressing it would act
                    continue
                answer = client.post(form.action, data=blank)
                assert answer.status_code < 500, (language, role, form.action)
                sent += 1
                resign(client)
    assert pages > 100 and sent > 10, (pages, sent)
