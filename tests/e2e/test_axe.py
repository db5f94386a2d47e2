"""axe-core over every public and back-office page, in its main states, at phone and
desktop width: no violation of any rule. A new one fails the test with its rule id, the
page and the element.

The pages are data: VISITS below, one row per page and state. To cover a new page, add a
row (a path, who is signed in, and optionally a state: what to do on the page before
axe looks at it, e.g. submit its form empty so the errors show). axe-core comes bundled
with axe-playwright-python (its axe.min.js), so nothing is downloaded."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, STAFF_EMAIL, sign_in

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
SIGN_INS = {"admin": ADMIN_EMAIL, "staff": STAFF_EMAIL}

# Seeded by `flask seed-demo` (shop/demo/data): stable names the pages are reached by.
PRODUCT_SLUG = "buy-her-bag-tote"
WORKSHOP_SLUG = "riverside-sewing-school"
BATCH_CODE = "MS-2026-03-BHB-N"


# --- States: what to do on a page before axe runs ------------------------------------


def submit_empty(form: str) -> Callable:
    """Clear the typed fields of the form matched by the CSS selector `form` and send it,
    so the page shows its errors."""

    def act(page):
        target = page.locator(form).first
        target.evaluate(
            """f => { f.noValidate = true;
              for (const el of f.querySelectorAll('input, textarea')) {
                if (!['hidden', 'checkbox', 'radio', 'submit', 'file'].includes(el.type)) el.value = '';
              }
              for (const el of f.querySelectorAll('select')) el.selectedIndex = 0;
              for (const d of document.querySelectorAll('details')) if (d.contains(f)) d.open = true; }"""
        )
        with page.expect_navigation():
            target.locator("button[type=submit], input[type=submit]").last.click()

    return act


def fill_and_submit(form: str, values: dict[str, str]) -> Callable:
    """Fill the fields named in `values` (by their name attribute) and send the form."""

    def act(page):
        target = page.locator(form).first
        target.evaluate(
            "f => { f.noValidate = true; for (const d of document.querySelectorAll('details'))"
            " if (d.contains(f)) d.open = true; }"
        )
        for name, value in values.items():
            target.locator(f"[name={name}]").fill(value)
        with page.expect_navigation():
            target.locator("button[type=submit], input[type=submit]").last.click()

    return act


def press(form: str, button: str, values: dict[str, str]) -> Callable:
    """Fill the fields named in `values` of the form matched by `form`, and press its
    button named `button` (a form with more than one, like Save and Preview)."""

    def act(page):
        target = page.locator(form).first
        for name, value in values.items():
            target.locator(f"[name={name}]").fill(value)
        with page.expect_navigation():
            target.get_by_role("button", name=button, exact=True).click()

    return act


def open_details(page):
    """Open every <details> so what it hides is checked too."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")


def open_first_receipt(page):
    """Follow the statement's first receipt link: the printable receipt of a credit."""
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^Receipt of entry")).first.click()


def with_a_cart(page, base: str):
    """Put a product in this browser's cart (by the product page's form, whatever its fields)."""
    page.goto(f"{base}/products/{PRODUCT_SLUG}")
    with page.expect_navigation():
        page.locator("form[action$='/cart/add'] [type=submit]").first.click()


def with_a_waiting_order(page, live_server):
    """An order placed in this browser and left unpaid, and the cart filled again: the
    checkout then tells what placing another order does to the waiting one."""
    with_a_cart(page, live_server)
    check_out(page, live_server)
    with_a_cart(page, live_server)


def check_out(page, live_server) -> str:
    """From a cart with items: place the order; the token of the order on the pay page."""
    page.goto(live_server + "/checkout")
    form = page.locator("main form[method=post]").first
    # The country first: its address fields are drawn for it (no script needed).
    form.locator("select[name=country]").select_option("FR")
    with page.expect_navigation():
        page.get_by_role("button", name="Update address fields").click()
    form = page.locator("main form[method=post]").first
    for name, value in CHECKOUT_DETAILS.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("[type=submit]").last.click()
    token = re.search(r"/orders/([^/]+)/pay", page.url)
    assert token, f"checkout did not reach the pay page: {page.url}"
    return token.group(1)


