"""A workshop's private details (where it is, who to call, how many work there): staff
change them here; they are shown only on staff pages. Flushes, never commits."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.audit.services import record, snapshot
from shop.extensions import db
from shop.provenance.models import Workshop
from shop.provenance.services import ProvenanceError

DETAILS_MAX_LENGTH = 1_000
HEAD_COUNT_MAX = 100_000
PRIVATE_DETAILS = ["address", "contact", "head_count"]
# What the audit log keeps of a workshop written by the import (private ones only as changed).
WORKSHOP_FIELDS = ["name", "kind", "country_code", "country_public", "region", "crafts", "story",
                   "partner_since", *PRIVATE_DETAILS]  # fmt: skip


def record_workshop_change(workshop: Workshop, before: dict | None, action: str = "") -> None:
    """Audit a workshop written (`before`: its snapshot of WORKSHOP_FIELDS, None when new)."""
    fields = list(before) if before is not None else WORKSHOP_FIELDS
    after = snapshot(workshop, fields)
    if before != after:
        action = action or ("workshop.create" if before is None else "workshop.update")
        record(action, "workshop", workshop.id, summary=workshop.name, before=before, after=after)


def set_private_details(
    workshop: Workshop, *, address: str, contact: str, head_count: int | None
) -> Workshop:
    before = snapshot(workshop, PRIVATE_DETAILS)
    address, contact = address.strip(), contact.strip()
    for name, value in (("address", address), ("contact", contact)):
        if len(value) > DETAILS_MAX_LENGTH:
            why = (
                _("the address is longer than %(most)s characters", most=DETAILS_MAX_LENGTH)
                if name == "address"
                else _("the contact is longer than %(most)s characters", most=DETAILS_MAX_LENGTH)
            )
            raise ProvenanceError(why, [(name, why)])
    if head_count is not None and not 0 <= head_count <= HEAD_COUNT_MAX:
        why = _("the head count must be between 0 and %(most)s", most=HEAD_COUNT_MAX)
        raise ProvenanceError(why, [("head_count", why)])
    workshop.address, workshop.contact, workshop.head_count = address, contact, head_count
    db.session.flush()
    record_workshop_change(workshop, before, "workshop.details")
    return workshop
