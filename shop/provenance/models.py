"""Workshops, their vetting, production batches and the trainees who make things.

Every column is private unless it is declared with `public_column` (each model
is marked `@private_unless_public`); public
pages see these records only through `shop.visibility.public_view`.
"""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalog.models import Product, Variant
from shop.database import enum_column
from shop.extensions import db
from shop.timeutil import utcnow
from shop.visibility import private_unless_public, public_column


class WorkshopKind(enum.StrEnum):
    TRAINING_CENTRE = "training_centre"
    PRODUCTION_SITE = "production_site"
    PARTNER_EMPLOYER = "partner_employer"

    @property
    def label(self) -> str:
        """In English, for records: credentials, the audit log."""
        return self.value.replace("_", " ").capitalize()

    @property
    def shown(self) -> str:
        """In the reader's language, for pages."""
        return _SHOWN[self]


class WorkshopStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class VettingKind(enum.StrEnum):
    INTERVIEW = "interview"
    INITIAL_SITE_VISIT = "initial_site_visit"
    STANDARDS_CHECK = "standards_check"
    AGREEMENT_SIGNED = "agreement_signed"
    FOLLOW_UP_VISIT = "follow_up_visit"
    CONCERN_RAISED = "concern_raised"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        """In English, for records: credentials, the audit log."""
        return self.value.replace("_", " ").capitalize()

    @property
    def shown(self) -> str:
        """In the reader's language, for pages and the vetting form."""
        return _SHOWN[self]


class VettingOutcome(enum.StrEnum):
    PASSED = "passed"
    NEEDS_ACTION = "needs_action"
    FAILED = "failed"

    @property
    def shown(self) -> str:
        return _SHOWN[self]


# What pages call each kind, step and outcome, in the reader's language.
_SHOWN = {
    WorkshopKind.TRAINING_CENTRE: _l("Training centre"),
    WorkshopKind.PRODUCTION_SITE: _l("Production site"),
    WorkshopKind.PARTNER_EMPLOYER: _l("Partner employer"),
    VettingKind.INTERVIEW: _l("Interview"),
    VettingKind.INITIAL_SITE_VISIT: _l("Initial site visit"),
    VettingKind.STANDARDS_CHECK: _l("Standards check"),
    VettingKind.AGREEMENT_SIGNED: _l("Agreement signed"),
    VettingKind.FOLLOW_UP_VISIT: _l("Follow up visit"),
    VettingKind.CONCERN_RAISED: _l("Concern raised"),
    VettingKind.SUSPENDED: _l("Suspended"),
    VettingOutcome.PASSED: _l("Passed"),
    VettingOutcome.NEEDS_ACTION: _l("Needs action"),
    VettingOutcome.FAILED: _l("Failed"),
}


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


@private_unless_public
class Workshop(db.Model):
    __tablename__ = "workshops"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_column(String(16), unique=True, default=new_public_id)
    slug: Mapped[str] = public_column(String(80), unique=True)
    name: Mapped[str] = public_column(String(200))
    kind: Mapped[WorkshopKind] = public_column(enum_column(WorkshopKind, "workshop_kind"))
    # ISO 3166 alpha-2. Staff may know it even when it is withheld publicly;
    # NULL when not even staff records it.
    country_code: Mapped[str | None] = mapped_column(String(2))
    # False: the country itself is withheld, and with it the region.
    country_public: Mapped[bool] = public_column(default=True)
    # At most province level.
    region: Mapped[str] = public_column(String(120), default="")
    crafts: Mapped[list] = public_column(JSON, default=list)
    story: Mapped[str] = public_column(Text, default="")
    partner_since: Mapped[date | None] = public_column(Date)
    status: Mapped[WorkshopStatus] = public_column(
        enum_column(WorkshopStatus, "workshop_status"), default=WorkshopStatus.ACTIVE
    )
    # Private: where it is, who to call, how many people work there.
    address: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    contact: Mapped[str] = mapped_column(Text, default="")
    head_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    products: Mapped[list[Product]] = relationship(back_populates="workshop")
    vetting_events: Mapped[list[VettingEvent]] = relationship(
        back_populates="workshop", order_by="VettingEvent.occurred_on, VettingEvent.id"
    )
    trainees: Mapped[list[Trainee]] = relationship(back_populates="workshop")

    @property
    def public_country_code(self) -> str | None:
        return self.country_code if self.country_public else None

    @property
    def is_suspended(self) -> bool:
        return self.status == WorkshopStatus.SUSPENDED


@private_unless_public
class VettingEvent(db.Model):
    __tablename__ = "vetting_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    kind: Mapped[VettingKind] = public_column(enum_column(VettingKind, "vetting_kind"))
    occurred_on: Mapped[date] = mapped_column(Date)  # public only as a month
    author: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[VettingOutcome] = mapped_column(
        enum_column(VettingOutcome, "vetting_outcome"), default=VettingOutcome.PASSED
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    workshop: Mapped[Workshop] = relationship(back_populates="vetting_events")


@private_unless_public
class Trainee(db.Model):
    """A maker. Identified publicly by nothing; by an alias only with consent."""

    __tablename__ = "trainees"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(80), default="")
    alias_consent: Mapped[bool] = mapped_column(default=False)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    cohort: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    workshop: Mapped[Workshop] = relationship(back_populates="trainees")

    @property
    def public_alias(self) -> str | None:
        return self.alias if self.alias_consent and self.alias else None


# 'AB-1' and 'ab-1' would be two people staff cannot tell apart on a page or a label.
Index("uq_trainees_code_lower", func.lower(Trainee.code), unique=True)


@private_unless_public
class Batch(db.Model):
    """A production run of one variant at one workshop; the source of stock."""

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "units_allocated >= 0 AND units_allocated <= quantity", name="allocation_in_range"
        ),
        CheckConstraint(
            "units_written_off >= 0 AND units_allocated + units_written_off <= quantity",
            name="units_used_within_quantity",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = public_column(String(40), unique=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    # Units already traced to sold order lines (first in, first out).
    units_allocated: Mapped[int] = mapped_column(Integer, default=0)
    # Units written off by negative stock adjustments (lost, damaged), first in, first
    # out like a sale, so no sale is ever traced to them.
    units_written_off: Mapped[int] = mapped_column(Integer, default=0)
    produced_month: Mapped[date] = public_column(Date)  # always the 1st of the month
    materials: Mapped[str] = public_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by an admin's "Recall batch": its passports read as revoked from then on.
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    workshop: Mapped[Workshop] = relationship()
    variant: Mapped[Variant] = relationship(back_populates="batches")
    makers: Mapped[list[BatchMaker]] = relationship(
        back_populates="batch", order_by="BatchMaker.id", cascade="all, delete-orphan"
    )

    @hybrid_property
    def units_left(self) -> int:
        """Units of this batch neither sold nor written off (in Python and in SQL)."""
        return self.quantity - self.units_allocated - self.units_written_off


@private_unless_public
class BatchMaker(db.Model):
    """Who made a batch, and by how much (pieces or hours). Never public."""

    __tablename__ = "batch_makers"
    __table_args__ = (
        UniqueConstraint("batch_id", "trainee_id", name="one_row_per_maker"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id"), index=True)
    weight: Mapped[int] = mapped_column(Integer)

    batch: Mapped[Batch] = relationship(back_populates="makers")
    trainee: Mapped[Trainee] = relationship()
