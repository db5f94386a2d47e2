"""Provenance rules: vetting summaries, recording batches and vetting events.

Services flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from babel import Locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from shop.catalog.models import Product, StockMovementKind, Variant
from shop.catalog.services import move_stock
from shop.csv_import import CODE_RE
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

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)  # (field, message), when the rule names a field


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
    return _territories(locale).get(code.upper(), code.upper())


@lru_cache(maxsize=16)
def _territories(locale: str):
    # Locale.parse per product card was a twentieth of a listing's time.
    return Locale.parse(locale).territories


def public_workshop(workshop: Workshop, interval_days: int, locale: str = "en_US"):
    """The public face of a workshop: its public columns and vetting summary."""
    summary = summary_for(workshop, interval_days)
    withheld = workshop.public_country_code is None
    return public_view(
        workshop,
        country=country_name(workshop.public_country_code, locale),
        country_code=workshop.public_country_code,  # ISO 3166 alpha-2, for machines (the API)
        country_withheld=withheld,
        region="" if withheld else workshop.region,
        kind_label=workshop.kind.shown,  # a page's words; the API names the kind by its code
        suspended=workshop.is_suspended,
        vetting=summary,
    )


def current_batch(variant: Variant) -> Batch | None:
    """The batch the next unit sold comes from (first in, first out)."""
    open_batches = [b for b in variant.batches if b.units_left > 0]
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
    """Aliases trainees agreed to show, or none while fewer than a few agreed. An alias
    saved before the alias rule caught it ('S R E Y' of 'Sreymom Chea') is not shown: the
    rule is asked again here, so tightening it takes effect on the page at once."""
    # Imported here: shop.provenance.trainees needs this module (ProvenanceError).
    from shop.provenance.trainees import alias_gives_away_legal_name

    rows = db.session.execute(
        select(Trainee.alias, Trainee.legal_name)
        .where(
            Trainee.workshop_id == workshop_id,
            Trainee.alias_consent.is_(True),
            Trainee.alias != "",
            Trainee.active.is_(True),
        )
        .order_by(Trainee.alias)
    ).all()
    aliases = [a for a, legal in rows if not alias_gives_away_legal_name(a, legal)]
    return aliases if len(aliases) >= MIN_PUBLIC_ALIASES else []


def batch_is_public():
    """Which batches have a public record (/p/<code>, its QR code, its linkset, its passport,
    /01/…/10/<code>): those of a product that is not a draft. An archived product's tags
    still lead to their record. A condition on Product, for a query joining Batch to its
    variant's product: the one condition every public answer asks."""
    from shop.catalog.models import ProductStatus

    return Product.status != ProductStatus.DRAFT


def batch_for_page(code: str) -> Batch | None:
    return db.session.scalars(
        select(Batch)
        .join(Batch.variant)
        .join(Variant.product)
        .where(Batch.code == code, batch_is_public())
        .options(
            joinedload(Batch.variant).joinedload(Variant.product),
            joinedload(Batch.workshop).selectinload(Workshop.vetting_events),
        )
    ).one_or_none()


BATCH_CODE_MAX = 40
BATCH_QUANTITY_MAX = 100_000
MAKER_WEIGHT_MAX = 10_000


@dataclass(frozen=True)
class BatchDraft:
    """A batch as an operator states it: plain values, nothing looked up yet."""

    code: str
    workshop_slug: str
    sku: str
    quantity: int
    produced_month: date
    materials: str = ""
    makers: tuple[tuple[str, int], ...] = ()  # (trainee code, weight in pieces or hours)


@dataclass
class BatchLookups:
    """The records a set of drafts refers to, loaded in four statements whatever their number."""

    workshops: dict[str, Workshop]
    variants: dict[str, Variant]
    trainees: dict[str, Trainee]
    recorded: set[str]

    @classmethod
    def load(cls, drafts: Iterable[BatchDraft]) -> BatchLookups:
        drafts = list(drafts)
        skus = _searchable(d.sku for d in drafts)
        codes = _searchable(c for d in drafts for c, _ in d.makers)
        return cls(
            workshops=workshops_by_slug(_searchable(d.workshop_slug for d in drafts)),
            variants={
                v.sku: v
                for v in db.session.scalars(
                    select(Variant)
                    .where(Variant.sku.in_(skus))
                    .options(joinedload(Variant.product))
                )
            },
            trainees={
                t.code: t
                for t in db.session.scalars(select(Trainee).where(Trainee.code.in_(codes)))
            },
            recorded=set(
                db.session.scalars(
                    select(Batch.code).where(Batch.code.in_(_searchable(d.code for d in drafts)))
                )
            ),
        )


def _searchable(values: Iterable[str]) -> set[str]:
    """Values worth looking up: a NUL byte (refused by PostgreSQL) or a very long text
    cannot name anything, and batch_problems reports them as unknown."""
    return {v for v in values if v and "\x00" not in v and len(v) <= 200}


def maker_refused(trainee_code: str) -> str:
    return _(
        "%(code)s cannot be named as a maker of this workshop's batch: "
        "check the code with programme staff",
        code=trainee_code,
    )


