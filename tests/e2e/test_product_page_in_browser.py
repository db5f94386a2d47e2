"""The product page in a real browser (issue 11, buyers 5 and 8): Add to cart in a
phone's first screen, a gallery whose thumbnails work with JavaScript off, the main
picture fetched first, an over-stock error beside the quantity, and JSON-LD that the
strict content security policy does not block."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
WIDTHS = (320, 390, 1280)
# A colour, a size, a length to choose, and one with nothing to choose; a gallery each.
PRODUCTS = ["buy-her-bag-tote", "block-print-tshirt", "lantern-necklace", "coaster-set"]
# Every product of the demo on sale.
ON_SALE = [
    *PRODUCTS, "rice-paper-tote", "market-cloth-bag", "zip-pouch", "carved-card-holder",
    "pattern-cutters-tee", "silk-tie", "river-stone-bracelet", "lotus-earrings", "cushion-cover",
]  # fmt: skip

# Recorded before any page script runs: every CSP violation the page reports.
WATCH_CSP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


# Phones' first screens: the part of a 390 px iPhone that Safari leaves the page with its
# bars shown (390x664), a small Android (360x640), and a tall phone (390x844).
FIRST_SCREENS = [(390, 664), (360, 640), (390, 844)]


@pytest.mark.parametrize(("width", "height"), FIRST_SCREENS)
def test_add_to_cart_is_in_a_phones_first_screen(
    browser, live_server, screenshot_dir, width, height
):
    """The title, the price, every option and Add to cart are on the first screen, with
    the main picture whole (square, not cropped) above them and its thumbnails working."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    for slug in ON_SALE:
        page.goto(f"{live_server}/products/{slug}")
        needed = [page.locator("h1"), page.locator(".product-price"),
                  *page.locator(".option-group").all(),
                  page.get_by_role("button", name="Add to cart")]  # fmt: skip
        for part in needed:
            box = part.bounding_box()
            assert box is not None and box["y"] >= 0, (slug, part)
            assert box["y"] + box["height"] <= height, (slug, part, box)
        picture = page.locator("#picture-1 img").bounding_box()
        assert picture["y"] + picture["height"] <= height, slug
        assert abs(picture["width"] - picture["height"]) <= 1, (slug, picture)  # whole
        assert picture["height"] >= 176, (slug, picture)  # 11rem at least
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (slug, scroll)
        page.screenshot(path=f"{screenshot_dir}/first-screen-{width}x{height}-{slug}.png")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_product_page_screenshots(browser, live_server, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    for slug in PRODUCTS:
        page.goto(f"{live_server}/products/{slug}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, slug
        page.screenshot(path=f"{screenshot_dir}/product-{width}-{slug}.png")
    page.goto(f"{live_server}/products")
    page.screenshot(path=f"{screenshot_dir}/products-{width}.png")
    context.close()


def test_gallery_thumbnails_switch_the_picture_without_javascript(
    browser, live_server, screenshot_dir
):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/products/block-print-tshirt")
    first, second = page.locator("#picture-1"), page.locator("#picture-2")
    assert first.is_visible() and not second.is_visible()
    main = first.locator("img")
    assert main.get_attribute("fetchpriority") == "high"
    assert main.get_attribute("loading") is None  # the first picture is never lazy
    thumbs = page.get_by_role("link", name="Picture 2 of 2")
    thumbs.click()
    assert page.url.endswith("#picture-2")
    assert second.is_visible() and not first.is_visible()
    page.screenshot(path=f"{screenshot_dir}/product-gallery-second.png")
    page.get_by_role("link", name="Picture 1 of 2").click()
    assert first.is_visible() and not second.is_visible()
    context.close()


def test_too_many_keeps_the_quantity_and_says_so_beside_it(browser, live_server, screenshot_dir):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/products/lantern-necklace")
    page.get_by_text("45 cm", exact=False).first.click()
    page.get_by_label("Quantity").fill("60")
    page.get_by_role("button", name="Add to cart").click()
    quantity = page.get_by_label("Quantity")
    assert quantity.input_value() == "60"
    assert quantity.get_attribute("aria-invalid") == "true"
    error = page.locator("#" + quantity.get_attribute("aria-describedby"))
    assert "left" in error.inner_text() or "at most" in error.inner_text()
    assert page.locator('input[name="option.length"][value="45 cm"]').is_checked()
    assert page.title().startswith("Error:")
    page.screenshot(path=f"{screenshot_dir}/product-quantity-error.png")
    context.close()


def test_structured_data_is_read_and_no_policy_is_violated(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    for slug in PRODUCTS:
        page.goto(f"{live_server}/products/{slug}", wait_until="load")
        text = page.locator('script[type="application/ld+json"]').text_content()
        data = json.loads(text)
        assert data["@type"] == "Product" and data["name"] == page.locator("h1").inner_text()
        assert page.evaluate("window.__violations") == [], slug
    assert errors == []
    context.close()
