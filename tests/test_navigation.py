"""Menus say where you are (issue 11, item 13): the header's and the back office's links
mark the page you are on with aria-current, the back office's menu comes once, above the
flashed messages, and a form's error is said once. (tests/e2e/test_axe.py checks the same
in a browser on every page; these are the quick ones.)"""

from __future__ import annotations

import html
import re

import pytest

from shop.extensions import db
from tests import factories as f
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant


def _menu(page: str, label: str) -> str:
    menus = re.findall(rf'<nav[^>]*aria-label="{label}"[^>]*>.*?</nav>', page, re.S)
    assert len(menus) == 1, f"{len(menus)} {label} menus"
    return menus[0]


def _marked(menu: str) -> dict[str, str]:
    """{link text: its aria-current} for the links that have one."""
    return {
        re.sub(r"<[^>]+>", "", text).strip(): current
        for current, text in re.findall(r'<a [^>]*aria-current="([^"]+)"[^>]*>(.*?)</a>', menu)
    }


@pytest.fixture
def admin_client(app, ctx):
    return client_as(app, "admin")


def test_the_admin_menu_marks_the_page_you_are_on(app, ctx, admin_client):
    order = new_order([(stocked_variant(), 1)])
    db.session.commit()
    for path, marked in (
        ("/admin/", {"Dashboard": "page"}),
        ("/admin/orders", {"Orders": "page"}),
        (f"/admin/orders/{order.id}", {"Orders": "true"}),
        ("/admin/products", {"Products": "page"}),
        ("/admin/categories", {"Products": "true"}),
        ("/admin/stock/movements?variant=1", {"Stock movements": "page"}),
        ("/admin/jobs", {"Jobs": "page"}),
        ("/admin/products/new", {"Products": "true"}),
    ):
        page = admin_client.get(path).get_data(as_text=True)
        assert _marked(_menu(page, "Admin")) == marked, path
        assert _marked(_menu(page, "Main")) == {"Admin": "page" if path == "/admin/" else "true"}


def test_the_staff_menu_marks_the_page_you_are_on(app, ctx):
    staff = client_as(app, "staff")
    trainee = f.trainee(f.workshop())
    db.session.commit()
    for path, marked in (
        ("/staff/trainees", {"Trainees and balances": "page"}),
        (f"/staff/trainees/{trainee.id}", {"Trainees and balances": "true"}),
        ("/staff/withdrawals", {"Withdrawals to approve": "page"}),
        ("/staff/audit", {"Audit log": "page"}),
    ):
        page = staff.get(path).get_data(as_text=True)
        assert _marked(_menu(page, "Staff")) == marked, path
        assert 'aria-label="Admin"' not in page
    # A page a form's POST renders again (its errors) is in its section too.
    refused = staff.post(f"/staff/trainees/{trainee.id}/goals", data={})
    assert refused.status_code == 400
    assert _marked(_menu(refused.get_data(as_text=True), "Staff")) == {
        "Trainees and balances": "true"
    }


def test_flashed_messages_come_below_the_back_office_menu(app, ctx, admin_client):
    variant = stocked_variant()
    db.session.commit()
    admin_client.post(
        f"/admin/stock/{variant.id}/adjust", data={"quantity": "-1", "reason": "lost"}
    )
    page = admin_client.get(f"/admin/stock/movements?variant={variant.id}").get_data(as_text=True)
    assert "The units on the shelf were corrected." in page
    assert page.index('aria-label="Admin"') < page.index('class="flashes"') < page.index("<h1")


def test_the_header_marks_the_page_on_pages_served_from_the_page_cache(app, ctx, client):
    """The header is kept per kind of visitor; the page it marks must be this one, not the
    page that kind of visitor saw first."""
    for _ in range(2):  # the second round is served from the cache
        for path, link in (
            ("/products", "Shop"),
            ("/impact", "Impact"),
            ("/workshops", "Workshops"),
        ):
            page = client.get(path).get_data(as_text=True)
            assert _marked(_menu(page, "Main")) == {link: "page"}, path
    page = client.get("/").get_data(as_text=True)
    assert _marked(_menu(page, "Main")) == {}


def test_a_category_form_says_each_error_once(app, ctx, admin_client):
    """Each problem once beside its field, and in the error summary linking to it; never
    a flash repeating it."""
    page = admin_client.post("/admin/categories", data={"name": "", "slug": ""})
    assert page.status_code == 400
    text = html.unescape(page.get_data(as_text=True))
    assert "This field is required." not in text
    for field, message in (
        ("name", "Enter the category's name."),
        ("slug", "Enter the address name, like bags."),
    ):
        assert text.count(message) == 2, message
        assert f'<li><a href="#{field}">{message}</a></li>' in text
    assert 'class="flash flash-error"' not in text

    assert (
        admin_client.post("/admin/categories", data={"name": "Bags", "slug": "bags"}).status_code
        == 302
    )
    taken = admin_client.post("/admin/categories", data={"name": "Totes", "slug": "bags"})
    text = html.unescape(taken.get_data(as_text=True))
    assert taken.status_code == 400 and 'class="flash flash-error"' not in text
    assert text.count("The address name bags is already used.") == 2
    assert '<li><a href="#slug">The address name bags is already used.</a></li>' in text
