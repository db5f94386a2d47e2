"""Whether a batch's passport is valid: the one place the partner API asks.

The passports themselves (signing, storage, the status list) are built on another
branch (wip/passports, issue 12). Until it is merged every batch answers "not_issued",
so /api/v1/batches/<code>/verify says "not_ok" with the reason "passport_not_issued".

TODO(lead, on merging wip/passports): answer from shop.passports: the batch's current
passport (kind "dpp") -> {"status": "revoked"} when its status bit is set, else
{"status": "valid"}; no passport -> {"status": "not_issued"}. Reading the stored row is
enough (never sign here: a GET never signs), in a fixed number of statements.
"""

from __future__ import annotations

from typing import Literal, TypedDict

PassportStatus = Literal["valid", "revoked", "not_issued"]
STATUSES: tuple[PassportStatus, ...] = ("valid", "revoked", "not_issued")


class PassportState(TypedDict):
    status: PassportStatus


def passport_state(batch) -> PassportState:
    """The state of `batch`'s current passport: valid, revoked or not issued."""
    return {"status": "not_issued"}
