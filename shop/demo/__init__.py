"""Demo data: the CSV files beside this module, fed through the real importers,
plus vetting histories and product images drawn here (no downloaded photos).

Safe to run again: imports update in place, recorded batches are skipped, and
vetting events, images and the content pages' text are only added where a record
has none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.catalog.images import attach_image, forget_image
from shop.catalog.importers import CatalogImporter
from shop.catalog.models import Product
from shop.csv_import import Importer, validate
from shop.demo.images import draw_product_image
from shop.extensions import db
from shop.media import media_storage
from shop.provenance.importers import BatchImporter, TraineeImporter, WorkshopImporter
from shop.provenance.models import VettingKind, VettingOutcome, Workshop
from shop.provenance.services import record_vetting_event
from shop.timeutil import today

DATA = Path(__file__).parent / "data"
FEATURED = {"buy-her-bag-tote", "rice-paper-tote", "carved-card-holder", "lantern-necklace"}

# Days before today of each workshop's vetting steps; the last is the latest visit.
VETTING_HISTORY = {
    "riverside-sewing-school": [
        (VettingKind.INTERVIEW, 2450), (VettingKind.INITIAL_SITE_VISIT, 2420),
        (VettingKind.STANDARDS_CHECK, 2400), (VettingKind.AGREEMENT_SIGNED, 2390),
        (VettingKind.FOLLOW_UP_VISIT, 75),
    ],
    "mekong-stitch-works": [
        (VettingKind.INTERVIEW, 2310), (VettingKind.INITIAL_SITE_VISIT, 2290),
        (VettingKind.STANDARDS_CHECK, 2280), (VettingKind.AGREEMENT_SIGNED, 2260),
        (VettingKind.FOLLOW_UP_VISIT, 40),
    ],
    "bihar-livelihoods-workshop": [
        (VettingKind.INTERVIEW, 2130), (VettingKind.INITIAL_SITE_VISIT, 2100),
        (VettingKind.STANDARDS_CHECK, 2080), (VettingKind.AGREEMENT_SIGNED, 2070),
        (VettingKind.FOLLOW_UP_VISIT, 120),
    ],
    "bengal-woodcraft-collective": [
        (VettingKind.INTERVIEW, 1690), (VettingKind.INITIAL_SITE_VISIT, 1670),
        (VettingKind.STANDARDS_CHECK, 1660), (VettingKind.AGREEMENT_SIGNED, 1650),
        (VettingKind.FOLLOW_UP_VISIT, 230),  # overdue: older than the 180-day policy
    ],
    "lantern-jewellery-studio": [
        (VettingKind.INTERVIEW, 2230), (VettingKind.INITIAL_SITE_VISIT, 2200),
        (VettingKind.STANDARDS_CHECK, 2190), (VettingKind.AGREEMENT_SIGNED, 2180),
        (VettingKind.FOLLOW_UP_VISIT, 20),
    ],
}  # fmt: skip

ProgressFactory = Callable[[str, int], object]


def _import(importer: Importer, filename: str, progress: ProgressFactory):
    parsed = validate(importer, (DATA / filename).read_bytes())
    with progress(f"Demo {importer.name}", len(parsed)) as bar:
        result = importer.write(parsed, bar.update)
    result.rows = len(parsed)
    return result


def seed_vetting() -> int:
    added = 0
    workshops = db.session.scalars(
        select(Workshop).options(selectinload(Workshop.vetting_events))
    ).all()
    for workshop in workshops:
        if workshop.vetting_events or workshop.slug not in VETTING_HISTORY:
            continue
        for kind, days_ago in VETTING_HISTORY[workshop.slug]:
            record_vetting_event(
                workshop,
                kind=kind,
                occurred_on=today() - timedelta(days=days_ago),
                author="Programme staff (demo)",
                outcome=VettingOutcome.PASSED,
                notes="Demo note: private to staff.",
            )
            added += 1
    return added


def seed_images(progress: ProgressFactory) -> int:
    """A drawing for every product without a picture, kept in the media store like an
    upload. A picture whose object the store lacks (a wiped folder, a store switched to
    a bucket) is drawn again."""
    storage = media_storage()
    products = db.session.scalars(
        select(Product).options(selectinload(Product.images), selectinload(Product.category))
    ).all()
    drawn = 0
    with progress("Demo images", len(products)) as bar:
        for product in products:
            for image in [i for i in product.images if not storage.exists(i.filename)]:
                product.images.remove(image)
                forget_image(image)  # its copies, if any, are deleted by a job
            db.session.flush()
            if not product.images:
                category = product.category.slug if product.category else ""
                for close_up, alt in ((False, "Illustration of the"), (True, "Close-up of the")):
                    data, width, height = draw_product_image(product.slug, category, close_up)
                    attach_image(product, data, "png", width, height, f"{alt} {product.name}")
                drawn += 1
            bar.update(1)
    db.session.flush()
    return drawn


def seed_pages() -> int:
    """The demo's text for the content pages (data/pages/<slug>.md), written only into a
    page that has none, so an admin's own text is never overwritten."""
    from shop.content.pages import all_pages, update_page

    written = 0
    for page in all_pages():
        source = DATA / "pages" / f"{page.slug}.md"
        if not page.body and source.exists():
            written += update_page(page, page.title, source.read_text(encoding="utf-8"))
    return written


