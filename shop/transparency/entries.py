"""What a leaf says of a transfer: the RFC 8785 canonical JSON of its index, transfer id,
kind, amount (minor units), currency, time (UTC, to the second) and three commitments.

A commitment is made with the log's secret key, so the public log names no trainee, no
account and no order. An account's is SHA-256 of an opening (an HMAC of the account id
and the transfer id under that key) and the account's number: the trainee's receipt
prints the opening, so she can check that the entry is hers, and no one else can tell.
It is taken over the account id *and the transfer id*: each leaf's differs, so nobody can gather a trainee's
credits from the log (a buyer who knows which leaves came from their order learns
nothing of the makers' other earnings), and nobody can link two leaves to one account.
The trainee's receipt prints her commitment for that credit, which staff can recompute.
The cause's commitment (an order line, a refund, a withdrawal) is taken with the transfer
id too: were it shared by the transfers of one cause, a refund's reversal would point at
the sale share it takes back, and so link two entries of one account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import rfc8785

from shop.transparency.verify_log import account_commitment_from

# What each leaf is made of, in the order `leaf_text` reads them (a row of this select).
TRANSFER_COLUMNS = ("id", "kind", "amount", "currency", "created_at", "debit_account_id",
                    "credit_account_id", "cause_type", "cause_id")  # fmt: skip


def commitment(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def account_opening(key: bytes, account_id: int, transfer_id: int) -> str:
    """The secret a receipt prints so its holder can open the entry's commitment."""
    return commitment(key, f"opening:account:{account_id}:transfer:{transfer_id}")


def account_commitment(key: bytes, account_id: int, transfer_id: int) -> str:
    opening = account_opening(key, account_id, transfer_id)
    return account_commitment_from(opening, account_id)


def cause_commitment(key: bytes, cause_type: str, cause_id: int | None, transfer_id: int) -> str:
    cause = f"{cause_type}:{'' if cause_id is None else cause_id}"
    return commitment(key, f"cause:{cause}:transfer:{transfer_id}")


def utc_second(moment: datetime) -> str:
    """A transfer's time as the leaf says it (SQLite gives it back without its zone, which
    is UTC as written)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def leaf_text(index: int, transfer, key: bytes) -> str:
    """The leaf of `transfer` (a row with TRANSFER_COLUMNS) at `index`."""
    kind = getattr(transfer.kind, "value", transfer.kind)
    entry = {
        "index": index,
        "transfer": transfer.id,
        "kind": kind,
        "amount": int(transfer.amount),
        "currency": transfer.currency,
        "time": utc_second(transfer.created_at),
        "debit": account_commitment(key, transfer.debit_account_id, transfer.id),
        "credit": account_commitment(key, transfer.credit_account_id, transfer.id),
        "cause": cause_commitment(key, transfer.cause_type, transfer.cause_id, transfer.id),
    }
    return rfc8785.dumps(entry).decode("utf-8")
