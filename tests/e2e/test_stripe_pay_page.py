"""The Stripe pay page works under the store's content security policy: Stripe.js
(here localstripe's stand-in, served from its own origin) loads, and the browser
reports no violation."""

from __future__ import annotations

import pytest

from tests.orders.test_stripe_localstripe import _placed_order, localstripe, stripe_store  # noqa: F401

pytestmark = pytest.mark.e2e


def test_the_stripe_pay_page_loads_stripe_js_under_the_csp(browser, stripe_store):  # noqa: F811
    app, base = stripe_store
    _order_id, token, _variant = _placed_order(app)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text))
    response = page.goto(f"{base}/orders/{token}/pay", wait_until="load")
    assert response.status == 200
    assert "script-src 'self' http://127.0.0.1:" in response.headers["content-security-policy"]
    assert page.evaluate("typeof Stripe") == "function"
    assert page.get_by_role("button", name="Pay").is_visible()
    violations = [m for m in messages if "Content Security Policy" in m or "Refused to" in m]
    assert violations == []
    context.close()
