"""The pages a shopper looks for (issue 11, buyers 7): shipping, returns, contact, privacy
and terms at fixed addresses, linked from every public page's footer, written by admins
(and nobody else), their text shown as text (never as HTML), each edit audited and shown
at once although the pages are cached."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.content.models import Page
from shop.content.pages import BODY_MAX, PAGES, TITLE_MAX
from shop.extensions import db
from tests import factories as f
from tests.conftest import client_as, sign_in

SLUGS = [slot.slug for slot in PAGES]


@pytest.fixture
def admin(app, ctx):
    return client_as(app, "admin")


def _page(slug: str) -> Page:
    db.session.expire_all()
    return db.session.scalars(select(Page).where(Page.slug == slug)).one()


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def test_the_five_pages_are_at_their_addresses_and_every_public_page_links_them(client, ctx):
    assert SLUGS == ["shipping", "returns", "contact", "privacy", "terms"]
    w = f.workshop()
    f.vet(w)
    product = f.product(w)
    db.session.commit()
    for slug in SLUGS:
        page = client.get(f"/pages/{slug}")
        assert page.status_code == 200, slug
        assert f'<h1 id="page-title">{_page(slug).title}</h1>' in page.get_data(as_text=True)
    assert client.get("/pages/about-us").status_code == 404
    assert client.get("/pages/").status_code == 404
    public = ["/", "/products", f"/products/{product.slug}", "/workshops", "/impact", "/cart",
              "/login", "/pages/terms", "/no-such-page"]  # fmt: skip
    for url in public:
        body = client.get(url).get_data(as_text=True)
        footer = body[body.index('<footer class="site-footer">') :]
        for slot in PAGES:
            assert f'<a href="/pages/{slot.slug}">{slot.link}</a>' in footer, (url, slot.slug)


def test_the_shipping_page_lists_the_rates_the_checkout_charges(app, client, ctx):
    body = client.get("/pages/shipping").get_data(as_text=True)
    assert "Standard post (7 to 14 days)" in body and "$8.00" in body
    assert "Express courier (3 to 5 days)" in body and "$25.00" in body
    original = app.config["SHIPPING_RATES"]
    app.config["SHIPPING_RATES"] = "standard:Standard post (5 days):650"
    try:  # the cached page named the old rates: a new setting is a new page
        again = client.get("/pages/shipping").get_data(as_text=True)
    finally:
        app.config["SHIPPING_RATES"] = original
    assert "Standard post (5 days)" in again and "$6.50" in again and "Express" not in again


def test_an_admin_edit_is_audited_and_shown_at_once_on_the_cached_page(app, ctx, admin):
    visitor = app.test_client()
    first = visitor.get("/pages/returns")
    etag = first.headers["ETag"]
    assert visitor.get("/pages/returns", headers={"If-None-Match": etag}).status_code == 304
    assert "Within 14 days" not in first.get_data(as_text=True)
    listing = admin.get("/admin/pages").get_data(as_text=True)
    assert all(f'href="/admin/pages/{slug}"' in listing for slug in SLUGS)
    assert admin.get("/admin/pages/returns").status_code == 200
    before = _page("returns").title

    saved = admin.post(
        "/admin/pages/returns",
        data={"title": "  Returns  ", "body": "Within 14 days.\r\n\r\n- unworn\r\n- with tags"},
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/admin/pages/returns")
    page = _page("returns")
    assert (page.title, page.body) == ("Returns", "Within 14 days.\n\n- unworn\n- with tags")
    shown = visitor.get("/pages/returns", headers={"If-None-Match": etag})
    assert shown.status_code == 200 and shown.headers["ETag"] != etag
    html = shown.get_data(as_text=True)
    assert '<h1 id="page-title">Returns</h1>' in html and "<p>Within 14 days.</p>" in html
    assert "<li>unworn</li>" in html
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "page.update"))
    assert entry.actor_id == admin.person.id and entry.target_id == page.id
    assert entry.before["title"] == before and entry.after["title"] == "Returns"
    assert entry.after["body"] == page.body and "/pages/returns" in entry.summary

    # Saved again unchanged: nothing written, nothing audited.
    again = admin.post("/admin/pages/returns", data={"title": "Returns", "body": page.body})
    assert again.status_code == 302
    assert "Nothing changed" in admin.get("/admin/pages/returns").get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "page.update")
        )
        == 1
    )


def test_only_admins_may_edit_a_page(app, ctx):
    people = {role: f.user(role) for role in ("customer", "staff")}
    db.session.commit()
    before, audits = (_page("terms").title, _page("terms").body), _audit_count()
    edit = {"title": "Hijacked", "body": "Pay me instead."}
    for path, method in (("/admin/pages", "GET"), ("/admin/pages/terms", "GET"),
                         ("/admin/pages/terms", "POST")):  # fmt: skip
        anonymous = app.test_client().open(path, method=method, data=edit)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        for role, person in people.items():
            client = app.test_client()
            sign_in(client, person)
            assert client.open(path, method=method, data=edit).status_code == 403, (role, path)
    assert (_page("terms").title, _page("terms").body) == before and _audit_count() == audits


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "Some text.", "Enter a title."),
        ("   ", "Some text.", "Enter a title."),
        ("T" * (TITLE_MAX + 1), "Some text.", f"A title is at most {TITLE_MAX} characters."),
        ("Terms", "x" * (BODY_MAX + 1), f"The text is at most {BODY_MAX:,} characters."),
    ],
    ids=["empty title", "blank title", "title too long", "text too long"],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(
    app, ctx, admin, title, body, message
):
    before, audits = (_page("terms").title, _page("terms").body), _audit_count()
    visitor = app.test_client()
    etag = visitor.get("/pages/terms").headers["ETag"]
    response = admin.post("/admin/pages/terms", data={"title": title, "body": body})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="error-text" id="' in html and message in html
    assert 'aria-invalid="true"' in html
    assert (_page("terms").title, _page("terms").body) == before and _audit_count() == audits
    assert visitor.get("/pages/terms", headers={"If-None-Match": etag}).status_code == 304


def test_a_preview_shows_the_text_as_the_page_will_and_saves_nothing(ctx, admin):
    before, audits = _page("contact").body, _audit_count()
    response = admin.post(
        "/admin/pages/contact",
        data={"title": "Contact us", "body": "Write to <hi@shop.example>.", "preview": "1"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Preview (not saved)" in html
    assert '<a href="mailto:hi@shop.example">hi@shop.example</a>' in html
    assert _page("contact").body == before and _audit_count() == audits


HOSTILE_BODY = """# Our terms

