"""A workshop's private details (where it is, who to call, how many work there): staff
change them here; they are shown only on staff pages. Flushes, never commits."""

from __future__ import annotations

from shop.extensions import db
from shop.provenance.models import Workshop
from shop.provenance.services import ProvenanceError

DETAILS_MAX_LENGTH = 1_000
HEAD_COUNT_MAX = 100_000
PRIVATE_DETAILS = ["address", "contact", "head_count"]


def set_private_details(
    workshop: Workshop, *, address: str, contact: str, head_count: int | None
) -> Workshop:
    address, contact = address.strip(), contact.strip()
    for name, value in (("address", address), ("contact", contact)):
        if len(value) > DETAILS_MAX_LENGTH:
            raise ProvenanceError(f"the {name} is longer than {DETAILS_MAX_LENGTH} characters")
    if head_count is not None and not 0 <= head_count <= HEAD_COUNT_MAX:
        raise ProvenanceError(f"the head count must be between 0 and {HEAD_COUNT_MAX}")
    workshop.address, workshop.contact, workshop.head_count = address, contact, head_count
    db.session.flush()
    return workshop
