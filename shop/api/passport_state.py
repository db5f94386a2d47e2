"""Whether a batch's passport is valid: the one place the partner API asks.

Its current passport (the latest version shop.passports issued) is read with the public
key it names, in one statement: "valid" when it is not revoked and its signature holds
against that published key, "revoked" when its status bit is set, "invalid" when its
signature does not hold (a row changed behind the store's back), "not_issued" when the
batch has none yet. A GET never signs.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from sqlalchemy import select

from shop.extensions import db
from shop.identity.checking import signature_holds
from shop.identity.models import SigningKey
from shop.passports.models import Credential, CredentialKind

PassportStatus = Literal["valid", "revoked", "invalid", "not_issued"]
STATUSES: tuple[PassportStatus, ...] = ("valid", "revoked", "invalid", "not_issued")


class PassportState(TypedDict):
    status: PassportStatus


def passport_state(batch) -> PassportState:
    """The state of `batch`'s current passport."""
    found = db.session.execute(
        select(Credential.jws, Credential.revoked, SigningKey.public_jwk)
        .outerjoin(SigningKey, SigningKey.kid == Credential.kid)
        .where(Credential.kind == CredentialKind.PASSPORT, Credential.batch_id == batch.id)
        .order_by(Credential.version.desc())
        .limit(1)
    ).first()
    if found is None or not found.jws:
        return {"status": "not_issued"}
    if found.revoked:
        return {"status": "revoked"}
    if not signature_holds(found.jws, found.public_jwk):  # the key its header names
        return {"status": "invalid"}
    return {"status": "valid"}
