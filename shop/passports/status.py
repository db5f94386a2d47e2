"""Revocation: one W3C Bitstring Status List credential at /credentials/status/1.

Bit i is the passport whose credential row has id i (first bit = the leftmost bit of
the first byte, as the spec counts). A passport is revoked while its batch is recalled
or its workshop suspended; every version of a batch's passport follows its batch.
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

from shop.extensions import db
from shop.identity import signing
from shop.identity.did import store_did
from shop.passports.content import month_stamp
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


def entry(index: int) -> dict:
    """A passport's credentialStatus (BitstringStatusListEntry)."""
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
    return db.session.scalars(
        select(StatusList)
        .where(StatusList.id == STATUS_LIST_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def should_be_revoked(recalled_at, workshop_status) -> bool:
    return recalled_at is not None or workshop_status == WorkshopStatus.SUSPENDED


def apply_revocations(batch_ids: Iterable[int]) -> int:
    """Set `revoked` on the passports of `batch_ids` (every version) as their batch and
    workshop now say; returns how many changed. Call with the list locked."""
    changed = 0
    for ids in chunks(batch_ids):
        rows = db.session.execute(
            select(Credential.id, Credential.revoked, Batch.recalled_at, Workshop.status)
            .join(Batch, Credential.batch_id == Batch.id)
            .join(Workshop, Batch.workshop_id == Workshop.id)
            .where(Credential.batch_id.in_(ids))
        ).all()
        for value in (True, False):
            flip = [r.id for r in rows if r.revoked != value and should_be_revoked(r.recalled_at, r.status) == value]  # fmt: skip
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
        select(db.func.max(Credential.id)).where(Credential.kind == CredentialKind.PASSPORT)
    )
    size = max(status_list.size_bits, STEP * ((top or 0) // STEP + 1))
    revoked = db.session.scalars(
        select(Credential.id).where(
            Credential.kind == CredentialKind.PASSPORT, Credential.revoked.is_(True)
        )
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


def needs_resign(status_list: StatusList, highest_passport_id: int | None) -> bool:
    return status_list.jws is None or (
        highest_passport_id is not None and highest_passport_id >= status_list.size_bits
    )
