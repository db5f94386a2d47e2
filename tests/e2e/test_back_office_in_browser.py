"""The back office in a real browser: an admin signs in, records a production batch,
and the public product page shows the new stock."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, PASSWORD

pytestmark = pytest.mark.e2e


def _size_l_row(page):
    """The product page's choice of size L (its label says what is left)."""
    return page.locator('input[name="option.size"][value="L"] + label')


def test_an_admin_records_a_batch_and_the_shop_shows_the_stock(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    page.goto(live_server + "/products/pattern-cutters-tee")
    assert "Sold out" in _size_l_row(page).inner_text()

    page.goto(live_server + "/admin/batches/new")
    assert "/login" in page.url  # sent to sign in first
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="Record a production batch").is_visible()

    page.get_by_label("Workshop").select_option(label="Riverside Sewing School")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Batch code").fill("RS-2026-10-TEE-L")
    variants = page.get_by_label("Variant")
    # Only this workshop's variants are offered, each with its product and options.
    offered = variants.locator("option").all_inner_texts()
    assert "Pattern Cutter's T-Shirt (size: L) · TEE-PAT-L" in offered
    assert not any("TEE-BLK" in o for o in offered)  # another workshop's
    variants.select_option(label="Pattern Cutter's T-Shirt (size: L) · TEE-PAT-L")
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Month produced").fill("2026-10")
    page.get_by_label("Materials").fill("organic cotton")
    # Makers are picked by code and alias: never by their legal names.
    makers = page.locator("table.maker-table").inner_text()
    assert "KH-RS-001" in makers and "Dara" in makers and "Demo Trainee" not in makers
    page.get_by_label("Weight of KH-RS-001").fill("2")
    page.get_by_label("Weight of KH-RS-002").fill("1")
    page.get_by_role("button", name="Record batch").click()
    assert page.get_by_text("Batch RS-2026-10-TEE-L recorded").is_visible()

    page.goto(live_server + "/products/pattern-cutters-tee")
    assert "Only 3 left" in _size_l_row(page).inner_text()
    assert errors == []
    context.close()


BACK_OFFICE_PAGES = ["/admin/", "/admin/orders", "/admin/orders/1", "/admin/stock",
                     "/admin/stock/movements?variant=1", "/admin/batches/new",
                     "/admin/batches/new?workshop=1", "/admin/products/1", "/admin/audit",
                     "/staff/trainees", "/staff/trainees/1", "/staff/withdrawals",
                     "/staff/reconciliation", "/staff/audit", "/account"]  # fmt: skip


@pytest.mark.parametrize("width", [375, 1280])
def test_back_office_pages_render_cleanly(browser, live_server, screenshot_dir, width):
    from tests.e2e.conftest import STAFF_EMAIL
    from tests.e2e.test_pages_in_browser import PAGE_AUDIT

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    problems = {}
    for email, prefix in ((ADMIN_EMAIL, "/admin"), (STAFF_EMAIL, "/staff")):
        context.clear_cookies()
        page.goto(live_server + "/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        for path in [p for p in BACK_OFFICE_PAGES if p.startswith((prefix, "/account"))]:
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            found = page.evaluate(PAGE_AUDIT)
            if found:
                problems[path] = found
            name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "_")
            page.screenshot(path=f"{screenshot_dir}/{width}-{name}.png", full_page=True)
    context.close()
    assert problems == {}
    assert errors == []
