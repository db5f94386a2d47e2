"""Small builders for test data, going through the same services as the store."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from shop.catalog.models import Category, Product, ProductImage, ProductStatus, Variant
from shop.extensions import db
from shop.provenance.models import Trainee, VettingKind, Workshop, WorkshopKind
from shop.provenance.services import (
    ONBOARDING_STEPS,
    BatchDraft,
    record_batch,
    record_vetting_event,
)
from shop.timeutil import today

_seq = itertools.count(1)


def n() -> int:
    return next(_seq)


def workshop(**fields) -> Workshop:
    i = n()
    values = {
        "slug": f"workshop-{i}",
        "name": f"Workshop {i}",
        "kind": WorkshopKind.TRAINING_CENTRE,
        "country_code": "KH",
        "region": "Phnom Penh",
        "crafts": ["sewing"],
        "story": "A story.",
        "partner_since": date(2020, 1, 1),
    }
    values.update(fields)
    w = Workshop(**values)
    db.session.add(w)
    db.session.flush()
    return w


def vet(w: Workshop, last_visit_days_ago: int = 30) -> None:
    for offset, step in enumerate(ONBOARDING_STEPS):
        record_vetting_event(
            w, kind=step, occurred_on=today() - timedelta(days=900 - offset), author="Staff"
        )
    record_vetting_event(
        w,
        kind=VettingKind.FOLLOW_UP_VISIT,
        occurred_on=today() - timedelta(days=last_visit_days_ago),
        author="Staff",
    )


def category(name: str = "Bags") -> Category:
    c = db.session.query(Category).filter_by(name=name).one_or_none()
    if c is None:
        c = Category(slug=name.lower(), name=name)
        db.session.add(c)
        db.session.flush()
    return c


def product(
    w: Workshop,
    *,
    variants: int = 1,
    price: int = 2400,
    status: ProductStatus = ProductStatus.ACTIVE,
    images: int = 1,
    category_name: str = "Bags",
    **fields,
) -> Product:
    i = n()
    values = {
        "slug": f"product-{i}",
        "name": f"Product {i}",
        "description": "Cotton canvas tote.",
        "story": "",
        "status": status,
        "impact_share_bps": 1000,
        "workshop": w,
        "category": category(category_name),
    }
    values.update(fields)
    p = Product(**values)
    for v in range(variants):
        p.variants.append(
            Variant(sku=f"SKU-{i}-{v}", options={"size": f"S{v}"}, price=price + v, currency="USD")
        )
    for m in range(images):
        p.images.append(
            ProductImage(
                filename=f"products/p{i}-{m}.png", alt_text=f"Picture {m}", width=10, height=10
            )
        )
    db.session.add(p)
    db.session.flush()
    return p


def trainee(w: Workshop, **fields) -> Trainee:
    i = n()
    values = {
        "code": f"T{i:04d}",
        "legal_name": f"Legal Name {i}",
        "alias": "",
        "alias_consent": False,
        "workshop_id": w.id,
        "cohort": "2026",
    }
    values.update(fields)
    t = Trainee(**values)
    db.session.add(t)
    db.session.flush()
    return t


def batch(variant: Variant, quantity: int = 10, makers=(), workshop=None, **fields):
    """A batch through the store's one batch service; `makers` as (Trainee, weight)."""
    values = {
        "code": f"B-{n()}",
        "workshop_slug": (workshop or variant.product.workshop).slug,
        "sku": variant.sku,
        "quantity": quantity,
        "produced_month": date(2026, 3, 1),
        "materials": "cotton",
        "makers": tuple((t.code, w) for t, w in makers),
    }
    values.update(fields)
    return record_batch(BatchDraft(**values))


def user(*roles: str, email: str | None = None, password: str = "correct horse battery"):
    """A user with `roles`. The hash is a cheap PBKDF2 so tests stay fast; the store's own
    accounts use Werkzeug's default (scrypt), which check_password_hash reads alike."""
    from werkzeug.security import generate_password_hash

    from shop.accounts.models import Role, User, UserRole

    i = n()
    person = User(
        email=email or f"person{i}@example.org",
        name=f"Staff Member {i}",
        password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )
    person.roles = [UserRole(role=Role(r)) for r in roles]
    db.session.add(person)
    db.session.flush()
    return person
