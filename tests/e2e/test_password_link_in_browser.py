"""The emailed password link in a real browser: its token, after '#', is never sent to
the server (so never logged); the page's script moves it into the form (issue 9, 22)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_the_token_after_the_hash_lands_in_the_form_and_leaves_the_address_bar(
    browser, live_server
):
    page = browser.new_page()
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{live_server}/password/reset#not-a-real.token")
    token = page.locator("#token")
    assert token.input_value() == "not-a-real.token"
    assert not token.is_visible()  # filled in: nothing to paste
    assert page.evaluate("location.hash") == ""  # nor left in the address bar or history
    assert all("not-a-real" not in url for url in requested)

    page.fill("#password", "a new long password")
    page.fill("#confirm", "a new long password")
    page.click("main button[type=submit]")  # the page's own form (the header has a menu)
    assert page.url.endswith("/password/forgot")  # that token is no good: ask again
    assert "invalid, has expired or was already used" in page.content()
    page.close()