def seed_demo(progress_label: ProgressFactory) -> list[str]:
    from shop.identity.keys import ensure_key

    ensure_key()  # the demo's batches are signed as they are recorded: a key on first need
    report = []
    currency = current_app.config["STORE_CURRENCY"]
    for importer, filename, noun in (
        (WorkshopImporter(), "workshops.csv", "workshops"),
        (CatalogImporter(currency), "catalog.csv", "variants"),
        (TraineeImporter(), "trainees.csv", "trainees"),
        (BatchImporter(skip_recorded=True), "batches.csv", "batches"),
    ):
        result = _import(importer, filename, progress_label)
        report.append(
            f"{noun}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
    for product in db.session.scalars(select(Product).where(Product.slug.in_(FEATURED))):
        product.featured = True
    report.append(f"vetting events: {seed_vetting()} added")
    report.append(f"images: {seed_images(progress_label)} drawn")
    report.append(f"demo orders: {seed_demo_sales(progress_label)} paid")
    report.append(f"pages: {seed_pages()} written")
    report.append(f"passports: {seed_passports(progress_label)}")
    report.append("Demo data is ready.")
    report.append(
        "To review training accounts, create a staff member: "
        "flask --app app create-user you@example.org --role staff (then sign in at /login)."
    )
    return report


def seed_passports(progress: ProgressFactory) -> str:
    """Last, as `flask --app app passport issue` does: whatever credential is missing
    (batches recorded before passports existed), so `make run` shows every passport."""
    from shop.passports.issuing import issue_everything, subject_count

    with progress("Demo passports", subject_count()) as bar:
        return issue_everything(bar.update).summary()


DEMO_BUYER_EMAIL = "demo.buyer@example.com"


def seed_demo_sales(progress_label: ProgressFactory, orders: int = 12) -> int:
    """A few paid orders through the real checkout and dummy gateway, so the training
    accounts and the impact page have something to show. Only once."""
    from shop.catalog.models import ProductStatus, Variant
    from shop.orders import cart as carts
    from shop.orders.checkout import BuyerDetails, place_order
    from shop.orders.gateways import DummyGateway
    from shop.orders.models import Order
    from shop.orders.payments import payment_succeeded, start_payment

    if db.session.scalar(select(Order.id).where(Order.email == DEMO_BUYER_EMAIL).limit(1)):
        return 0
    variants = db.session.scalars(
        select(Variant)
        .join(Variant.product)
        .where(Product.status == ProductStatus.ACTIVE, Variant.available >= 3)
        .order_by(Variant.id)
    ).all()
    buyer = BuyerDetails(
        email=DEMO_BUYER_EMAIL, name="Demo Buyer", address_line1="1 Example Street",
        address_line2="", city="Lyon", postal_code="69001", country_code="FR",
        shipping_method="standard",
    )  # fmt: skip
    gateway, paid = DummyGateway(), 0
    with progress_label("Demo orders", min(orders, len(variants))) as bar:
        for i, variant in enumerate(variants[:orders]):
            cart: dict = {}
            carts.write(cart, {variant.id: 1 + i % 2})
            order = place_order(
                cart,
                buyer,
                gateway_name=gateway.name,
                currency=current_app.config["STORE_CURRENCY"],
            )
            payment = start_payment(order, gateway)
            payment_succeeded(
                order, gateway_name=gateway.name, reference=payment.reference,
                amount=order.total, currency=order.currency,
            )  # fmt: skip
            paid += 1
            bar.update(1)
    return paid
