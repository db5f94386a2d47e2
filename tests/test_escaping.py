"""Every page, email and export, rendered with markup in every text field of every row,
shows it only escaped (issue 9, defect 15 and "What must hold").

The markup goes into every free-text column the schema has (tests/whole_store.py), so a
column added later is covered; every page is every GET route of the URL map, for every
role; and the test fails if a template exists that it never rendered, so a new page or
email cannot slip past it."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from flask import template_rendered
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.mail import deliver
from shop.orders.models import Order
from shop.orders.notifications import confirmation_message, payment_waiting_message
from tests.confirming import confirmation_form
from tests.whole_store import (
    MARKUP,
    ROOT,
    SCRIPT,
    all_rules,
    build_store,
    clients,
    path_for,
    raw_markup_in,
)

TEMPLATES = ROOT / "templates"
# Templates this test does not render, each with the test that does.
RENDERED_ELSEWHERE = {
    "orders/pay_stripe.html": "needs a Stripe server: tests/orders/test_stripe_localstripe.py",
    "orders/pay_unavailable.html": "needs the Stripe gateway: tests/orders/test_payments.py",
    # The whole store's product names (markup twice) are longer than an order line keeps
    # on PostgreSQL, so no closed order of them can be placed here.
    "orders/payment_closed.html": "a closed order's pay page: tests/orders/test_unpaid_orders.py",
}


def _templates_a_view_renders() -> set[str]:
    """Every template but the layout and the partials (which pages include)."""
    return {
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*")
        if p.is_file() and not p.name.startswith("_") and p.name != "base.html"
    }


def test_html_templates_include_only_html_partials():
    """The root of defect 15: Jinja autoescapes by the included file's own name, so a
    .txt partial included into a page came out raw. HTML includes only HTML."""
    for page in TEMPLATES.rglob("*.html"):
        for included in re.findall(
            r"""{%-?\s*(?:include|import|from|extends)\s+["']([^"']+)""", page.read_text()
        ):
            assert included.endswith(".html"), (page.name, included)


PICTURES = ("image/png", "image/vnd.microsoft.icon", "image/x-icon")


def test_every_page_email_and_export_shows_markup_only_escaped(app, ctx):
    rendered: set[str] = set()

    def remember(sender, template, context, **extra):
        rendered.add(template.name)

    outbox = Path(app.config["MAIL_OUTBOX"])
    mails_before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    template_rendered.connect(remember, app)
    try:
        store = build_store(with_markup=True)
        by_role = clients(app, store)
        _send_every_email(app, store, by_role)
        checked = escaped = 0
        for role, client in by_role.items():
            client.post("/cart/add", data={"variant_id": store.cart_variant_id, "quantity": "1"})
            for rule, method in all_rules(app):
                if method == "GET":
                    response = client.get(path_for(rule, store))
                    assert response.status_code < 500, (role, rule.rule)
                    if response.mimetype in PICTURES:  # the icons: no text to escape
                        continue
                    _check(response, f"{role} {rule.rule}")
                    checked += 1
                    escaped += "&lt;script&gt;alert(1)" in response.get_data(as_text=True)
        assert _check(by_role["anonymous"].get("/no-such-page"), "404") == "text/html"
        # Pages reached only by posting ticked orders from the admin's orders list.
        ticked = {"order": [store.extra["paid"].id, store.extra["shipped"].id]}
        for path in ("/admin/orders/ship", "/admin/orders/packing-slips"):
            response = by_role["admin"].post(path, data=ticked)
            assert response.status_code == 200, path
            _check(response, f"admin {path}")
        assert checked > 100 and escaped > 50, (checked, escaped)  # the markup got there
        mails = sorted(set(outbox.glob("*.eml")) - mails_before)
        for path in mails:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            html = message.get_body(("html",)).get_content()
            assert raw_markup_in(html) == [], (message["Subject"], raw_markup_in(html))
        assert len(mails) >= 5
    finally:
        template_rendered.disconnect(remember, app)
    missing = _templates_a_view_renders() - rendered - set(RENDERED_ELSEWHERE)
    assert missing == set(), f"templates no test rendered with markup: {sorted(missing)}"


def _send_every_email(app, store, by_role) -> None:
    """The order confirmation, "finish your order", the shipping notice, a refund notice,
    a password reset, both answers to a registration and a verification, each about rows
    full of markup; and the pay page of a cancelled order.
    The paid order is left partly refunded, so its page tells the share taken back."""
    admin, customer = by_role["admin"], by_role["customer"]
    with app.test_request_context():  # links are built as in the request that paid
        paid = db.session.scalars(
            select(Order).where(Order.id == store.extra["paid"].id)
            .options(selectinload(Order.lines))
        ).one()  # fmt: skip
        deliver(confirmation_message(paid))
        line_id = paid.lines[0].id
        waiting = db.session.scalars(
            select(Order).where(Order.id == store.extra["pending"].id)
            .options(selectinload(Order.lines))
        ).one()  # fmt: skip
        deliver(payment_waiting_message(waiting))  # "finish your order"
    page = admin.post(
        f"/admin/orders/{store.extra['paid'].id}/refund/confirm",
        data={"request_key": "markup", f"line-{line_id}": "0.50", "reason": SCRIPT},
    )
    _check(page, "the refund's confirmation page")
    action, fields = confirmation_form(page)
    assert admin.post(action, data=fields).status_code == 302
    pressed_again = admin.post(action, data=fields)  # refused: it acted once
    assert pressed_again.status_code == 409
    _check(pressed_again, "a confirmation pressed twice")
    shipped = admin.post(
        f"/admin/orders/{store.extra['shipped'].id}/ship", data={"tracking_number": SCRIPT}
    )
    assert shipped.status_code == 302
    visitor = app.test_client()
    forgot = visitor.post("/password/forgot", data={"email": store.people["customer"].email})
    assert forgot.status_code < 400
    for address in ("new@example.org", store.people["customer"].email):  # new, and known
        registered = visitor.post("/register", data={"name": MARKUP, "email": address})
        assert registered.status_code < 400
    store.people["customer"].email_verified_at = None
    db.session.commit()
    assert customer.post("/account/verify").status_code == 302


def _check(response, where: str) -> str:
    """No raw markup in anything a browser would render; exports are downloads."""
    mimetype = response.mimetype
    body = response.get_data(as_text=True)
    if mimetype == "text/csv":
        # A spreadsheet download, never rendered as a page: the text stays as it was
        # typed (escaping would corrupt it), and the headers keep a browser from
        # sniffing it into HTML.
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        assert response.headers["Content-Disposition"].startswith("attachment"), where
        return mimetype
    assert raw_markup_in(body) == [], (where, raw_markup_in(body))
    return mimetype
