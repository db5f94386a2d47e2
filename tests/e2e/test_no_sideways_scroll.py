"""WCAG 1.4.10 (reflow): at 320 px nothing scrolls sideways and nothing is cut off, on
every public page and on the buyer's own pages (the cart with items, checkout, the pay
page, the cart with an unpaid order, the order page), at 390 and 1280 px too; and a
product name in the cart never breaks inside a word ("Block- / Print / T- / Shirt")."""

from __future__ import annotations

import pytest

from tests.e2e.buying import LONG_NAME, LONG_NAME_SLUG, add_to_cart, pay, place_order

pytestmark = pytest.mark.e2e

WIDTHS = (320, 390, 1280)
PUBLIC_PAGES = [
    "/",
    "/products",
    "/products?q=tote&sort=price_asc",
    "/products/block-print-tshirt",
    "/workshops",
    "/workshops/riverside-sewing-school",
    "/p/MS-2026-03-BHB-N",
    "/verify",
    "/impact",
    "/login",
    "/register",
    "/password/forgot",
    "/cart",
]

# What sticks out of the window: the page scrolls sideways, or an element reaches past
# the right edge (cut off, or scrolling) unless a scrolling box of its own holds it.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const found = [];
  const scrolling = document.scrollingElement.scrollWidth;
  if (scrolling > width) found.push(`scrolls sideways: ${scrolling}px wide in ${width}px`);
  const scrollsItself = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const x = getComputedStyle(up).overflowX;
      if (x === 'auto' || x === 'scroll') return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('main *, header *, footer *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1 || scrollsItself(el)) continue;
    const name = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
    found.push(`${name} reaches ${Math.round(box.right)}px`);
    if (found.length > 8) break;
  }
  return found;
}"""

# The words of every product name in the cart each sit on one line.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const name of document.querySelectorAll('.cart-line-name a')) {
    const text = name.firstChild;
    let start = 0;
    for (const word of text.data.split(' ')) {
      const range = document.createRange();
      range.setStart(text, start);
      range.setEnd(text, start + word.length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) broken.push(word);
      start += word.length + 1;
    }
  }
  return broken;
}"""


def _check(page, label: str, problems: dict, screenshot_dir: str, width: int) -> None:
    found = page.evaluate(OVERFLOW)
    if found:
        problems[f"{width}px {label}"] = found
    name = label.strip("/").replace("/", "_").replace("?", "_").replace("&", "_") or "home"
    page.screenshot(path=f"{screenshot_dir}/reflow-{width}-{name}.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(browser, live_server, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    for path in PUBLIC_PAGES:
        assert page.goto(live_server + path).status == 200, path
        _check(page, path, problems, screenshot_dir, width)

    add_to_cart(page, live_server, LONG_NAME_SLUG)
    add_to_cart(page, live_server, quantity="2")
    _check(page, "cart with items", problems, screenshot_dir, width)
    assert page.locator(".cart-line-name", has_text=LONG_NAME).is_visible()
    assert page.evaluate(BROKEN_WORDS) == []
    page.goto(live_server + "/checkout")
    _check(page, "checkout", problems, screenshot_dir, width)
    place_order(page, live_server)
    _check(page, "pay page", problems, screenshot_dir, width)
    page.goto(live_server + "/cart")
    _check(page, "cart with an unpaid order", problems, screenshot_dir, width)
    page.get_by_role("link", name="Finish paying").click()
    pay(page)
    _check(page, "order page", problems, screenshot_dir, width)
    context.close()
    assert problems == {}
