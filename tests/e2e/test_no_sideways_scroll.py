"""WCAG 1.4.10 (reflow): at 320 px nothing scrolls sideways and nothing is cut off, on
every public page and on the buyer's own pages (the cart with items, checkout, the pay
page, the cart with an unpaid order, the order page), at 390 and 1280 px too; with a
product whose name has words wider than a phone's line ("Schlüsselanhängerbeutel", a
36-letter word) on the list, its page, the cart, checkout, the pay and order pages. Such
a word breaks; an ordinary one never does ("Block- / Print / T- / Shirt"); and the order's
totals are whole ("$2,5", "Tot" were all that showed)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.buying import (
    LONG_NAME,
    LONG_NAME_SLUG,
    LONG_WORDS_IMPORTS,
    LONG_WORDS_NAME,
    LONG_WORDS_SLUG,
    LONGEST_WORD,
    add_to_cart,
    pay,
    place_order,
)
from tests.e2e.conftest import seeded_app, serving

pytestmark = pytest.mark.e2e

WIDTHS = (320, 390, 1280)
PUBLIC_PAGES = [
    "/",
    "/products",
    "/products?q=tote&sort=price_asc",
    "/products/block-print-tshirt",
    f"/products/{LONG_WORDS_SLUG}",
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


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The demo store with the long-worded product on sale (a store of its own: the
    other browser tests count the demo's products)."""
    app = seeded_app(tmp_path_factory.mktemp("reflow"), *LONG_WORDS_IMPORTS)
    with serving(app) as base:
        yield base


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

# Text a reader cannot see whole: past the window's edge, or past the edge of a box that
# clips or scrolls it (a tile's `overflow: hidden`, a table's scrolling box). Text hidden
# on purpose (for screen readers only, the skip link, a select's options) is left out.
CUT_TEXT = """() => {
  const width = window.innerWidth;
  const found = [];
  const meant = (node) => {
    for (let el = node.parentElement; el; el = el.parentElement) {
      if (el.matches('select, script, style, .skip-link')) return true;
      const clip = getComputedStyle(el).clip;
      if (clip && clip !== 'auto') return true;
    }
    return false;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim() || meant(node)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const text = node.data.trim().slice(0, 40);
    for (const r of range.getClientRects()) {
      if (r.width === 0) continue;
      if (r.right > width + 1) { found.push(`"${text}" past the window (${Math.round(r.right)}px)`); break; }
      let cut = null;
      for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
        if (getComputedStyle(up).overflowX === 'visible') continue;
        const box = up.getBoundingClientRect();
        const left = box.left + up.clientLeft, right = left + up.clientWidth;
        if (r.right > right + 1 || r.left < left - 1) { cut = up; break; }
      }
      if (cut) { found.push(`"${text}" cut by ${cut.tagName.toLowerCase()}.${cut.className}`); break; }
    }
    if (found.length > 8) break;
  }
  return found;
}"""

# Words of product names that break across lines though they would fit on one: only a
# word wider than its box may break ("Block- / Print" in a narrow column may not).
NAMES = ".cart-line-name a, .card-title, main h1, main table tbody th, .summary-lines li"
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const el of document.querySelectorAll(selector)) {
    let box = el;
    while (getComputedStyle(box).display.startsWith('inline')) box = box.parentElement;
    const style = getComputedStyle(box);
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const word of text.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        const pieces = [...range.getClientRects()].filter((r) => r.width > 0);
        const lines = new Set(pieces.map((r) => Math.round(r.top)));
        const wide = pieces.reduce((sum, r) => sum + r.width, 0);
        if (lines.size > 1 && wide <= room + 1) broken.push(`${word[0]} (${Math.round(wide)}px in ${Math.round(room)}px)`);
      }
    }
  }
  return broken;
}"""

# The amounts of the order's items table, and whether each is seen whole.
AMOUNTS = """() => [...document.querySelectorAll("main table td")].map((cell) => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const r = range.getBoundingClientRect();
  let seen = r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;
  for (let up = cell.parentElement; up && up !== document.body; up = up.parentElement) {
    if (getComputedStyle(up).overflowX === 'visible') continue;
    const box = up.getBoundingClientRect();
    const left = box.left + up.clientLeft;
    seen = seen && r.left >= left - 1 && r.right <= left + up.clientWidth + 1;
  }
  return [cell.innerText.trim(), seen];
})"""


def _check(page, label: str, problems: dict, screenshot_dir: str, width: int) -> None:
    found = [
        *page.evaluate(OVERFLOW),
        *page.evaluate(CUT_TEXT),
        *(f"broken: {word}" for word in page.evaluate(BROKEN_WORDS, NAMES)),
    ]
    if found:
        problems[f"{width}px {label}"] = found
    name = label.strip("/").replace("/", "_").replace("?", "_").replace("&", "_") or "home"
    page.screenshot(path=f"{screenshot_dir}/reflow-{width}-{name}.png", full_page=True)


def _check_totals(page, label: str, problems: dict, width: int) -> str:
    """Every amount of the order's table seen whole; returns the Total."""
    amounts = page.evaluate(AMOUNTS)
    cut = [text for text, seen in amounts if not seen]
    if cut or not all(re.fullmatch(r"\$[\d,]+\.\d\d", text) for text, _ in amounts):
        problems[f"{width}px {label}: amounts"] = amounts
    heading = page.get_by_role("rowheader", name="Total", exact=True)
    total = page.locator("main table tfoot tr").filter(has=heading).locator("td")
    return total.inner_text().strip()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(browser, store, screenshot_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    for path in PUBLIC_PAGES:
        assert page.goto(store + path).status == 200, path
        _check(page, path, problems, screenshot_dir, width)
    page.goto(store + "/products")
    assert page.locator(".card-title", has_text=LONGEST_WORD).is_visible()
    page.goto(f"{store}/products/{LONG_WORDS_SLUG}")
    assert page.locator("h1").inner_text() == LONG_WORDS_NAME

    add_to_cart(page, store, LONG_WORDS_SLUG, quantity="2")
    add_to_cart(page, store, LONG_NAME_SLUG)
    add_to_cart(page, store, quantity="2")
    _check(page, "cart with items", problems, screenshot_dir, width)
    assert page.locator(".cart-line-name", has_text=LONG_NAME).is_visible()
    assert page.locator(".cart-line-name", has_text=LONGEST_WORD).is_visible()
    page.goto(store + "/checkout")
    _check(page, "checkout", problems, screenshot_dir, width)
    place_order(page, store)
    _check(page, "pay page", problems, screenshot_dir, width)
    total = _check_totals(page, "pay page", problems, width)
    assert page.get_by_role("button", name=f"Pay {total}").is_visible()
    page.goto(store + "/cart")
    _check(page, "cart with an unpaid order", problems, screenshot_dir, width)
    page.get_by_role("link", name="Finish paying").click()
    pay(page)
    _check(page, "order page", problems, screenshot_dir, width)
    assert _check_totals(page, "order page", problems, width) == total
    context.close()
    assert problems == {}
