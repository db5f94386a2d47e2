"""A whole purchase with the keyboard alone, in a real browser: from the product page to
a paid order (the dummy gateway), moving with Tab, acting with Enter and Space, and typing
into fields; every control reached shows where the focus is."""

from __future__ import annotations

import pytest

from tests.e2e.buying import BUYER, PAYING_CARD, TOTE, TOTE_SLUG

pytestmark = pytest.mark.e2e

# What has the focus: its role, its name (label or text) and whether it shows a focus ring.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), type: el.type || '',
    name: (label || el.innerText || el.value || '').trim().replace(/\\s+/g, ' '),
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
  };
}"""


def tab_to(page, name: str, *, tag: str | None = None, most: int = 60) -> None:
    """Press Tab until the control named `name` (its label or text, from the start) has
    the focus; it must show a focus ring there."""
    for _ in range(most):
        page.keyboard.press("Tab")
        here = page.evaluate(FOCUSED)
        if here and here["name"].startswith(name) and (tag is None or here["tag"] == tag):
            assert here["ring"], f"{name}: no visible focus ring"
            return
    raise AssertionError(f"Tab never reached {name!r} on {page.url}")


def type_into(page, label: str, text: str) -> None:
    tab_to(page, label)
    page.keyboard.type(text)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_whole_purchase_with_the_keyboard_alone(browser, live_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/products/{TOTE_SLUG}")

    tab_to(page, "Skip to content")
    page.keyboard.press("Enter")
    tab_to(page, "Add to cart")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/cart")
    assert page.get_by_role("heading", name=TOTE).is_visible()

    tab_to(page, "Checkout", tag="a")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/checkout")
    tab_to(page, "Country")  # first: the address fields are drawn for the country
    page.keyboard.type("France")  # a closed select picks the option typed
    assert page.get_by_label("Country").input_value() == "FR"
    tab_to(page, "Update address fields")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    for label in ("Email", "Full name", "Address", "City", "Postcode"):
        type_into(page, label, BUYER[label])
    tab_to(page, "Standard post")
    page.keyboard.press("Space")
    tab_to(page, "Place order and pay")
    page.keyboard.press("Enter")
    page.wait_for_url("**/pay")

    type_into(page, "Card number", PAYING_CARD)
    tab_to(page, "Pay $")
    page.keyboard.press("Space")
    page.wait_for_selector("text=your payment went through")
    assert page.get_by_text("Status: Paid").is_visible()
    assert page.get_by_role("rowheader", name=f"{TOTE} colour: natural").is_visible()
    context.close()
