"""The content pages and the printed order (issue 11, buyers 7), in a real browser at 320,
390 and 1280 px: the pages read well and never scroll sideways, an admin edits one, and
the order page prints in black on white on a single sheet, without the site's header,
footer or buttons."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, PASSWORD

pytestmark = pytest.mark.e2e

WIDTHS = [320, 390, 1280]
SLUGS = ["shipping", "returns", "contact", "privacy", "terms"]
CHECKOUT = {
    "email": "print.buyer@example.com", "name": "Ana Buyer",
    "address_line1": "12 Rue des Tisserands", "address_line2": "Bâtiment B", "city": "Lyon",
    "postal_code": "69001", "country": "FR", "shipping_method": "standard",
}  # fmt: skip

NO_SIDEWAYS_SCROLL = """() => document.documentElement.scrollWidth
    <= document.documentElement.clientWidth + 1"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_content_pages_read_well_at_every_width(browser, live_server, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    page.goto(live_server + "/")
    footer = page.get_by_role("navigation", name="Store information")
    assert [a.inner_text() for a in footer.get_by_role("link").all()] == [
        "Shipping", "Returns", "Contact", "Privacy", "Terms",
    ]  # fmt: skip
    for slug in SLUGS:
        response = page.goto(f"{live_server}/pages/{slug}")
        assert response is not None and response.status == 200, slug
        assert page.locator("h1").count() == 1, slug
        assert page.locator("main p").count() >= 3, slug  # the demo's text is there
        assert page.evaluate(NO_SIDEWAYS_SCROLL), (slug, width)
        page.screenshot(path=f"{screenshot_dir}/content-{width}-{slug}.png", full_page=True)
    # a footer link really leads there
    page.goto(live_server + "/products")
    page.get_by_role("navigation", name="Store information").get_by_role(
        "link", name="Returns"
    ).click()
    assert page.url.endswith("/pages/returns")
    assert "30 days" in page.locator("main").inner_text()
    context.close()
    assert errors == []


def test_an_admin_edits_a_page_and_the_shop_shows_it(browser, live_server, screenshot_dir):
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(live_server + "/pages/terms")  # now in the page cache
    page.goto(live_server + "/admin/pages")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server + "/admin/pages")
    page.get_by_role("link", name="Terms of sale").click()
    title, text = page.get_by_label("Title"), page.get_by_label("Text")
    title.fill("")
    page.get_by_role("button", name="Save").click()
    assert page.title().startswith("Error: Edit Terms of sale")
    assert page.locator("#title-error").get_by_text("Enter a title.").is_visible()
    assert page.locator(".error-summary").get_by_role("link", name="Enter a title.").is_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=f"{screenshot_dir}/content-admin-edit-refused.png", full_page=True)
    page.get_by_label("Title").fill("Terms of sale")
    addition = "\n\n## Gift orders\n\nA gift can be *returned by its recipient* too."
    page.get_by_label("Text").fill(text.input_value() + addition)
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview (not saved)")
    assert "returned by its recipient" in preview.inner_text()
    page.screenshot(path=f"{screenshot_dir}/content-admin-edit-preview.png", full_page=True)
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Page saved").is_visible()
    page.goto(live_server + "/pages/terms")
    assert page.get_by_role("heading", name="Gift orders").is_visible()
    assert page.locator("main em", has_text="returned by its recipient").is_visible()
    context.close()


def _buy(context, live_server) -> str:
    """An order placed and paid (the cart through the product page, the rest by form
    posts, which other tests drive in the browser): its page's address."""
    page = context.new_page()
    page.goto(live_server + "/products/buy-her-bag-tote")
    page.get_by_role("button", name=re.compile("Add to cart")).click()
    placed = context.request.post(live_server + "/checkout", form=CHECKOUT)
    assert placed.ok and "/pay" in placed.url, placed.url
    paid = context.request.post(placed.url, form={"card_number": "4242 4242 4242 4242"})
    assert paid.ok and re.search(r"/orders/[^/]+$", paid.url), paid.url
    page.close()
    return paid.url


PRINTED = """() => {
  const shown = (sel) => [...document.querySelectorAll(sel)].filter(
      (e) => getComputedStyle(e).display !== 'none');
  const body = getComputedStyle(document.body);
  return {
    hidden: ['.site-header', '.site-footer', '.button', 'button', 'form', '.skip-link']
        .filter((sel) => shown(sel).length > 0),
    background: getComputedStyle(document.documentElement).backgroundColor + ' / ' +
        body.backgroundColor,
    ink: [...document.querySelectorAll('main *')].map((e) => getComputedStyle(e).color)
        .filter((c, i, all) => all.indexOf(c) === i),
    printOnly: shown('.print-only').length,
  };
}"""


def test_the_order_page_prints_black_on_white_on_one_sheet(browser, live_server, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    order_url = _buy(context, live_server)
    for width in WIDTHS:
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(order_url)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), width
        page.screenshot(path=f"{screenshot_dir}/order-screen-{width}.png", full_page=True)
        page.emulate_media(media="print")
        printed = page.evaluate(PRINTED)
        assert printed["hidden"] == [], printed  # header, footer, buttons: none printed
        assert printed["background"] in (
            "rgb(255, 255, 255) / rgb(255, 255, 255)",
            "rgb(255, 255, 255) / rgba(0, 0, 0, 0)",
        ), printed
        assert printed["ink"] == ["rgb(0, 0, 0)"], printed
        assert printed["printOnly"] == 1  # the store's name and the order's address
        assert page.evaluate(NO_SIDEWAYS_SCROLL), ("printed", width)
        main = page.locator("main").inner_text()
        for fact in ("Placed", "Paid on", "Card", "Standard post", "Ana Buyer", "69001 LYON",
                     "FRANCE", "Buy Her Bag Tote", "training accounts"):  # fmt: skip
            assert fact in main, (width, fact)
        page.screenshot(path=f"{screenshot_dir}/order-print-{width}.png", full_page=True)
        page.close()
    page = context.new_page()
    page.goto(order_url)
    pdf = page.pdf(format="A4")
    sheets = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert sheets == 1, f"the order printed on {sheets} sheets"
    with open(f"{screenshot_dir}/order-print.pdf", "wb") as out:
        out.write(pdf)
    context.close()