# --- The pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    path: str  # {order} is replaced by a token of an order placed for the test
    who: str | None = None  # None (a visitor), "admin" or "staff"
    state: str = ""  # a name from STATES; "" for the page as it loads
    status: int = 200
    before: tuple[Callable, ...] = field(default=(), compare=False)  # (page, base URL) first

    @property
    def name(self) -> str:
        label = re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-") or "home"
        return "-".join(p for p in (self.who or "visitor", label, self.state) if p)


STATES: dict[str, Callable] = {
    "details-open": open_details,
    "first-receipt": open_first_receipt,
    "empty-submit": submit_empty("main form[method=post]"),
    "search-none": fill_and_submit("main form.filters", {"q": "no such thing anywhere"}),
    "sign-in-refused": fill_and_submit(
        "main form[method=post]", {"email": "nobody@example.org", "password": "not the password"}
    ),
    "password-refused": fill_and_submit(
        "main form[action$='/account/password']",
        {"current": "wrong", "password": "short", "confirm": "other"},
    ),
    "withdrawal-refused": submit_empty("main form[action$='/withdrawals']"),
    "goal-refused": submit_empty("main form[action$='/goals']"),
    "correction-refused": submit_empty("main form[action$='/corrections']"),
    "vetting-refused": submit_empty("main form[action$='/vetting']"),
    "details-refused": fill_and_submit(
        "main form[action$='/details']", {"details-head_count": "-4"}
    ),
    "variant-refused": submit_empty("main form[action$='/variants']"),
    "gtin-refused": fill_and_submit("main form.variant-form", {"gtin": "4006381333932"}),
    "adjust-refused": submit_empty("main form[action*='/adjust']"),
    "page-refused": press("main form[method=post]", "Save", {"title": ""}),
    "note-refused": fill_and_submit("main form[action$='/notes']", {"body": "x" * 2100}),
    "alt-refused": fill_and_submit("main form.alt-form", {"alt_text": ""}),
    "upload-refused": submit_empty("main form[enctype='multipart/form-data']"),
}

