"""Back-office forms after a failed submit, in a real browser at 320, 390 and 1280 px, as
the checkout already does it: the title starts "Error:", the error summary has the focus
(a screen reader reads it first, the keyboard starts there), each of its links moves the
focus to its field, which says the same thing beside it, and nothing scrolls sideways.
Every submit here is refused, so the shared demo store is left as it was."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, STAFF_EMAIL, sign_in
from tests.e2e.test_pages_in_browser import PAGE_AUDIT

pytestmark = pytest.mark.e2e

WIDTHS = [320, 390, 1280]

# (who, page, what to do on it before pressing `button`, the messages the summary lists)
FORMS = {
    "new-product": (ADMIN_EMAIL, "/admin/products/new", {}, "Add product",
                    ["Enter the product's name."]),
    "content-page": (ADMIN_EMAIL, "/admin/pages/contact", {"Title": ""}, "Save",
                     ["Enter a title."]),
    "new-batch": (ADMIN_EMAIL, "/admin/batches/new?workshop=1", {}, "Record batch",
                  ["Enter the batch code, as printed on the tag, like MS-2026-03-BHB-N.",
                   "Choose the variant the batch is of.", "Enter the number of units made, like 24.",
                   "Enter the month the batch was made, like 2026-03."]),
    "order-note": (ADMIN_EMAIL, "/admin/orders/1", {"Internal note": "Called the buyer. " * 120},
                   "Add note", ["A note is at most 2,000 characters; this one has 2,159. "
                                "Shorten it, or add it as two notes."]),
    "new-trainee": (STAFF_EMAIL, "/staff/trainees/new", {}, "Save",
                    ["Enter her trainee code, like KH-RS-001.", "Enter her legal name."]),
}  # fmt: skip


def _is_focused(locator) -> bool:
    return locator.evaluate("el => el === document.activeElement")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(FORMS))
def test_a_refused_back_office_form_leads_to_each_problem(
    browser, live_server, screenshot_dir, name, width
):
    who, path, typed, button, messages = FORMS[name]
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, who)
    page.goto(live_server + path)
    for label, value in typed.items():
        page.get_by_label(label, exact=True).fill(value)
    with page.expect_navigation():
        page.locator("main").get_by_role("button", name=button, exact=True).click()

    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary")
    assert _is_focused(summary)
    assert summary.get_by_role("listitem").all_inner_texts() == messages
    assert page.evaluate(PAGE_AUDIT) == []
    page.screenshot(path=f"{screenshot_dir}/{width}-{name}-errors.png", full_page=True)
    for message in messages:
        link = summary.get_by_role("link", name=message, exact=True)
        field = page.locator(link.get_attribute("href"))
        link.click()
        assert _is_focused(field), message
        assert field.get_attribute("aria-invalid") == "true"
        beside = page.locator(f"#{field.get_attribute('id')}-error")
        assert beside.inner_text().removeprefix("Error:").strip() == message
    for label, value in typed.items():  # what was typed is still there
        assert page.get_by_label(label, exact=True).input_value() == value
    assert page.locator(".flash-error").count() == 0  # each problem said once
    context.close()
