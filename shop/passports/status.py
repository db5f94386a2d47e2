"""Revocation: one W3C Bitstring Status List credential at /credentials/status/1.

Bit i is the credential (a passport or a facility record) whose row has id i (first bit =
the leftmost bit of the first byte, as the spec counts). A passport is revoked while its
batch is recalled or its workshop suspended; every version of a batch's passport follows
its batch. Any version that names where its workshop is (a passport's or a facility
record's) is revoked while the workshop's country is withheld: it is no longer served
(shop.passports.views answers 410), and a copy saved elsewhere must not still verify. A
facility record version that claims conformance is revoked while its workshop is
suspended.
The list is at least 131,072 bits (16 KB, the spec's minimum, so one bit tells nothing
about the size of the store), grows by that step, and is sent GZIP-compressed in
base64url with the multibase prefix `u`.

Whoever changes a bit, or issues a passport, first locks the list's row (SELECT … FOR
UPDATE on PostgreSQL; SQLite has one writer at a time), then reads what is revoked and
re-signs, all in the transaction of the change: two changes at once both land, one after
the other, and no reader ever sees a change the list does not (or the reverse).
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable, Iterator

from flask import current_app
from sqlalchemy import select, update

from shop.database import locked_row
from shop.extensions import db
from shop.identity import signing
from shop.identity.did import store_did
from shop.passports.content import claims_conformance, month_stamp, names_a_location
from shop.passports.models import Credential, CredentialKind, StatusList
from shop.provenance.models import Batch, Workshop, WorkshopStatus
from shop.timeutil import utcnow
from shop.web import site_url

STATUS_LIST_ID = 1
STEP = 131_072  # bits
CHUNK = 500


def chunks(values: Iterable[int]) -> Iterator[list[int]]:
    values = sorted(set(values))
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def list_url() -> str:
    return site_url("passports.status_list")


# The kinds that carry a credentialStatus: those that can come to say what must not be
# said (a place), or stop holding (a passport whose batch is recalled). A conformity
# credential names a visit's kind and month only, and stays true of its visit.
WITH_STATUS = (CredentialKind.PASSPORT, CredentialKind.FACILITY)


def entry(index: int) -> dict:
    """A credential's credentialStatus (BitstringStatusListEntry)."""
    url = list_url()
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def encode(indexes: Iterable[int], size: int) -> str:
    bits = bytearray(size // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode(encoded: str) -> bytes:
    """The bitstring of an `encodedList` (for verifiers and tests)."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u')")
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def bit(bitstring: bytes, index: int) -> bool:
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))


def lock() -> StatusList:
    """The list's row, locked until this transaction ends, read afresh."""
    return locked_row(StatusList, STATUS_LIST_ID)


def should_be_revoked(recalled_at, workshop_status) -> bool:
    """A passport's batch rule: recalled, or made by a workshop now suspended."""
    return recalled_at is not None or workshop_status == WorkshopStatus.SUSPENDED


def is_withdrawn(jws: str | None, country_public: bool) -> bool:
    """A version that names a place while the workshop's country is withheld."""
    return not country_public and jws is not None and names_a_location(jws)


def apply_revocations(batch_ids: Iterable[int], workshop_ids: Iterable[int] = ()) -> int:
    """Set `revoked` on the passports of `batch_ids` (every version) and the facility
    records of `workshop_ids` as their batch and workshop now say; returns how many
    changed. Call with the list locked."""
    changed = 0
    passport_columns = (Credential.id, Credential.revoked, Credential.jws, Batch.recalled_at,
                        Workshop.status, Workshop.country_public)  # fmt: skip
    for ids in chunks(batch_ids):
        rows = db.session.execute(
            select(*passport_columns)
            .join(Batch, Credential.batch_id == Batch.id)
            .join(Workshop, Batch.workshop_id == Workshop.id)
            .where(Credential.batch_id.in_(ids))
        ).all()
        wanted = {
            r.id: should_be_revoked(r.recalled_at, r.status)
            or is_withdrawn(r.jws, r.country_public)
            for r in rows
        }
        changed += _set_revoked(rows, wanted)
    facility_columns = (Credential.id, Credential.revoked, Credential.jws,
                        Workshop.country_public, Workshop.status)  # fmt: skip
    for ids in chunks(workshop_ids):
        rows = db.session.execute(
            select(*facility_columns)
            .join(Workshop, Credential.workshop_id == Workshop.id)
            .where(Credential.workshop_id.in_(ids), Credential.kind == CredentialKind.FACILITY)
        ).all()
        wanted = {r.id: facility_record_revoked(r.jws, r.country_public, r.status) for r in rows}
        changed += _set_revoked(rows, wanted)
    return changed


def facility_record_revoked(jws: str | None, country_public: bool, workshop_status) -> bool:
    """A facility record version is revoked while it names a withheld place, or claims
    conformance while its workshop is suspended (the current version then claims none)."""
    suspended = workshop_status == WorkshopStatus.SUSPENDED
    return is_withdrawn(jws, country_public) or (
        suspended and jws is not None and claims_conformance(jws)
    )


def _set_revoked(rows, wanted: dict[int, bool]) -> int:
    changed = 0
    for value in (True, False):
        flip = [r.id for r in rows if r.revoked != value and wanted[r.id] == value]
        if flip:
            db.session.execute(
                update(Credential).where(Credential.id.in_(flip)).values(revoked=value),
                execution_options={"synchronize_session": False},
            )
            changed += len(flip)
    return changed


def resign(status_list: StatusList) -> None:
    """Sign the list as the database now says (call with the row locked)."""
    top = db.session.scalar(
        select(db.func.max(Credential.id)).where(Credential.kind.in_(WITH_STATUS))
    )
    size = max(status_list.size_bits, STEP * ((top or 0) // STEP + 1))
    revoked = db.session.scalars(
        select(Credential.id).where(Credential.kind.in_(WITH_STATUS), Credential.revoked.is_(True))
    )
    now = utcnow().replace(microsecond=0)
    url = list_url()
    payload = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": store_did(), "name": current_app.config["STORE_NAME"]},
        "validFrom": month_stamp(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode(revoked, size),
        },
    }
    status_list.jws = signing.sign_jws(payload, "vc+jwt")
    status_list.size_bits = size
    status_list.updated_at = now
    db.session.flush()


def needs_resign(status_list: StatusList, highest_index: int | None) -> bool:
    return status_list.jws is None or (
        highest_index is not None and highest_index >= status_list.size_bits
    )
