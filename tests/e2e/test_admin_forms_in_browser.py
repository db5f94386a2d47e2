"""The product editor and a confirmation page in a real browser with JavaScript off: at
1280, 390 and 320 px nothing scrolls sideways, the text areas and the option box are big
enough to work in, and the gallery is reordered, described and trimmed with its buttons,
the removal only through its confirmation page."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.e2e.conftest import ADMIN_EMAIL, PASSWORD
from tests.e2e.test_pages_in_browser import PAGE_AUDIT

pytestmark = pytest.mark.e2e

PRODUCT = "Block-Print T-Shirt"


def _admin_page(browser, live_server, width: int):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def _open_editor(page, live_server) -> None:
    page.goto(live_server + "/admin/products")
    page.get_by_role("link", name=PRODUCT, exact=True).click()
    assert page.get_by_role("heading", level=1, name=PRODUCT).is_visible()


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_the_product_editor_fits_the_screen(browser, live_server, screenshot_dir, width):
    context, page = _admin_page(browser, live_server, width)
    _open_editor(page, live_server)
    assert page.evaluate(PAGE_AUDIT) == []
    room = min(600, width - 80)  # the page's width less its margins, on a phone
    description = page.locator("textarea#description").bounding_box()
    story = page.locator("textarea#story").bounding_box()
    assert description["width"] >= room and description["height"] >= 120, description
    assert story["width"] >= room and story["height"] >= 200, story
    options = page.get_by_label("Options of TEE-BLK-M").bounding_box()
    assert options["width"] >= min(260, width - 80), options  # 'size=M;colour=indigo' fits
    assert page.get_by_label("Options of TEE-BLK-M").input_value() == "size=M"
    page.screenshot(path=f"{screenshot_dir}/product-editor-{width}.png", full_page=True)
    context.close()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (900, 600), (40, 90, 150)).save(out, "PNG")
    return out.getvalue()


def test_the_gallery_is_reordered_described_and_trimmed_without_script(
    browser, live_server, screenshot_dir, tmp_path
):
    context, page = _admin_page(browser, live_server, 1280)
    _open_editor(page, live_server)
    path = tmp_path / "folded.png"
    path.write_bytes(_png())
    kept = page.locator(".gallery-item").count()  # the demo's pictures of the product
    added = kept + 1
    page.get_by_text("Add an image").click()
    page.get_by_label("Image (JPEG, PNG or WebP, at most 5 MB)").set_input_files(str(path))
    upload = page.locator("form[enctype='multipart/form-data']")
    upload.get_by_label(re.compile("^Alt text")).fill("The T-shirt folded, in blue")
    page.get_by_role("button", name="Upload").click()
    assert page.get_by_text("Image added.").is_visible()
    assert page.get_by_text(f"Image {added} of {added}").is_visible()

    for position in range(added, 1, -1):  # up to the first place, one step at a time
        page.get_by_role("button", name=f"Move up image {position}").click()
    first = page.locator(".gallery-item").first
    assert first.get_by_label("Alt text of image 1").input_value() == "The T-shirt folded, in blue"
    shop = context.new_page()
    shop.goto(live_server + "/products/block-print-tshirt")
    assert shop.locator("main img").first.get_attribute("alt") == "The T-shirt folded, in blue"

    first.get_by_label("Alt text of image 1").fill("")
    first.get_by_role("button", name="Save the alt text of image 1").click()
    assert page.title().startswith("Error:")
    summary = page.locator(".error-summary")
    assert summary.evaluate("el => el === document.activeElement")  # read out first
    summary.get_by_role("link", name=re.compile("^Describe the image")).click()
    field = page.get_by_label("Alt text of image 1")
    assert field.evaluate("el => el === document.activeElement")  # the link reaches it
    assert field.get_attribute("aria-invalid") == "true" and field.input_value() == ""
    assert page.locator(".gallery-item").first.get_by_text("Describe the image").is_visible()
    field.fill("A blue T-shirt, folded on a table")
    page.get_by_role("button", name="Save the alt text of image 1").click()
    assert page.get_by_text("Alt text saved.").is_visible()
    shop.reload()
    assert (
        shop.locator("main img").first.get_attribute("alt") == "A blue T-shirt, folded on a table"
    )

    page.get_by_role("link", name="Remove… image 1").click()
    assert page.get_by_role("heading", name=f"Remove this image from “{PRODUCT}”?").is_visible()
    assert page.evaluate(PAGE_AUDIT) == []
    page.screenshot(path=f"{screenshot_dir}/confirm-remove-image-1280.png", full_page=True)
    form = page.locator("form.confirm-actions")
    action = live_server + form.get_attribute("action")
    fields = {
        name: form.locator(f"input[name='{name}']").get_attribute("value")
        for name in ("csrf_token", "confirmation")
    }
    page.get_by_role("button", name="Yes, remove the image").click()
    assert page.get_by_text("Image removed.").is_visible()
    assert page.get_by_text(f"Image {kept} of {kept}").is_visible()
    again = context.request.post(action, form=fields)  # the button pressed a second time
    assert again.status == 409 and "it acted once only" in again.text()
    page.reload()
    assert page.get_by_text(f"Image {kept} of {kept}").is_visible()
    page.goto(live_server + "/products/block-print-tshirt")
    assert page.locator("main img").count() >= 1
    context.close()


@pytest.mark.parametrize("width", [390])
def test_a_refund_is_confirmed_on_its_own_page_without_script(
    browser, live_server, screenshot_dir, width
):
    context, page = _admin_page(browser, live_server, width)
    page.goto(live_server + "/admin/orders/1")
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    page.get_by_label("Refund the shipping too").check()
    page.get_by_label("Reason").fill("Arrived late")
    page.get_by_role("button", name="Review the refund…").click()
    question = page.get_by_role("heading", level=1).inner_text()
    assert re.fullmatch(
        rf"Refund \$\d+\.\d\d on {number} through the test-mode gateway \(no money moves\)\?",
        question,
    ), question
    assert page.evaluate(PAGE_AUDIT) == []
    page.screenshot(path=f"{screenshot_dir}/confirm-refund-{width}.png", full_page=True)
    page.get_by_role("link", name="No, go back").click()
    assert page.get_by_role("heading", name="Refunds", exact=True).count() == 0  # none made
    page.get_by_label("Refund the shipping too").check()
    page.get_by_role("button", name="Review the refund…").click()
    page.get_by_role("button", name=re.compile(r"^Yes, refund \$")).click()
    assert page.get_by_text("Refunded through the payment gateway.").is_visible()
    assert page.get_by_role("heading", name="Refunds", exact=True).count() == 1
    context.close()