VISITS = [
    # The shop, as any visitor sees it
    Visit("/"),
    Visit("/products"),
    Visit("/products?category=bags&sort=price_asc"),
    Visit("/products", state="search-none"),
    Visit(f"/products/{PRODUCT_SLUG}"),
    Visit("/workshops"),
    Visit(f"/workshops/{WORKSHOP_SLUG}"),
    Visit(f"/p/{BATCH_CODE}"),
    Visit("/verify"),
    Visit("/impact"),
    Visit("/impact", state="details-open"),
    Visit("/cart"),
    Visit("/cart", before=(with_a_cart,)),
    Visit("/checkout", before=(with_a_cart,)),
    Visit("/checkout", state="empty-submit", before=(with_a_cart,)),
    Visit("/checkout", before=(with_a_waiting_order,)),
    Visit("/orders/{order}/pay"),
    Visit("/orders/{order}/pay", state="empty-submit"),
    Visit("/orders/{paid_order}"),
    Visit("/no-such-page", status=404),
    Visit("/api/v1/docs", state="details-open"),  # the partner API's reference
    # Accounts
    Visit("/login"),
    Visit("/login", state="empty-submit"),
    Visit("/login", state="sign-in-refused"),
    Visit("/register"),
    Visit("/register", state="empty-submit"),
    Visit("/password/forgot"),
    Visit("/password/forgot", state="empty-submit"),
    Visit("/password/reset?token=not-a-token"),
    Visit("/account", who="admin"),
    Visit("/account", who="admin", state="details-open"),
    Visit("/account", who="admin", state="password-refused"),
    # The admin's back office
    Visit("/admin/", who="admin"),
    Visit("/admin/", who="admin", state="details-open"),
    Visit("/admin/orders", who="admin"),
    Visit("/admin/orders?status=paid", who="admin"),
    Visit("/admin/orders/1", who="admin"),
    Visit("/admin/orders/1", who="admin", state="details-open"),
    Visit("/admin/orders/1", who="admin", state="note-refused"),
    Visit("/admin/products", who="admin"),
    Visit("/admin/products/1", who="admin"),
    Visit("/admin/products/1", who="admin", state="details-open"),
    Visit("/admin/products/1", who="admin", state="empty-submit"),
    Visit("/admin/products/1", who="admin", state="variant-refused"),
    Visit("/admin/products/1", who="admin", state="alt-refused"),
    Visit("/admin/products/1", who="admin", state="upload-refused"),
    Visit("/admin/products/1", who="admin", state="gtin-refused"),
    Visit("/admin/products/new", who="admin"),
    Visit("/admin/products/new", who="admin", state="empty-submit"),
    Visit("/admin/stock", who="admin"),
    Visit("/admin/stock/movements?variant=1", who="admin"),
    Visit("/admin/stock/movements?variant=1", who="admin", state="adjust-refused"),
    Visit("/admin/batches", who="admin"),
    Visit("/admin/batches/1/recall", who="admin"),
    Visit("/admin/batches/new", who="admin"),
    Visit("/admin/batches/new?workshop=1", who="admin"),
    Visit("/admin/batches/new?workshop=1", who="admin", state="empty-submit"),
    Visit("/admin/categories", who="admin"),
    Visit("/admin/categories", who="admin", state="empty-submit"),
    Visit("/admin/pages/contact", who="admin"),
    Visit("/admin/pages/contact", who="admin", state="page-refused"),
    Visit("/admin/jobs", who="admin"),
    Visit("/admin/audit", who="admin"),
    # Programme staff
    Visit("/staff/trainees", who="staff"),
    Visit("/staff/trainees/1", who="staff"),
    Visit("/staff/trainees/1", who="staff", state="details-open"),
    Visit("/staff/trainees/1", who="staff", state="first-receipt"),  # the trainee's receipt
    Visit("/staff/trainees/1", who="staff", state="withdrawal-refused"),
    Visit("/staff/trainees/1", who="staff", state="goal-refused"),
    Visit("/staff/trainees/1", who="staff", state="correction-refused"),
    Visit("/staff/trainees/new", who="staff"),
    Visit("/staff/trainees/new", who="staff", state="empty-submit"),
    Visit("/staff/trainees/1/edit", who="staff"),
    Visit("/staff/withdrawals", who="staff"),
    Visit("/staff/corrections", who="staff"),
    Visit("/staff/reconciliation", who="staff"),
    Visit("/staff/workshops", who="staff"),
    Visit("/staff/workshops/1", who="staff"),
    Visit("/staff/workshops/1", who="staff", state="details-open"),
    Visit("/staff/workshops/1", who="staff", state="vetting-refused"),
    Visit("/staff/workshops/1", who="staff", state="details-refused"),
    Visit("/staff/audit", who="staff"),
    Visit("/account", who="staff"),
]


# --- Running axe ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe():
    if os.environ.get("CI"):  # pinned in requirements-dev.txt: CI must run this, not skip it
        from axe_playwright_python.sync_playwright import Axe
    else:
        Axe = pytest.importorskip(
            "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
        ).Axe
    return Axe()


@pytest.fixture(scope="module")
def signed_in(browser, live_server):
    """A browser context for (who, width): signed in once and kept for the module; a
    visitor's is new each time (an empty cart, no flashed messages left over)."""
    contexts: dict = {}

    def get(who: str | None, width: int):
        if who is None:
            return browser.new_context(viewport={"width": width, "height": 900})
        if (who, width) not in contexts:
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            sign_in(page, live_server, SIGN_INS[who])
            page.close()
            contexts[(who, width)] = context
        return contexts[(who, width)]

    yield get
    for context in contexts.values():
        context.close()


CHECKOUT_DETAILS = {  # the checkout form's fields by name: change here if the form changes
    "email": "axe.buyer@example.com",
    "name": "Axe Buyer",
    "address_line1": "1 Example Street",
    "city": "Lyon",
    "postal_code": "69001",
}