<script>alert(1)</script>

<img src=x onerror=alert(2)>

[a link](javascript:alert(3)) [data](data:text/html;base64,PHNjcmlwdD4=) [far](//evil.example)
[back](/\\evil.example) <javascript:alert(4)>

<!--shop:visitor-nav--> <!--shop:form-token-->

<a href="https://evil.example" onclick="alert(5)">raw link</a>

## Kept

*Handmade*, see [returns](/pages/returns), [Stripe](https://stripe.com) or <hi@shop.example>.
"""


def test_markup_typed_into_a_page_is_shown_as_text_never_run(app, ctx, admin):
    saved = admin.post("/admin/pages/terms", data={"title": "Terms", "body": HOSTILE_BODY})
    assert saved.status_code == 302
    assert _page("terms").body == HOSTILE_BODY.strip()  # kept as typed, escaped when shown
    shown = {
        "the page": app.test_client().get("/pages/terms"),
        "the admin's preview": admin.post(
            "/admin/pages/terms", data={"title": "Terms", "body": HOSTILE_BODY, "preview": "1"}
        ),
    }
    for url, response in shown.items():
        html = response.get_data(as_text=True)
        main = html[html.index("<main") : html.index("</main>")]
        for raw in ("<script>alert", "<img src=x", 'onclick="', "<!--shop:"):
            assert raw not in main, (url, raw)
        links = re.findall(r'href="([^"]*)"', main)
        assert links and all(re.match(r"(https://|mailto:|/[a-z%])", link) for link in links)
        assert not [link for link in links if "evil" in link and "%5C" not in link], links
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in main, url
        assert "&lt;img src=x onerror=alert(2)&gt;" in main, url
        # what the restricted Markdown allows still works
        assert "<h2>Our terms</h2>" in main and "<h2>Kept</h2>" in main, url
        assert "<em>Handmade</em>" in main and '<a href="/pages/returns">returns</a>' in main
        assert '<a href="https://stripe.com">Stripe</a>' in main
        assert '<a href="mailto:hi@shop.example">' in main
    public = app.test_client().get("/pages/terms").get_data(as_text=True)
    assert public.count("<h1") == 1  # the title; "# Our terms" became an h2
    assert public.count('<nav class="footer-links"') == 1  # no mark was filled in twice


def test_an_empty_page_says_so_and_points_to_the_contact_page(client, ctx):
    assert _page("privacy").body == ""  # as the migration leaves it
    body = client.get("/pages/privacy").get_data(as_text=True)
    assert "We are still writing this page" in body and 'href="/pages/contact"' in body


def test_the_demo_text_fills_only_pages_nobody_has_written(app, ctx, admin):
    from shop.demo import seed_pages

    admin.post("/admin/pages/returns", data={"title": "Returns", "body": "Within 14 days."})
    with app.app_context():
        assert seed_pages() == 4
        db.session.commit()
    assert _page("returns").body == "Within 14 days."  # the admin's own text is kept
    assert "within 30 days" not in _page("returns").body
    assert "<hello@madeknown.example>" in _page("contact").body
    assert "never publish a maker's name" in _page("privacy").body
    with app.app_context():
        assert seed_pages() == 0  # safe to run again
