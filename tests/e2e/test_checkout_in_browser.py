"""Issue 11, checkout errors and addresses in a real browser with scripts turned off: after
a failed submit the error summary has the focus and the title starts "Error:", its links
lead to the fields, the country's fields come with the country (no script), and the order
page prints the address the way its country writes it. At 320, 390 and 1280 px, with
screenshots (SCREENSHOT_DIR keeps them)."""

from __future__ import annotations

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.e2e

WIDTHS = [320, 390, 1280]
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("width", WIDTHS)
def test_checkout_errors_and_an_indian_address_without_javascript(
    browser, live_server, screenshot_dir, width
):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(live_server + "/products/buy-her-bag-tote")
    page.get_by_role("button", name="Add to cart").first.click()
    page.goto(live_server + "/checkout")
    assert page.title().startswith("Checkout")

    # A failed submit: the summary is focused as the page loads, and says what to do.
    page.get_by_label("Email").fill("buyer at example")
    page.get_by_role("button", name="Place order and pay").click()
    assert page.title().startswith("Error:")
    # autofocus acts at the page's first rendering: expect waits for it (5 s at most)
    expect(page.locator("#error-summary")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary = page.locator("#error-summary")
    assert summary.get_by_role("heading", name="There is a problem").is_visible()
    assert summary.get_by_role("link", name="Enter a ZIP code, like 95014").is_visible()
    assert page.evaluate(SIDEWAYS) <= 1
    page.screenshot(path=f"{screenshot_dir}/checkout-errors-{width}.png", full_page=True)
    summary.get_by_role("link", name="Choose a state").click()
    expect(page.locator("#country_area")).to_be_focused()

    # India: the country's fields come with it, then a PIN code of the wrong shape.
    page.get_by_label("Country").select_option("IN")
    page.get_by_role("button", name="Update address fields").click()
    assert page.title().startswith("Checkout")  # redrawn, not refused
    page.get_by_label("Email").fill("buyer@example.com")
    page.get_by_label("Full name").fill("Priya Rao")
    page.get_by_label("Address", exact=True).fill("12 MG Road")
    page.get_by_label("City").fill("Bengaluru")
    page.get_by_label("State").select_option("Karnataka")
    page.get_by_label("PIN code").fill("56001")
    page.get_by_role("button", name="Place order and pay").click()
    assert page.title().startswith("Error:")
    # autofocus acts at the page's first rendering: expect waits for it (5 s at most)
    expect(page.locator("#error-summary")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("#postal_code-error").inner_text().endswith("Enter a PIN code, like 110034")
    assert page.evaluate(SIDEWAYS) <= 1
    page.screenshot(path=f"{screenshot_dir}/checkout-pin-error-{width}.png", full_page=True)

    page.get_by_label("PIN code").fill("560001")
    page.get_by_role("button", name="Place order and pay").click()
    assert "/pay" in page.url
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    address = page.locator("address.postal-address")
    assert address.inner_text().splitlines() == [
        "Priya Rao", "12 MG Road", "BENGALURU 560001", "Karnataka", "INDIA",
    ]  # fmt: skip
    assert page.evaluate(SIDEWAYS) <= 1
    page.screenshot(path=f"{screenshot_dir}/order-india-{width}.png", full_page=True)
    context.close()