def batch_problems(
    draft: BatchDraft, lookups: BatchLookups, *, makers: bool = True
) -> list[tuple[str, str]]:
    """Every rule a batch must meet, as (field, message); the field names are the
    import columns. The admin form and the importer both come here.

    Whether each maker may be named is asked last, only of a batch that breaks no other
    rule (`makers=False` leaves it out, for an import to ask once every row is clean):
    otherwise an admin could post a batch bound to be refused (quantity 0) and read,
    maker by maker, which codes exist, where each works and who has left."""
    problems = _rules_but_maker_identity(draft, lookups)
    if problems or not makers:
        return problems
    return maker_problems(draft, lookups)


def _rules_but_maker_identity(draft: BatchDraft, lookups: BatchLookups) -> list[tuple[str, str]]:
    problems = []
    if not CODE_RE.match(draft.code) or len(draft.code) > BATCH_CODE_MAX:
        problems.append(("code", _("'%(code)s' is not a batch code (letters, digits, '-', "
                                   "'_' or '.', at most %(most)s characters)",
                                   code=draft.code, most=BATCH_CODE_MAX)))  # fmt: skip
    elif draft.code in lookups.recorded:
        problems.append(("code", _("batch %(code)s was recorded before", code=draft.code)))
    if not 1 <= draft.quantity <= BATCH_QUANTITY_MAX:
        problems.append(("quantity", _("must be at least 1 and at most %(most)s, got %(got)s",
                                       most=BATCH_QUANTITY_MAX, got=draft.quantity)))  # fmt: skip
    if month_start(draft.produced_month) > month_start(today()):
        # The month as the import's column takes it (YYYY-MM), so it can be typed again.
        month = draft.produced_month.strftime("%Y-%m")
        problems.append(("produced_month", _("%(month)s is in the future", month=month)))
    workshop = lookups.workshops.get(draft.workshop_slug)
    if workshop is None:
        problems.append(("workshop_slug", _("no workshop '%(slug)s'", slug=draft.workshop_slug)))
    variant = lookups.variants.get(draft.sku)
    if variant is None:
        problems.append(("sku", _("no variant with SKU '%(sku)s' (import the catalog first)",
                                  sku=draft.sku)))  # fmt: skip
    elif workshop is not None and variant.product.workshop_id != workshop.id:
        problems.append(("sku", _("%(sku)s is made by another workshop, not '%(slug)s'",
                                  sku=draft.sku, slug=workshop.slug)))  # fmt: skip
    seen: set[str] = set()
    for trainee_code, weight in draft.makers:
        if trainee_code in seen:
            problems.append(("makers", _("trainee '%(code)s' is listed twice", code=trainee_code)))
        seen.add(trainee_code)
        if not 1 <= weight <= MAKER_WEIGHT_MAX:
            problems.append(("makers", _("the weight of '%(code)s' must be between 1 and "
                                         "%(most)s, got %(got)s",
                                         code=trainee_code, most=MAKER_WEIGHT_MAX, got=weight)))  # fmt: skip
    return problems


def maker_problems(draft: BatchDraft, lookups: BatchLookups) -> list[tuple[str, str]]:
    """The makers who cannot be named on this batch, to be asked only of a batch (or an
    import) that breaks no other rule."""
    workshop = lookups.workshops.get(draft.workshop_slug)
    problems = []
    for trainee_code, _weight in dict(draft.makers).items():
        trainee = lookups.trainees.get(trainee_code)
        if (
            trainee is None
            or not trainee.active
            or (workshop is not None and trainee.workshop_id != workshop.id)
        ):
            # Unknown, left (a stale list or a typo), or at another workshop: one answer for
            # all three, because the form's users are admins, not programme staff, and must
            # not learn which codes exist, where each works or who has left.
            problems.append(("makers", maker_refused(trainee_code)))
    return problems


def record_batch(draft: BatchDraft, lookups: BatchLookups | None = None) -> Batch:
    """Record a production batch and bring its units onto the shelf.

    Raises ProvenanceError (with every problem) and changes nothing when a rule is broken.
    """
    lookups = lookups or BatchLookups.load([draft])
    problems = batch_problems(draft, lookups)
    if problems:
        raise ProvenanceError("; ".join(message for _, message in problems), problems)
    variant = lookups.variants[draft.sku]
    batch = Batch(
        code=draft.code,
        workshop=lookups.workshops[draft.workshop_slug],
        variant=variant,
        quantity=draft.quantity,
        produced_month=month_start(draft.produced_month),
        materials=draft.materials,
        makers=[BatchMaker(trainee=lookups.trainees[c], weight=w) for c, w in draft.makers],
    )
    db.session.add(batch)
    db.session.flush()
    lookups.recorded.add(draft.code)
    move_stock(
        variant, draft.quantity, StockMovementKind.BATCH, batch_id=batch.id, reason=draft.code
    )
    # Audited here, so the admin form and the import leave the same entry. Imported here:
    # shop.audit.services needs shop.web, which needs this module.
    from shop.audit.services import record

    record("batch.record", "batch", batch.id, summary=f"Batch {batch.code}: {batch.quantity} x {draft.sku}",
           after={"quantity": batch.quantity, "sku": draft.sku})  # fmt: skip
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
        why = _("a vetting event cannot be dated in the future")
        raise ProvenanceError(why, [("occurred_on", why)])
    if not author.strip():
        raise ProvenanceError(_("a vetting event needs the staff member who recorded it"))
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
