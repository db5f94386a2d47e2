"""Appending: every transfer a transaction posts becomes a leaf as the transaction commits.

shop.training.ledger.post notes the ids it inserts (session.info); as the transaction
commits (before_commit, so in the same transaction) this locks the log's head row, gives
the transfers the next indexes in id order, stores their leaves, the leaf hashes and the
subtrees they complete, moves the head and signs a checkpoint. The head's lock is taken
last of all, after every account lock the transaction holds, and held to the commit: two
transactions append one after the other, in commit order, with no gap and no deadlock (on
SQLite there is one writer at a time anyway). A rolled-back transaction appends nothing;
a failure here fails the commit, so a transfer is never without its leaf.

Cost per appending commit: a fixed number of statements whatever the log's size (the
head, the transfers, the tree's right edge, the inserts, the checkpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, event, insert, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from shop.database import has_table, locked_row
from shop.extensions import db
from shop.identity.keys import NoSigningKey
from shop.training.ledger import TRANSFERS_POSTED
from shop.training.models import Transfer
from shop.transparency import merkle, notes
from shop.transparency.entries import TRANSFER_COLUMNS, leaf_text
from shop.transparency.models import HEAD_ID, LogCheckpoint, LogHead, LogLeaf, LogNode

log = logging.getLogger("shop.transparency")
CHUNK = 500


@dataclass(frozen=True)
class Appended:
    first: int  # the first new index
    size: int  # the tree's size after
    root: bytes
    checkpoint_signed: bool


def lock_head() -> LogHead:
    return locked_row(LogHead, HEAD_ID)


def read_nodes(wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored nodes `wanted`, in one statement (a few for very many): one primary-key
    lookup per level (a row-value IN would have SQLite scan the table)."""
    wanted = sorted(set(wanted))
    found: dict[merkle.Node, bytes] = {}
    for start in range(0, len(wanted), CHUNK):
        by_level: dict[int, list[int]] = {}
        for level, index in wanted[start : start + CHUNK]:
            by_level.setdefault(level, []).append(index)
        per_level = [
            and_(LogNode.level == level, LogNode.index.in_(indexes))
            for level, indexes in by_level.items()
        ]
        rows = db.session.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(or_(*per_level))
        )
        found.update(((level, index), bytes(value)) for level, index, value in rows)
    return found


def _transfers(ids: list[int]):
    columns = [getattr(Transfer, name) for name in TRANSFER_COLUMNS]
    rows = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows += db.session.execute(select(*columns).where(Transfer.id.in_(chunk))).all()
    return sorted(rows, key=lambda row: row.id)


def append(transfer_ids: Iterable[int]) -> Appended | None:
    """Append the transfers `transfer_ids` that exist (one a savepoint rolled back is
    gone) to the log. The first append of a log takes every transfer posted before the
    log existed, in id order. Flushes, never commits."""
    head = lock_head()
    if head.size == 0:
        ids = list(db.session.scalars(select(Transfer.id).order_by(Transfer.id)))
    else:
        ids = sorted(set(transfer_ids))
    return append_ids(head, ids)


def append_ids(head: LogHead, ids: list[int]) -> Appended | None:
    """Append these transfers (in id order), with the head locked by the caller."""
    rows = _transfers(ids)
    if not rows:
        return None
    size = head.size
    texts = [leaf_text(size + offset, row, head.commitment_key) for offset, row in enumerate(rows)]
    hashes = [merkle.leaf_hash(text.encode("utf-8")) for text in texts]
    edge = read_nodes(merkle.root_parts(size))
    added = merkle.appended_nodes(size, hashes, edge)
    db.session.execute(insert(LogLeaf), [
        {"index": size + offset, "transfer_id": row.id, "leaf": text}
        for offset, (row, text) in enumerate(zip(rows, texts, strict=True))
    ])  # fmt: skip
    db.session.execute(insert(LogNode), [
        {"level": level, "index": index, "hash": value} for (level, index), value in added.items()
    ])  # fmt: skip
    new_size = size + len(rows)
    root = merkle.fold(merkle.root_parts(new_size), {**edge, **added})
    head.size = new_size
    db.session.flush()
    # The tree never had this size before: no checkpoint of it can be kept yet.
    signed = sign_checkpoint(new_size, root, new=True)
    return Appended(size, new_size, root, signed)


def sign_checkpoint(size: int, root: bytes, *, new: bool = False) -> bool:
    """Sign and keep the checkpoint of the tree at `size` (unless kept already). Without a
    signing key the entries still go in, and the next appending commit or `flask --app
    app ledger checkpoint` signs: a sale never fails for want of a checkpoint."""
    if not new and db.session.get(LogCheckpoint, size) is not None:
        return True
    try:
        note, key_line = notes.signed_note(size, root)
    except NoSigningKey as exc:
        log.warning("transparency log: no checkpoint signed for size %d: %s", size, exc)
        return False
    db.session.add(LogCheckpoint(size=size, root=root, note=note, key_id=key_line))
    db.session.flush()
    return True


def _append_posted(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()
    posted = session.info.pop(TRANSFERS_POSTED, None)
    if not posted or not has_table(session.connection(), "transparency_log_head"):
        return
    append(posted)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(TRANSFERS_POSTED, None)


def append_as_posted(session_class: type[Session]) -> None:
    """Listen on every session (from create_app, once the models are mapped)."""
    for name, listener in (("before_commit", _append_posted), ("after_transaction_end", _forget)):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
