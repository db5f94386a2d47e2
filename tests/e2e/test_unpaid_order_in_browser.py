"""An unpaid order is never lost, in a real browser: Back from the pay page finds the order
waiting (not an empty cart) and finishes paying it; Change details on the pay page takes
the buyer back to a filled-in checkout, and the order placed again replaces the first."""

from __future__ import annotations

import pytest

from tests.e2e.buying import BUYER, TOTE, add_to_cart, pay, place_order

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def test_back_from_the_pay_page_then_finish_paying(phone, live_server, screenshot_dir):
    page = phone
    add_to_cart(page, live_server)
    pay_page = place_order(page, live_server)
    number = page.locator("h1 .nowrap").inner_text()

    page.go_back()  # to fix the address, say
    page.wait_for_url(f"{live_server}/cart")
    assert page.get_by_role("heading", name=f"Order {number} is waiting for payment").is_visible()
    assert page.get_by_text("Your cart is empty").count() == 0
    page.screenshot(path=f"{screenshot_dir}/unpaid-390-cart-after-back.png", full_page=True)

    page.get_by_role("link", name="Finish paying").click()
    assert page.url == pay_page
    pay(page)
    assert page.get_by_text("Status: Paid").is_visible()
    page.goto(f"{live_server}/cart")
    assert page.get_by_text("Your cart is empty").is_visible()  # paid: nothing waits
    assert page.get_by_role("link", name="Finish paying").count() == 0


def test_change_details_from_the_pay_page(phone, live_server, screenshot_dir):
    page = phone
    add_to_cart(page, live_server, quantity="2")
    first = place_order(page, live_server)
    first_number = page.locator("h1 .nowrap").inner_text()
    details = page.get_by_role("region", name="Your details")
    assert details.get_by_text(BUYER["Email"]).is_visible()
    assert details.get_by_text("12 Long Street").is_visible()
    assert details.get_by_text("Standard post").is_visible()

    details.get_by_role("button", name="Change your details").click()
    page.wait_for_url(f"{live_server}/checkout")
    assert page.get_by_text(f"Order {first_number} is cancelled").is_visible()
    assert page.get_by_label("Email").input_value() == BUYER["Email"]
    assert page.get_by_label("City").input_value() == "San Francisco"
    assert page.get_by_label("Country").input_value() == "US"
    assert page.get_by_role("listitem").filter(has_text=f"2 × {TOTE}").is_visible()
    page.screenshot(path=f"{screenshot_dir}/unpaid-390-checkout-prefilled.png", full_page=True)

    page.get_by_label("Address", exact=True).fill("3 Quai Perrache")
    page.get_by_label("Express courier").check()
    page.get_by_role("button", name="Place order and pay").click()
    page.wait_for_url("**/pay")
    assert page.url != first
    details = page.get_by_role("region", name="Your details")
    assert details.get_by_text("3 Quai Perrache").is_visible()
    assert details.get_by_text("Express courier").is_visible()

    page.goto(first)  # the first order's pay page, in an old tab or the email
    assert page.get_by_role(
        "heading", name=f"Order {first_number} can no longer be paid"
    ).is_visible()
    assert page.get_by_text("was cancelled, and nothing was charged").is_visible()
