"""The main pages in a real browser, at phone and desktop width."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

MAIN_PAGES = [
    "/",
    "/products",
    "/products?category=bags&sort=price_asc",
    "/products/buy-her-bag-tote",
    "/products/first-edition-tote",
    "/workshops",
    "/workshops/riverside-sewing-school",
    "/workshops/lantern-jewellery-studio",
    "/p/MS-2026-03-BHB-N",
    "/impact",
    "/login",
    "/register",
    "/password/forgot",
    "/cart",
    "/no-such-page",
]
WIDTHS = {"phone": 375, "desktop": 1280}

# Run in the page: what a careful reviewer checks by hand.
PAGE_AUDIT = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1)
    problems.push(`scrolls sideways: ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  if (!document.querySelector('main')) problems.push('no <main>');
  for (const img of document.images) {
    if (!img.hasAttribute('alt')) problems.push(`image without alt: ${img.src}`);
    if (img.complete && img.naturalWidth === 0) problems.push(`image failed to load: ${img.src}`);
  }
  for (const field of document.querySelectorAll('input, select, textarea')) {
    if (field.type === 'hidden') continue;
    const labelled = (field.id && document.querySelector(`label[for="${field.id}"]`))
      || field.getAttribute('aria-label');
    if (!labelled) problems.push(`field without a label: ${field.name}`);
  }
  return problems;
}"""


@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_main_pages_render_cleanly(browser, live_server, screenshot_dir, width_name):
    context = browser.new_context(viewport={"width": WIDTHS[width_name], "height": 900})
    page = context.new_page()
    console_errors, failed = [], []
    page.on(
        "console", lambda m: m.type == "error" and console_errors.append(f"{page.url}: {m.text}")
    )
    page.on("pageerror", lambda e: console_errors.append(f"{page.url}: {e}"))
    page.on(
        "response",
        lambda r: (
            r.status >= 400 and "no-such-page" not in r.url and failed.append(f"{r.status} {r.url}")
        ),
    )
    problems = {}
    for path in MAIN_PAGES:
        response = page.goto(live_server + path, wait_until="load")
        assert response is not None
        assert response.status == (404 if path == "/no-such-page" else 200), path
        found = page.evaluate(PAGE_AUDIT)
        if found:
            problems[path] = found
        name = path.strip("/").replace("/", "_").replace("?", "_").replace("&", "_") or "home"
        page.screenshot(path=f"{screenshot_dir}/{width_name}-{name}.png", full_page=True)
    context.close()
    assert problems == {}
    assert failed == []
    # the 404 page's own status is reported as a console error by Chromium
    assert [e for e in console_errors if "404" not in e] == []


def test_a_shopper_finds_a_tote_and_follows_it_to_its_batch_record(browser, live_server):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(live_server + "/")
    page.get_by_role("link", name="Shop all products").click()
    page.get_by_label("Search").fill("tote")
    page.get_by_role("button", name="Show").click()
    assert page.get_by_text("products matching “tote”").is_visible()
    page.get_by_role("link", name="Buy Her Bag Tote").first.click()
    assert page.get_by_role("heading", name="Where it was made").is_visible()
    assert page.get_by_text("Vetted partner").is_visible()
    page.get_by_role("link", name="Batch record MS-2026-03-BHB-N").click()
    assert page.get_by_role("heading", name="Batch MS-2026-03-BHB-N").is_visible()
    qr = page.get_by_alt_text("QR code linking to this batch record")
    assert qr.evaluate("img => img.naturalWidth") > 0
    context.close()
