"""Bulk work on orders in a real browser, at 320, 390 and 1280 px: an admin finds the
orders to ship, ticks two, gives their tracking numbers and marks them shipped, then
prints their packing slips (print media emulated, and printed to PDF: one page per
order), and adds an internal note to one order's timeline. Orders with nothing to ship
(cancelled, waiting for payment, refunded in full) get no packing slip: each is named
with the reason."""

from __future__ import annotations

import re

import pytest
from flask import current_app
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests
from tests.conftest import serving
from tests.e2e.conftest import ADMIN_EMAIL, PASSWORD
from tests.e2e.test_pages_in_browser import PAGE_AUDIT

pytestmark = pytest.mark.e2e

WIDTHS = [320, 390, 1280]
CANNOT_SHIP_EMAIL = "cannot.ship@example.com"


def _orders_with_nothing_to_ship() -> None:
    """For CANNOT_SHIP_EMAIL: one order to ship, and one cancelled, one waiting for payment
    and one refunded in full before shipping."""
    from shop.catalog.models import Variant
    from shop.extensions import db
    from shop.orders import cart as carts
    from shop.orders.checkout import BuyerDetails, place_order
    from shop.orders.gateways import DummyGateway
    from shop.orders.holds import cancel_unpaid
    from shop.orders.payments import payment_succeeded, start_payment
    from shop.orders.refunds import refund_order

    variant = db.session.scalars(
        db.select(Variant).where(Variant.available >= 10).order_by(Variant.id)
    ).first()
    buyer = BuyerDetails(
        email=CANNOT_SHIP_EMAIL, name="Nora Ship", address_line1="2 Example Street",
        address_line2="", city="Lyon", postal_code="69001", country_code="FR",
        shipping_method="standard",
    )  # fmt: skip
    orders = []
    for _ in range(4):
        cart: dict = {}
        carts.write(cart, {variant.id: 1})
        orders.append(place_order(cart, buyer, gateway_name="dummy",
                                  currency=current_app.config["STORE_CURRENCY"]))  # fmt: skip
    to_ship, cancelled, _waiting, refunded = orders
    cancel_unpaid(cancelled)
    for order in (to_ship, refunded):
        payment = start_payment(order, DummyGateway())
        payment_succeeded(order, gateway_name="dummy", reference=payment.reference,
                          amount=order.total, currency=order.currency)  # fmt: skip
    db.session.commit()
    refund_order(refunded.id, DummyGateway())
    db.session.commit()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A seeded store of its own: shipping changes its orders, which no other browser
    test should meet."""
    root = tmp_path_factory.mktemp("order-work")
    app = create_app(config_for_tests(f"sqlite:///{root / 'live.db'}", str(root / "media")))
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    made = runner.invoke(args=["create-user", ADMIN_EMAIL, "--role", "admin", "--password-stdin"],
                         input=f"{PASSWORD}\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    with app.app_context():
        _orders_with_nothing_to_ship()
    with serving(app) as base:
        yield base


def _submit(page, button: str) -> None:
    """Press a button that sends a form, and wait until the page it leads to has loaded
    (its stylesheet too: a page measured before it would look unstyled)."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=button).click()


def _audit(page, problems: dict, name: str) -> None:
    found = page.evaluate(PAGE_AUDIT)
    if found:
        problems[name] = found


