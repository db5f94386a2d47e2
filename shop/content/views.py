"""The public content pages, /pages/<slug>, served from the page cache like the catalog."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from shop.content.markup import render
from shop.content.pages import PAGES, SLOTS, page_by_slug
from shop.orders.checkout import shipping_methods
from shop.page_cache.pages import public_page

bp = Blueprint("content", __name__)
bp.add_app_template_global(PAGES, "content_pages")  # the footer's links: no query


@bp.get("/pages/<slug>")
def page(slug: str):
    if slug not in SLOTS:
        abort(404)
    # The shipping page lists the rates from SHIPPING_RATES: a new setting is a new page.
    rates = current_app.config["SHIPPING_RATES"] if slug == "shipping" else ""
    return public_page("content", (slug, rates), lambda: _page(slug))


def _page(slug: str) -> str:
    found = page_by_slug(slug) or abort(404)
    return render_template(
        "content/page.html",
        page=found,
        body=render(found.body),
        methods=shipping_methods() if slug == "shipping" else [],
    )
