"""Recalling a batch: from then on every version of its passport reads as revoked in
the status list (flipped, and the list re-signed, as this transaction commits: see
shop/passports/tracking.py). A recall is final. Flushes, never commits."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.audit.services import record
from shop.extensions import db
from shop.provenance.models import Batch
from shop.timeutil import utcnow


class RecallRefused(ValueError):
    """The batch cannot be recalled (again); nothing was changed."""


def recall_batch(batch: Batch) -> Batch:
    if batch.recalled_at is not None:
        raise RecallRefused(_("batch %(code)s was recalled already", code=batch.code))
    batch.recalled_at = utcnow()
    db.session.flush()
    record("batch.recall", "batch", batch.id, summary=f"Batch {batch.code} recalled: its passports are revoked",
           before={"recalled": False}, after={"recalled": True})  # fmt: skip
    return batch
