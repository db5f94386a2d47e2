"""Contrast and charts (issue 11, item 6), measured in Chromium from computed styles.

- Field edges and the focus ring stand out at least 3:1 from what is around them
  (WCAG 1.4.11): every text field, select and text area, and every element the Tab key
  reaches, on pages with light and dark backgrounds.
- Chart labels keep a readable size (at least 12 CSS pixels as drawn) and do not collide
  at 320, 390 and 1280 px; each chart is an image with a name and a description, and its
  figures are in a table after it."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, STAFF_EMAIL, sign_in

pytestmark = pytest.mark.e2e

# In the page: WCAG's contrast ratio, and the colour behind an element (the first
# ancestor with a background; the canvas is white).
COLOUR_HELPERS = """
  const rgb = text => { const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null; const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const behind = el => { for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : el.name ? `[name=${el.name}]` : '')
    + (el.textContent.trim() ? ` "${el.textContent.trim().slice(0, 30)}"` : '');
"""

FIELD_EDGES = (
    "() => {"
    + COLOUR_HELPERS
    + """
  const found = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'checkbox', 'radio', 'submit', 'file'].includes(el.type) || !el.offsetParent) continue;
    const style = getComputedStyle(el), edge = rgb(style.borderTopColor);
    const around = behind(el.parentElement), inside = behind(el);
    const worst = Math.min(ratio(edge, around), ratio(edge, inside));
    found.push({what: name(el), ratio: Math.round(worst * 100) / 100,
                width: parseFloat(style.borderTopWidth)});
  }
  return found;
}"""
)

FOCUS_RING = (
    "() => {"
    + COLOUR_HELPERS
    + """
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {what: name(el), style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: Math.round(ratio(rgb(style.outlineColor), behind(el.parentElement)) * 100) / 100};
}"""
)

CONTRAST_PAGES = [  # (who, path): light pages, white cards, the dark header, forms
    (None, "/"),
    (None, "/products"),
    (None, "/login"),
    ("admin", "/admin/batches/new"),
    ("admin", "/admin/orders"),
    ("staff", "/staff/trainees/1"),
]
SIGN_INS = {"admin": ADMIN_EMAIL, "staff": STAFF_EMAIL}
MAX_TABS = 80


def _page(browser, live_server, who, width=1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    if who:
        sign_in(page, live_server, SIGN_INS[who])
    return context, page


@pytest.mark.parametrize("who, path", CONTRAST_PAGES)
def test_field_edges_and_the_focus_ring_stand_out_3_to_1(browser, live_server, who, path):
    context, page = _page(browser, live_server, who)
    page.goto(live_server + path)
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    problems = [
        f"field edge of {f['what']}: {f['ratio']}:1"
        for f in page.evaluate(FIELD_EDGES)
        if f["ratio"] < 3 or f["width"] < 1
    ]
    reached = 0
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None:
            break
        reached += 1
        if ring["style"] == "none" or ring["width"] < 2 or ring["ratio"] < 3:
            problems.append(
                f"focus ring of {ring['what']}: {ring['style']} {ring['width']}px, {ring['ratio']}:1"
            )
    context.close()
    assert reached > 3, "the Tab key reached almost nothing"
    assert problems == [], f"{path}:\n" + "\n".join(problems)


# --- Charts ---------------------------------------------------------------------------

CHART_PAGES = [(None, "/impact"), ("admin", "/admin/"), ("staff", "/staff/trainees/1")]

CHART_AUDIT = """() => {
  const problems = [];
  const charts = document.querySelectorAll('svg.chart');
  for (const svg of charts) {
    if (svg.getAttribute('role') !== 'img') problems.push('the chart is not role="img"');
    const ids = (svg.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    const named = ids.map(id => document.getElementById(id)).filter(Boolean);
    if (!named.some(e => e.tagName === 'title') || !named.some(e => e.tagName === 'desc'))
      problems.push('the chart is not named by its <title> and <desc>');
    const box = svg.getBoundingClientRect();
    const labels = [...svg.querySelectorAll('text')].filter(t => getComputedStyle(t).display !== 'none');
    const rects = labels.map(t => t.getBoundingClientRect());
    labels.forEach((t, i) => {
      const drawn = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
      if (drawn < 12) problems.push(`label "${t.textContent}" drawn at ${drawn.toFixed(1)}px`);
      const r = rects[i];
      if (r.left < box.left - 1 || r.right > box.right + 1)
        problems.push(`label "${t.textContent}" sticks out of the chart`);
      rects.forEach((o, j) => {
        if (j > i && r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom)
          problems.push(`labels "${t.textContent}" and "${labels[j].textContent}" overlap`);
      });
    });
    // Its figures, as a table after it: every month with an amount, in a row of its own.
    const tables = [...document.querySelectorAll('table')].filter(
      t => svg.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING);
    const rows = tables.flatMap(t => [...t.querySelectorAll('tr')].map(r => r.textContent.replace(/\\s+/g, ' ')));
    for (const bar of svg.querySelectorAll('rect title')) {
      // "month: amount", with the language's own colon (Khmer writes ៖).
      const [month, amount] = bar.textContent.split(/[:\u17d6] /);
      if (amount.match(/[1-9]/) && !rows.some(r => r.includes(month) && r.includes(amount)))
        problems.push(`no table row gives ${bar.textContent}`);
    }
  }
  return {count: charts.length, problems};
}"""


@pytest.mark.parametrize("width", [320, 390, 1280])
@pytest.mark.parametrize("who, path", CHART_PAGES)
def test_charts_are_readable_and_their_figures_reach_screen_readers(
    browser, live_server, screenshot_dir, who, path, width
):
    context, page = _page(browser, live_server, who, width)
    page.goto(live_server + path)
    found = page.evaluate(CHART_AUDIT)
    chart = page.locator("svg.chart").first
    if found["count"]:
        chart.screenshot(
            path=f"{screenshot_dir}/chart-{width}-{path.strip('/').replace('/', '_')}.png"
        )
    context.close()
    assert found["count"] == 1, f"no chart on {path}"
    assert found["problems"] == [], f"{path} at {width}px:\n" + "\n".join(found["problems"])
