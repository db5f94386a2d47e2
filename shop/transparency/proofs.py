"""Reading the log: the current size, leaves, proofs and checkpoints. A proof reads the
O(log n) stored subtrees it folds, in one statement (shop.transparency.merkle)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import select

from shop.extensions import db
from shop.transparency import merkle
from shop.transparency.appending import read_nodes
from shop.transparency.models import HEAD_ID, LogCheckpoint, LogHead, LogLeaf

ENTRIES_MAX = 1000  # leaves per answer (a client asks again from where it stopped)
CHECKPOINTS_MAX = 100


class ProofRefused(ValueError):
    """The proof asked cannot be given; the message says why, in the asker's terms."""


def tree_size() -> int:
    return db.session.scalar(select(LogHead.size).where(LogHead.id == HEAD_ID)) or 0


def _within(size: int, what: str) -> None:
    current = tree_size()
    if size > current:
        raise ProofRefused(f"{what} {size} is beyond the log, which holds {current} entries")


def inclusion(index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofRefused(f"index must be at least 0 and below size ({size}); it was {index}")
    _within(size, "size")
    ranges = merkle.inclusion_ranges(index, size)
    return merkle.hashes_of(ranges, read_nodes(merkle.nodes_for(ranges)))


def consistency(old: int, new: int) -> list[bytes]:
    if not 0 < old <= new:
        raise ProofRefused(f"from must be at least 1 and at most to ({new}); it was {old}")
    _within(new, "to")
    ranges = merkle.consistency_ranges(old, new)
    return merkle.hashes_of(ranges, read_nodes(merkle.nodes_for(ranges)))


def root(size: int) -> bytes:
    if size == 0:
        return merkle.empty_root()
    parts = merkle.root_parts(size)
    return merkle.fold(parts, read_nodes(parts))


def entries(start: int, end: int) -> list[tuple[int, str]]:
    if not 0 <= start < end:
        raise ProofRefused(f"start must be at least 0 and below end; they were {start} and {end}")
    _within(end, "end")
    end = min(end, start + ENTRIES_MAX)
    rows = db.session.execute(
        select(LogLeaf.index, LogLeaf.leaf)
        .where(LogLeaf.index >= start, LogLeaf.index < end)
        .order_by(LogLeaf.index)
    )
    return [(index, leaf) for index, leaf in rows]


@dataclass(frozen=True)
class Published:
    """The log as its latest checkpoint signs it, for /impact."""

    size: int
    root: str  # base64, as the checkpoint prints it


def published() -> Published | None:
    latest = latest_checkpoint()
    if latest is None:
        return None
    return Published(latest.size, base64.b64encode(bytes(latest.root)).decode("ascii"))


def latest_checkpoint() -> LogCheckpoint | None:
    return db.session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()


def checkpoints_since(size: int) -> list[LogCheckpoint]:
    return list(
        db.session.scalars(
            select(LogCheckpoint)
            .where(LogCheckpoint.size > size)
            .order_by(LogCheckpoint.size)
            .limit(CHECKPOINTS_MAX)
        )
    )


def checkpoint_keys() -> list[str]:
    """The verifier key of every key that signed a checkpoint, in the order first used."""
    first = db.func.min(LogCheckpoint.size)
    rows = db.session.execute(
        select(LogCheckpoint.key_id, first).group_by(LogCheckpoint.key_id).order_by(first)
    )
    return [key_id for key_id, _first in rows]