def place_order(browser, live_server) -> str:
    """An unpaid order placed through the checkout in a browser of its own: its token."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with_a_cart(page, live_server)
    token = check_out(page, live_server)
    context.close()
    return token


@pytest.fixture(scope="module")
def orders(browser, live_server):
    """{"order": an unpaid order's token, "paid_order": a paid one's}."""
    unpaid, paid = place_order(browser, live_server), place_order(browser, live_server)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/orders/{paid}/pay")
    page.locator("input[name=card_number]").fill("4242 4242 4242 4242")
    with page.expect_navigation():
        page.get_by_role("button", name="Pay $").click()
    context.close()
    return {"order": unpaid, "paid_order": paid}


def violations_on(axe, page) -> list[str]:
    results = axe.run(page).response
    return [
        f"{v['id']} ({v['impact']}) at {', '.join(map(str, node['target']))}: {v['help']}"
        for v in results["violations"]
        for node in v["nodes"]
    ]


# What axe has no rule for, checked on the same pages (issue 11, item 13): menus mark the
# page you are on, a back-office page has its menu once with the flashed messages below it,
# and no error is said twice (at the top and again at its field).
OUR_CHECKS = """() => {
  const problems = [];
  const text = el => el.textContent.replace(/\\s+/g, ' ').trim();
  for (const a of document.querySelectorAll('nav[aria-label] a[href]')) {
    const url = new URL(a.href, location.href), current = a.getAttribute('aria-current');
    if (url.pathname === location.pathname && !url.search && current !== 'page')
      problems.push(`menu-current: the link "${text(a)}" leads to this page but has no aria-current="page"`);
    if (current === 'page' && url.pathname !== location.pathname)
      problems.push(`menu-current: "${text(a)}" is marked as this page but leads to ${url.pathname}`);
  }
  const section = {'/admin/': 'Admin', '/staff/': 'Staff'};
  for (const [prefix, label] of Object.entries(section)) {
    if (!location.pathname.startsWith(prefix)) continue;
    const menus = document.querySelectorAll(`nav[aria-label="${label}"]`);
    if (menus.length !== 1) problems.push(`menu: ${menus.length} "${label}" menus on the page`);
    const flashes = document.querySelector('.flashes');
    if (menus.length && flashes && !(menus[0].compareDocumentPosition(flashes) & Node.DOCUMENT_POSITION_FOLLOWING))
      problems.push('menu: the flashed messages come before the menu');
  }
  // Messages at the top; an error summary whose items link to their fields is the
  // pattern that may repeat them, and an alert at the field is the field's own error.
  const messages = [...document.querySelectorAll('.flash-error, [role=alert]')]
    .filter(el => !el.closest('.field, .error-text') && !el.querySelector('a[href^="#"]'))
    .map(text);
  const atFields = [...document.querySelectorAll('.error-text')].map(text);
  for (const error of new Set(atFields)) {
    if (messages.some(m => m.includes(error)))
      problems.push(`error-twice: "${error}" is shown at the top and again at its field`);
  }
  for (const field of document.querySelectorAll('.field')) {
    const errors = [...field.querySelectorAll('.error-text')].map(text);
    if (new Set(errors).size !== errors.length) problems.push(`error-twice: one field says "${errors}"`);
  }
  return problems;
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("visit", VISITS, ids=lambda v: v.name)
def test_no_accessibility_violation(
    axe, signed_in, orders, live_server, screenshot_dir, visit, width
):
    context = signed_in(visit.who, width)
    page = context.new_page()
    try:
        for step in visit.before:
            step(page, live_server)
        response = page.goto(live_server + visit.path.format(**orders))
        assert response is not None and response.status == visit.status, visit.path
        if visit.state:
            STATES[visit.state](page)
        found = violations_on(axe, page) + page.evaluate(OUR_CHECKS)
        if os.environ.get("SCREENSHOT_DIR"):  # pictures to look at; no one sees a temporary one
            page.screenshot(path=f"{screenshot_dir}/axe-{width}-{visit.name}.png", full_page=True)
    finally:
        page.close()
        if visit.who is None:
            context.close()
    assert found == [], (
        f"axe on {visit.path} ({visit.state or 'as loaded'}, {width} px):\n" + "\n".join(found)
    )
