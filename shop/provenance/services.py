"""Provenance rules: vetting summaries, recording batches and vetting events.

Services flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from shop.catalog.models import Product, StockMovementKind, Variant
from shop.catalog.services import move_stock
from shop.extensions import db
from shop.provenance.models import (
    Batch,
    BatchMaker,
    Trainee,
    VettingEvent,
    VettingKind,
    VettingOutcome,
    Workshop,
    WorkshopStatus,
)
from shop.timeutil import month_start, today
from shop.visibility import public_view

# The steps that make a workshop a vetted partner, in the order they happen.
ONBOARDING_STEPS = (
    VettingKind.INTERVIEW,
    VettingKind.INITIAL_SITE_VISIT,
    VettingKind.STANDARDS_CHECK,
    VettingKind.AGREEMENT_SIGNED,
)
VISIT_KINDS = frozenset({VettingKind.INITIAL_SITE_VISIT, VettingKind.FOLLOW_UP_VISIT})
# A consented alias is shown only among at least this many, never alone.
MIN_PUBLIC_ALIASES = 3


class ProvenanceError(ValueError):
    """A provenance record that would break a rule; nothing was changed."""


@dataclass(frozen=True)
class VettingSummary:
    steps_done: tuple[VettingKind, ...]
    last_visit: date | None
    vetted: bool
    suspended: bool
    overdue: bool  # for staff: the last visit is older than the policy allows

    @property
    def last_visit_month(self) -> date | None:
        return month_start(self.last_visit) if self.last_visit else None


def vetting_summary(
    events: Iterable[VettingEvent], status: WorkshopStatus, interval_days: int, on: date
) -> VettingSummary:
    passed = [e for e in events if e.outcome == VettingOutcome.PASSED]
    done = {e.kind for e in passed}
    visits = [e.occurred_on for e in passed if e.kind in VISIT_KINDS]
    last_visit = max(visits) if visits else None
    suspended = status == WorkshopStatus.SUSPENDED
    return VettingSummary(
        steps_done=tuple(step for step in ONBOARDING_STEPS if step in done),
        last_visit=last_visit,
        vetted=all(step in done for step in ONBOARDING_STEPS) and not suspended,
        suspended=suspended,
        overdue=last_visit is None or on - last_visit > timedelta(days=interval_days),
    )


def summary_for(workshop: Workshop, interval_days: int) -> VettingSummary:
    return vetting_summary(workshop.vetting_events, workshop.status, interval_days, today())


def country_name(code: str | None, locale: str = "en_US") -> str | None:
    if not code:
        return None
    return Locale.parse(locale).territories.get(code.upper(), code.upper())


def public_workshop(workshop: Workshop, interval_days: int, locale: str = "en_US"):
    """The public face of a workshop: its public columns and vetting summary."""
    summary = summary_for(workshop, interval_days)
    withheld = workshop.public_country_code is None
    return public_view(
        workshop,
        country=country_name(workshop.public_country_code, locale),
        country_withheld=withheld,
        region="" if withheld else workshop.region,
        kind_label=workshop.kind.label,
        suspended=workshop.is_suspended,
        vetting=summary,
    )


def current_batch(variant: Variant) -> Batch | None:
    """The batch the next unit sold comes from (first in, first out)."""
    open_batches = [b for b in variant.batches if b.units_allocated < b.quantity]
    return open_batches[0] if open_batches else None


def workshops_for_listing() -> list[Workshop]:
    return list(
        db.session.scalars(
            select(Workshop).options(selectinload(Workshop.vetting_events)).order_by(Workshop.name)
        )
    )


def workshop_by_slug(slug: str) -> Workshop | None:
    return db.session.scalars(
        select(Workshop).where(Workshop.slug == slug).options(selectinload(Workshop.vetting_events))
    ).one_or_none()


def workshops_by_slug(slugs: set[str]) -> dict[str, Workshop]:
    if not slugs:
        return {}
    found = db.session.scalars(select(Workshop).where(Workshop.slug.in_(slugs)))
    return {w.slug: w for w in found}


def public_aliases(workshop_id: int) -> list[str]:
    """Aliases trainees agreed to show, or none while fewer than a few agreed."""
    aliases = list(
        db.session.scalars(
            select(Trainee.alias)
            .where(
                Trainee.workshop_id == workshop_id,
                Trainee.alias_consent.is_(True),
                Trainee.alias != "",
                Trainee.active.is_(True),
            )
            .order_by(Trainee.alias)
        )
    )
    return aliases if len(aliases) >= MIN_PUBLIC_ALIASES else []


def batch_for_page(code: str) -> Batch | None:
    from shop.catalog.models import ProductStatus

    return db.session.scalars(
        select(Batch)
        .join(Batch.variant)
        .join(Variant.product)
        .where(Batch.code == code, Product.status != ProductStatus.DRAFT)
        .options(
            joinedload(Batch.variant).joinedload(Variant.product),
            joinedload(Batch.workshop).selectinload(Workshop.vetting_events),
        )
    ).one_or_none()


def record_batch(
    *,
    code: str,
    workshop: Workshop,
    variant: Variant,
    quantity: int,
    produced_month: date,
    materials: str,
    makers: Sequence[tuple[Trainee, int]],
) -> Batch:
    """Record a production batch and bring its units into stock."""
    if quantity <= 0:
        raise ProvenanceError("a batch needs a quantity of at least 1")
    if variant.product.workshop_id != workshop.id:
        raise ProvenanceError(f"{variant.sku} is made by another workshop, not {workshop.name}")
    seen: set[int] = set()
    for trainee, weight in makers:
        if weight <= 0:
            raise ProvenanceError("a maker's weight must be at least 1")
        if trainee.workshop_id != workshop.id:
            raise ProvenanceError(f"maker {trainee.code} is not a trainee of {workshop.name}")
        if trainee.id in seen:
            raise ProvenanceError(f"maker {trainee.code} is listed twice")
        seen.add(trainee.id)
    if db.session.scalar(select(Batch.id).where(Batch.code == code)) is not None:
        raise ProvenanceError(f"batch {code} was recorded before")
    batch = Batch(
        code=code,
        workshop=workshop,
        variant=variant,
        quantity=quantity,
        produced_month=month_start(produced_month),
        materials=materials,
        makers=[BatchMaker(trainee=t, weight=w) for t, w in makers],
    )
    db.session.add(batch)
    db.session.flush()
    move_stock(variant, quantity, StockMovementKind.BATCH, batch_id=batch.id, reason=code)
    return batch


def record_vetting_event(
    workshop: Workshop,
    *,
    kind: VettingKind,
    occurred_on: date,
    author: str,
    outcome: VettingOutcome = VettingOutcome.PASSED,
    notes: str = "",
) -> VettingEvent:
    """Add a vetting event; a suspension takes the workshop's products off sale."""
    if occurred_on > today():
        raise ProvenanceError("a vetting event cannot be dated in the future")
    if not author.strip():
        raise ProvenanceError("a vetting event needs the staff member who recorded it")
    event = VettingEvent(
        workshop=workshop,
        kind=kind,
        occurred_on=occurred_on,
        author=author.strip(),
        outcome=outcome,
        notes=notes,
    )
    db.session.add(event)
    if kind == VettingKind.SUSPENDED:
        workshop.status = WorkshopStatus.SUSPENDED
    db.session.flush()
    return event
