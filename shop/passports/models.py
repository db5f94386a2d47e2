"""Issued credentials, kept as signed, and the status list that revokes passports.

A credential row is written once: the database refuses to change its signed text, its
content hash or what it is about, and refuses to delete it (triggers, migration 0024);
only `revoked` (passports) changes. A changed subject gets a new version, a new row.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shop.database import enum_column
from shop.extensions import db
from shop.provenance.models import new_public_id
from shop.timeutil import utcnow


class CredentialKind(enum.StrEnum):
    PASSPORT = "dpp"  # DigitalProductPassport, one per batch
    FACILITY = "dfr"  # DigitalFacilityRecord, one per workshop
    CONFORMITY = "dcc"  # DigitalConformityCredential, one per public vetting event


class Credential(db.Model):
    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("batch_id", "version"),
        UniqueConstraint("workshop_id", "version"),
        UniqueConstraint("vetting_event_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(kind = 'dpp' AND batch_id IS NOT NULL AND workshop_id IS NULL"
            " AND vetting_event_id IS NULL)"
            " OR (kind = 'dfr' AND workshop_id IS NOT NULL AND batch_id IS NULL"
            " AND vetting_event_id IS NULL)"
            " OR (kind = 'dcc' AND vetting_event_id IS NOT NULL AND batch_id IS NULL"
            " AND workshop_id IS NULL)",
            name="one_subject_of_its_kind",
        ),
    )

    # Also the passport's index in the status list.
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True, default=new_public_id)
    kind: Mapped[CredentialKind] = mapped_column(enum_column(CredentialKind, "credential_kind"))
    # Exactly one, by kind (looked up through the unique (subject, version) indexes).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    vetting_event_id: Mapped[int | None] = mapped_column(ForeignKey("vetting_events.id"))
    version: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the canonical unsigned content (without id, validFrom, status): a new
    # version is issued only when this would differ.
    content_hash: Mapped[str] = mapped_column(String(64))
    # The compact JWS. Written once, in the transaction that inserts the row (the row's
    # id is the status index the signed passport names, so it is signed after insert).
    jws: Mapped[str | None] = mapped_column(Text)
    kid: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(default=False)


class StatusList(db.Model):
    """The one BitstringStatusListCredential (id 1), re-signed whenever a bit flips."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    jws: Mapped[str | None] = mapped_column(Text)  # None until the first passport
    size_bits: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
