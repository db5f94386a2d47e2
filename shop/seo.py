"""Found and shared: /robots.txt, /sitemap.xml, the icons browsers ask for at the root,
and the canonical link of every public page.

Every absolute link here is on PUBLIC_BASE_URL (shop.web.site_url), never on the Host a
request came with: robots.txt, the sitemap and public pages are the same for everyone
(the page cache keeps them), and a Host header is whatever a client typed.
"""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    has_request_context,
    request,
    send_from_directory,
)
from sqlalchemy import select

from shop.extensions import db
from shop.page_cache.pages import public_document
from shop.web import page_number, site_url

bp = Blueprint("seo", __name__)

# Pages anyone may land on from a search: they carry a canonical link (and a card for
# link previews). The sitemap lists those of them that are not per product, workshop
# or batch; an endpoint added here is in both.
PUBLIC_PAGES = (
    "catalog.home", "catalog.products", "provenance.workshops", "training.impact",
    "verification.verify",
)  # fmt: skip
PUBLIC_ENDPOINTS = frozenset(
    {*PUBLIC_PAGES, "catalog.product", "provenance.workshop", "provenance.batch",
     "content.page", "accounts.login", "accounts.register", "accounts.forgot_password"}
)  # fmt: skip
# Query-string values that make another page of a listing; any other (sort, search) is
# the same page in another order or a search, and its canonical link leaves it out.
LISTING_ARGUMENTS = {"catalog.products": ("category",)}

# Back office, a buyer's own pages, and searches (endless variants of one listing).
DISALLOWED = (
    "/admin/", "/staff/", "/cart", "/checkout", "/orders/", "/account", "/login", "/logout",
    "/register", "/password/", "/verify/", "/stripe/", "/healthz", "/readyz", "/metrics",
    "/products?q=", "/products?*q=", "/*?*sort=",
)  # fmt: skip
ICON_MAX_AGE = 7 * 24 * 3600


def init_seo(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def canonical():
        return {"canonical_url": canonical_url()}


def canonical_url() -> str | None:
    """The page's one address for search engines, or None where the page is not public.
    Its parts are the page's own (its path, the listing's category and page number), so
    the page cache's copy, which holds it, is the same for every visitor."""
    if not has_request_context():  # an email rendered by a command
        return None
    endpoint = request.endpoint
    if endpoint not in PUBLIC_ENDPOINTS or request.method != "GET":
        return None
    values = dict(request.view_args or {})
    for name in LISTING_ARGUMENTS.get(endpoint, ()):
        if request.args.get(name, "").strip():
            values[name] = request.args[name].strip()
    if endpoint in LISTING_ARGUMENTS and page_number() > 1:
        values["page"] = page_number()
    return site_url(endpoint, **values)


@bp.get("/robots.txt")
def robots() -> Response:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "Allow: /", ""]
    lines.append(f"Sitemap: {site_url('seo.sitemap')}")
    response = Response("\n".join(lines) + "\n", mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    return public_document("sitemap", _sitemap, "application/xml")


def sitemap_paths() -> list[tuple[str, datetime | None]]:
    """(absolute link, last change) of every page the sitemap lists: the public pages
    and the content pages (shipping, returns…: fixed addresses, shop.content.pages), then
    every product on sale, every workshop not suspended, and the batch record of every
    unit such a product was made in. Never a draft, an archived product, or a suspended
    workshop or its goods. Three statements, whatever the catalog's size."""
    from shop.catalog.models import Product, ProductStatus, Variant
    from shop.content.pages import PAGES
    from shop.provenance.models import Batch, Workshop, WorkshopStatus

    open_workshop = Workshop.status != WorkshopStatus.SUSPENDED
    products = db.session.execute(
        select(Product.slug, Product.updated_at)
        .join(Product.workshop)
        .where(Product.status == ProductStatus.ACTIVE, open_workshop)
        .order_by(Product.id)
    ).all()
    workshops = db.session.scalars(
        select(Workshop.slug).where(open_workshop).order_by(Workshop.id)
    ).all()
    batches = db.session.scalars(
        select(Batch.code)
        .join(Batch.variant)
        .join(Variant.product)
        .join(Product.workshop)
        .where(Product.status == ProductStatus.ACTIVE, open_workshop)
        .order_by(Batch.id)
    ).all()
    return [
        *((site_url(endpoint), None) for endpoint in PUBLIC_PAGES),
        *((site_url("content.page", slug=slot.slug), None) for slot in PAGES),
        *((site_url("catalog.product", slug=slug), when) for slug, when in products),
        *((site_url("provenance.workshop", slug=slug), None) for slug in workshops),
        *((site_url("provenance.batch", code=code), None) for code in batches),
    ]


def _sitemap() -> str:
    entries = []
    for url, changed in sitemap_paths():
        lastmod = f"<lastmod>{changed.date().isoformat()}</lastmod>" if changed else ""
        entries.append(f"<url><loc>{escape(url)}</loc>{lastmod}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(entries)
        + "\n</urlset>\n"
    )


# Browsers and phones ask for these at the root, whatever the page's <link> says.
@bp.get("/favicon.ico")
def favicon() -> Response:
    return _icon("favicon.ico")


@bp.get("/apple-touch-icon-precomposed.png")
@bp.get("/apple-touch-icon.png")  # the inner rule: the one url_for() builds
def apple_touch_icon() -> Response:
    return _icon("apple-touch-icon.png")


def _icon(name: str) -> Response:
    return send_from_directory(current_app.static_folder, name, max_age=ICON_MAX_AGE)
