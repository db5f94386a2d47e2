"""Storefront pages: home, product listing, product page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _

from shop.catalog import product_page as page
from shop.catalog import storefront as services
from shop.catalog.images import picture_sources
from shop.catalog.models import ProductStatus
from shop.catalog.product_page import AddAttempt
from shop.i18n import locale_code
from shop.page_cache.pages import NotKept, public_page
from shop.provenance.services import current_batch, public_workshop
from shop.visibility import public_view
from shop.web import page_number

bp = Blueprint("catalog", __name__)
bp.add_app_template_global(picture_sources)

FEATURED_ON_HOME = 8
MAX_SEARCH_LENGTH = 100


@bp.get("/")
def home():
    return public_page("home", "", _home)


def _home() -> str:
    featured = services.product_cards(
        services.product_cards_query(featured_only=True), FEATURED_ON_HOME
    )
    if not featured:
        featured = services.product_cards(services.product_cards_query(), FEATURED_ON_HOME)
    return render_template("catalog/home.html", products=featured)


@bp.get("/products")
def products():
    # Only the filters a listing has are read, each in one canonical form (any other
    # parameter is ignored; an unknown sort is the default one), so the pages the cache
    # keeps are the catalog's: its categories, sorts and pages (see _products).
    category = request.args.get("category", "").strip() or None
    text = request.args.get("q", "").strip()[:MAX_SEARCH_LENGTH] or None
    sort = request.args.get("sort", services.DEFAULT_SORT)
    if sort not in services.SORTS:
        sort = services.DEFAULT_SORT
    page, per_page = page_number(), current_app.config["PRODUCTS_PER_PAGE"]
    return public_page(
        "products",
        (category, text, sort, page, per_page),
        lambda: _products(category, text, sort, page, per_page),
        keep=text is None,  # a search's results are not kept: anyone can type anything
    )


def _products(category: str | None, text: str | None, sort: str, number: int, per_page: int):
    categories = services.categories_in_use()
    stmt = services.product_cards_query(category_slug=category, text=text, sort=sort)
    page = services.product_page(stmt, number, per_page)
    html = render_template(
        "catalog/products.html",
        page=page,
        categories=categories,
        category=category,
        q=text or "",
        sort=sort,
        sorts=services.SORTS,
    )
    if number > page.pages or (category and category not in {c.slug for c in categories}):
        # Not one of the catalog's pages: a 404 (with the way back), rendered for this
        # request only, as a shop answers a page that does not exist.
        return NotKept(html)
    return html


@bp.get("/products/<slug>")
def product(slug: str):
    return public_page("product", slug, lambda: _product(slug))


def product_with_problem(slug: str, attempt: AddAttempt) -> str:
    """The product page again, after the cart refused an "Add to cart": the choices and
    quantity as they were sent, the problem beside its field. Never cached."""
    return _product(slug, attempt)


def _product(slug: str, attempt: AddAttempt | None = None) -> str:
    item = services.product_for_page(slug)
    if item is None:
        abort(404)
    workshop = public_workshop(
        item.workshop,
        current_app.config["VETTING_VISIT_INTERVAL_DAYS"],
        locale_code(),  # the country named in the page's language
    )
    on_sale = item.status == ProductStatus.ACTIVE and not workshop.suspended
    variants = []
    for variant in item.variants:
        batch = current_batch(variant)
        available = on_sale and variant.buyable > 0
        variants.append(
            {
                "id": variant.id,
                "sku": variant.sku,
                "gtin": variant.gtin,
                "options": variant.options or {},
                "label": variant.options_label or _("One size"),
                "price": variant.price,
                "currency": variant.currency,
                "stock": variant.buyable,  # what a buyer can take: held units are not
                "available": available,
                "status": page.availability(available, variant.buyable),
                "batch": public_view(batch) if batch else None,
            }
        )
    images = [page.image_url(image) for image in item.images]
    store_name = current_app.config["STORE_NAME"]
    return render_template(
        "catalog/product.html",
        product=item,
        workshop=workshop,
        variants=variants,
        on_sale=on_sale,
        archived=item.status == ProductStatus.ARCHIVED,
        groups=page.option_groups(variants, attempt),
        price=page.price_line(variants, item.impact_share_bps),
        attempt=attempt,
        options_text=page.options_text,
        share_image=images[0] if images else None,
        structured_data=page.structured_data(item, variants, images, store_name),
    )
