"""Inclusion receipts: what staff print for a trainee so that she (or her advocate) can
check, without the store, that a credit to her account is in the public log; and the log
indices a buyer's order page lists for its training shares.

A receipt carries the leaf exactly as /log/entries serves it, her commitment for that
credit (the leaf's `credit`, an HMAC only the store's key can make, recomputed here from
her account so a receipt never vouches for a leaf that names someone else), the
inclusion proof against the latest checkpoint, and that checkpoint's signed note. It
names her by her code only: the public log never names anyone, and the paper should not
either.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from shop.extensions import db
from shop.training.models import LedgerAccount, Transfer, TransferKind
from shop.transparency import proofs
from shop.transparency.entries import account_commitment, account_opening
from shop.transparency.models import HEAD_ID, LogHead, LogLeaf


@dataclass(frozen=True)
class Receipt:
    index: int
    leaf: str  # the canonical JSON, as served
    entry: dict  # the leaf, read
    commitment: str  # hers: the leaf's `credit`
    commitment_holds: bool  # it is the commitment of her account for this transfer
    account_id: int  # her account's number, which the opening opens the commitment to
    opening: str  # the secret that opens her commitment (hers to keep)
    size: int  # of the checkpoint the proof is against
    root: str  # base64
    proof: list[str]  # base64 hashes, RFC 9162 audit path
    note: str  # the signed checkpoint
    key_line: str  # the verifier key, as /log/key serves it


class NoReceipt(LookupError):
    """No receipt can be printed; the message says why, for staff."""


def receipt(trainee_id: int, transfer_id: int) -> Receipt:
    """The receipt of transfer `transfer_id`, a credit to trainee `trainee_id`'s account.
    NoReceipt when it is not hers, not a credit, or not in the log yet."""
    found = db.session.execute(
        select(LogLeaf.index, LogLeaf.leaf, Transfer.credit_account_id, LogHead.commitment_key)
        .join(Transfer, Transfer.id == LogLeaf.transfer_id)
        .join(LedgerAccount, LedgerAccount.id == Transfer.credit_account_id)
        .join(LogHead, LogHead.id == HEAD_ID)
        .where(LogLeaf.transfer_id == transfer_id, LedgerAccount.trainee_id == trainee_id)
    ).one_or_none()
    if found is None:
        raise NoReceipt(
            _(
                "Transfer %(transfer)s is not a credit to this trainee's account in the log.",
                transfer=transfer_id,
            )
        )
    checkpoint = proofs.latest_checkpoint()
    if checkpoint is None or checkpoint.size <= found.index:
        raise NoReceipt(
            _(
                "Entry %(index)s is not covered by a signed checkpoint yet: sign one with "
                "%(command)s, then print the receipt again.",
                index=found.index,
                command="flask --app app ledger checkpoint",
            )
        )
    entry = json.loads(found.leaf)
    key = bytes(found.commitment_key)
    mine = account_commitment(key, found.credit_account_id, transfer_id)
    return Receipt(
        index=found.index,
        leaf=found.leaf,
        entry=entry,
        commitment=entry["credit"],
        commitment_holds=hmac.compare_digest(entry["credit"], mine),
        account_id=found.credit_account_id,
        opening=account_opening(key, found.credit_account_id, transfer_id),
        size=checkpoint.size,
        root=_b64(bytes(checkpoint.root)),
        proof=[_b64(h) for h in proofs.inclusion(found.index, checkpoint.size)],
        note=checkpoint.note,
        # The key that signed this checkpoint (after a rotation, /log/key names the new
        # one, which would not verify it).
        key_line=checkpoint.key_id,
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def sale_share_indices(line_ids: Iterable[int]) -> list[int]:
    """The log indices of the sale shares the order lines `line_ids` credited (to makers
    and workshop pools alike), in one statement; never whose they are."""
    line_ids = list(line_ids)
    if not line_ids:
        return []
    return list(
        db.session.scalars(
            select(LogLeaf.index)
            .join(Transfer, Transfer.id == LogLeaf.transfer_id)
            .where(
                Transfer.kind == TransferKind.SALE_SHARE,
                Transfer.cause_type == "order_line",
                Transfer.cause_id.in_(line_ids),
            )
            .order_by(LogLeaf.index)
        )
    )


def index_ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as runs (first, last) of consecutive ones: a sale's shares are
    appended together, so its entries read as one or a few ranges."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