@pytest.mark.parametrize("width", WIDTHS)
def test_ship_two_orders_then_print_their_slips(browser, store, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors, problems = [], {}
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.goto(store + "/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Sign in")

    page.goto(store + "/admin/orders")
    page.get_by_label("Status").select_option(label="To ship")
    page.get_by_label("Sort").select_option(label="Oldest first")
    _submit(page, "Show orders")
    assert "status=to_ship" in page.url
    _audit(page, problems, "orders")
    page.screenshot(path=f"{screenshot_dir}/{width}-orders.png", full_page=True)
    boxes = page.locator("input[name=order]")
    numbers = [
        page.locator(f"label[for='{boxes.nth(i).get_attribute('id')}']").inner_text().split()[-1]
        for i in range(2)
    ]
    for number in numbers:
        page.get_by_label(f"Select order {number}").check()
    _submit(page, "Mark shipped…")

    assert page.get_by_role("heading", name="Mark orders shipped").is_visible()
    _audit(page, problems, "ship-review")
    for i, number in enumerate(numbers):
        page.get_by_label(f"Tracking number of order {number}").fill(f"LX{width}{i}")
    page.screenshot(path=f"{screenshot_dir}/{width}-ship-review.png", full_page=True)
    _submit(page, "Mark 2 orders shipped")
    assert page.get_by_text(f"Shipped 2 orders: {numbers[0]}, {numbers[1]}").is_visible()
    assert "status=to_ship" in page.url  # back to the list as it was
    assert numbers[0] not in page.locator("table").inner_text()  # no longer to ship

    page.get_by_label("Status").select_option(label="Shipped")
    _submit(page, "Show orders")
    for number in numbers:
        page.get_by_label(f"Select order {number}").check()
    _submit(page, "Print packing slips")
    assert page.get_by_role("heading", name="Packing slips").is_visible()
    _audit(page, problems, "slips")
    page.screenshot(path=f"{screenshot_dir}/{width}-slips-screen.png", full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.get_by_role("heading", name="Packing slips").is_visible()
    for number in numbers:
        assert page.get_by_role("heading", name=f"Packing slip: order {number}").is_visible()
    slips = page.locator(".packing-slip")
    assert slips.count() == 2 and "Batch codes" in slips.first.inner_text()
    assert re.search(r"[A-Z]{2}-\d{4}-\d{2}", slips.first.inner_text())  # a batch code
    page.screenshot(path=f"{screenshot_dir}/{width}-slips-print.png", full_page=True)
    pdf = page.pdf(width="210mm", height="297mm", print_background=False)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2  # one page per order
    page.emulate_media(media="screen")

    page.goto(store + "/admin/orders?q=" + numbers[0])
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=numbers[0]).click()
    page.get_by_label("Internal note").fill("Gift wrap asked for by phone.")
    _submit(page, "Add note")
    timeline = page.locator("#timeline").inner_text()
    assert "Shipped" in timeline and f"tracking LX{width}0" in timeline
    assert "Gift wrap asked for by phone." in timeline
    _audit(page, problems, "order")
    page.screenshot(path=f"{screenshot_dir}/{width}-order-timeline.png", full_page=True)
    context.close()
    assert problems == {}
    assert errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_orders_with_nothing_to_ship_get_no_packing_slip(browser, store, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = {}
    page.goto(store + "/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Sign in")

    page.goto(store + "/admin/orders?q=" + CANNOT_SHIP_EMAIL)
    boxes = page.locator("input[name=order]")
    assert boxes.count() == 4
    for i in range(4):
        boxes.nth(i).check()
    _submit(page, "Print packing slips")
    left_out = page.get_by_role("region", name="Left out: no packing slip")
    reasons = left_out.get_by_role("listitem").all_inner_texts()
    assert len(reasons) == 3
    assert any(r.endswith("is cancelled: it cannot be shipped now.") for r in reasons)
    assert any(r.endswith("is waiting for payment: it cannot be shipped now.") for r in reasons)
    assert any(r.endswith("was refunded in full, so there is nothing to ship.") for r in reasons)
    _audit(page, problems, "slips-left-out")
    page.screenshot(path=f"{screenshot_dir}/{width}-slips-left-out.png", full_page=True)
    page.emulate_media(media="print")
    assert not left_out.is_visible()  # not on paper: only the one slip is
    assert page.locator(".packing-slip").count() == 1
    assert "not allocated yet" not in page.locator(".packing-slip").inner_text()
    page.emulate_media(media="screen")

    page.goto(store + "/admin/orders?q=" + CANNOT_SHIP_EMAIL + "&status=cancelled")
    page.locator("input[name=order]").first.check()
    _submit(page, "Print packing slips")
    assert page.get_by_text("No packing slip to print").is_visible()
    assert page.locator(".packing-slip").count() == 0
    _audit(page, problems, "slips-none")
    page.screenshot(path=f"{screenshot_dir}/{width}-slips-none.png", full_page=True)
    context.close()
    assert problems == {}
