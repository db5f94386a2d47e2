"""The staff pages in Khmer, Hindi and Bengali in a real browser, at 390 and 1280 px: the
trainee's statement, the withdrawals to decide and a workshop's page. Nothing scrolls
sideways or is cut off; the Khmer, Devanagari and Bengali text is drawn with the fonts
the store serves itself (static/fonts/: the FontFace is loaded, Chromium says it drew
the glyphs, no other font stands in), fetched from the store's own origin and nowhere
else. The page's language is chosen with `?lang=` (saved on the account), and the test
data names people, workshops and payees in each script, so the fonts are exercised
whether or not the pages' own words are translated yet. Screenshots are kept
(SCREENSHOT_DIR, e.g. screenshots/): staff-trainee-km-390.png and so on."""

from __future__ import annotations

import warnings
from pprint import pformat
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import STAFF_EMAIL, seeded_app, serving, sign_in
from tests.e2e.test_contrast_and_charts import CHART_AUDIT
from tests.e2e.test_no_sideways_scroll import CUT_TEXT, OVERFLOW

pytestmark = pytest.mark.e2e

WIDTHS = (390, 1280)
# language -> (its script's font, a workshop, a trainee's legal name, alias, a payee)
PEOPLE = {
    "km": ("Noto Sans Khmer", "មជ្ឈមណ្ឌលកាត់ដេរ ភ្នំពេញ", "សុខ ស្រីពៅ", "ស្រីពៅ", "ហាងក្រណាត់ សុវណ្ណ"),
    "hi": (
        "Noto Sans Devanagari",
        "बिहार सिलाई प्रशिक्षण केंद्र",
        "सुनीता कुमारी",
        "सुनीता",
        "पटना कपड़ा भंडार",
    ),
    "bn": ("Noto Sans Bengali", "কলকাতা সেলাই প্রশিক্ষণ কেন্দ্র", "সুমি দাস", "সুমি", "শিয়ালদহ কাপড়ের দোকান"),
}
FAMILIES = {family for family, *_ in PEOPLE.values()}
SCRIPTS = {  # the script's letters in a JS regular expression, and one letter to check
    "Noto Sans Khmer": ("[\\u1780-\\u17FF]", "ក"),
    # Devanagari less its two dandas (U+0964, U+0965), which Bengali writes too.
    "Noto Sans Devanagari": ("[\\u0900-\\u0963\\u0966-\\u097F]", "क"),
    "Noto Sans Bengali": ("[\\u0980-\\u09FF]", "ক"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The demo store, with a workshop, a trainee (a sale shared, a withdrawal waiting)
    named in each language's script; the pages to visit for each language."""
    from shop.extensions import db
    from shop.training.models import WithdrawalPurpose
    from shop.training.services import request_withdrawal
    from tests import factories as f
    from tests.training.conftest import paid_order

    app = seeded_app(tmp_path_factory.mktemp("languages"))
    pages = {}
    with app.app_context():
        requester = f.user("staff")
        for code, (_family, workshop, name, alias, payee) in PEOPLE.items():
            w = f.workshop(name=workshop, country_code="KH" if code == "km" else "IN")
            product = f.product(w, price=25_000, impact_share_bps=1000, name=f"{alias} tote")
            maker = f.trainee(w, legal_name=name, alias=alias, alias_consent=True)
            f.batch(product.variants[0], quantity=10, makers=[(maker, 1)])
            paid_order([(product.variants[0], 4)])
            request_withdrawal(
                trainee_id=maker.id, amount=1250, purpose=WithdrawalPurpose.MATERIALS,
                payee=payee, details="", requested_by=requester,
            )  # fmt: skip
            pages[code] = {
                "trainee": f"/staff/trainees/{maker.id}",
                "withdrawals": "/staff/withdrawals",
                "workshop": f"/staff/workshops/{w.id}",
            }
        db.session.commit()
    with serving(app) as base:
        yield base, pages


# The text of each script on the page (the menu's <select> left out: only its chosen
# language shows), each element holding some marked for the font check below.
SCRIPT_TEXT = """(scripts) => {
  const found = {};
  let mark = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest('select, script, style, title, desc') || !el.getClientRects().length) continue;
    for (const [family, pattern] of Object.entries(scripts)) {
      if (!new RegExp(pattern).test(node.data)) continue;
      if (!el.dataset.scriptText) el.dataset.scriptText = String(mark++);
      (found[family] = found[family] || []).push(el.dataset.scriptText);
    }
  }
  return found;
}"""

# The FontFaces of each family: [weight, status] ("loaded" once the page drew with it).
FACES = """() => [...document.fonts].map((face) => [face.family.replaceAll('"', ''), face.weight, face.status])"""


def _drawn_with(cdp, selector: str) -> dict[str, int]:
    """The fonts Chromium drew an element's text with: {family: glyphs}."""
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def _check_fonts(page, cdp, label: str, own: str, problems: dict) -> None:
    page.evaluate("document.fonts.ready.then(() => true)")
    scripts = {family: pattern for family, (pattern, _letter) in SCRIPTS.items()}
    found = page.evaluate(SCRIPT_TEXT, scripts)
    if own not in found:
        problems[label] = [f"no text in {own} to check"]
        return
    system = set(_drawn_with(cdp, ".brand"))  # the system font Latin text is drawn with
    faces = page.evaluate(FACES)
    for family, marks in found.items():
        letter = SCRIPTS[family][1]
        if not page.evaluate(f"document.fonts.check('16px \"{family}\"', '{letter}')"):
            problems.setdefault(label, []).append(f"{family}: document.fonts.check is false")
        loaded = [weight for name, weight, status in faces if name == family and status == "loaded"]
        if not loaded:
            problems.setdefault(label, []).append(f"{family}: no FontFace loaded ({faces})")
        for mark in sorted(set(marks), key=int)[:6]:
            drawn = _drawn_with(cdp, f'[data-script-text="{mark}"]')
            others = set(drawn) - FAMILIES - system
            if not drawn.get(family) or others:
                problems.setdefault(label, []).append(f"{family} text drawn with {drawn}")


# Pages whose tables are wider than a phone in English too (not the language's doing):
# there only what is beside the tables must fit; a warning says so while it lasts.
WIDE_IN_ENGLISH: dict = {}


def _beside_the_tables(page) -> list[str]:
    """What sticks out or is cut off with the page's tables left out (hidden through the
    CSSOM, which the page's CSP allows, then shown again)."""
    page.evaluate("""() => document.querySelectorAll('main table').forEach(
        (t) => { t.dataset.shown = t.style.display; t.style.display = 'none'; })""")
    found = [*page.evaluate(OVERFLOW), *page.evaluate(CUT_TEXT)]
    page.evaluate("""() => document.querySelectorAll('main table').forEach(
        (t) => { t.style.display = t.dataset.shown; })""")
    return found


def test_staff_pages_in_khmer_hindi_and_bengali(browser, store, screenshot_dir):
    base, pages = store
    origin = urlsplit(base).netloc
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    page = context.new_page()
    requested = []
    page.on("request", lambda r: requested.append((r.resource_type, r.url)))
    sign_in(page, base, STAFF_EMAIL)
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    problems: dict[str, list[str]] = {}
    known: set[str] = set()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for code, (family, *_names) in PEOPLE.items():
            for number, (name, path) in enumerate(pages[code].items()):
                answer = page.goto(base + path + ("" if number else f"?lang={code}"))
                assert answer.status == 200 and urlsplit(page.url).path == path, page.url
                assert page.locator("html").get_attribute("lang") == code
                label = f"{name} {code} {width}px"
                page_problems = [*page.evaluate(OVERFLOW), *page.evaluate(CUT_TEXT)]
                if page_problems and (name, width) in WIDE_IN_ENGLISH:
                    page_problems = _beside_the_tables(page)
                    known.add(f"{name} at {width}px")
                page_problems += page.evaluate(CHART_AUDIT)["problems"]
                if page_problems:
                    problems[label] = page_problems
                _check_fonts(page, cdp, label, family, problems)
                page.screenshot(
                    path=f"{screenshot_dir}/staff-{name}-{code}-{width}.png", full_page=True
                )
    context.close()
    assert problems == {}, pformat(problems)
    if known:
        warnings.warn(
            f"The staff {', '.join(sorted(known))} has tables wider than the screen, in "
            "English too: " + "; ".join(sorted(set(WIDE_IN_ENGLISH.values()))),
            stacklevel=1,
        )
    elsewhere = [url for _kind, url in requested if urlsplit(url).netloc not in (origin, "")]
    assert elsewhere == []  # no font CDN, nor anything else
    fonts = [url for kind, url in requested if kind == "font"]
    assert all(urlsplit(url).netloc == origin for url in fonts)
    assert all("/static/fonts/" in url and url.endswith(".woff2") for url in fonts)
    for script in ("khmer", "devanagari", "bengali"):
        assert any(f"noto-sans-{script}-{script}-400" in url for url in fonts), (script, fonts)
