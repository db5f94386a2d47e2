"""Checking the log against the ledger (`flask --app app ledger verify`): every entry
rebuilt from its transfer, the tree rebuilt from the entries and compared with the
stored subtrees, every checkpoint's root recomputed and its signature verified, and no
transfer left out. Streams the log in chunks: memory stays flat whatever its size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from shop.extensions import db
from shop.training.models import Transfer
from shop.transparency import merkle, notes
from shop.transparency.entries import TRANSFER_COLUMNS, leaf_text
from shop.transparency.models import HEAD_ID, LogCheckpoint, LogHead, LogLeaf, LogNode
from shop.transparency.verify_log import LogError, VerifierKey, parse_checkpoint

CHUNK = 5000


@dataclass
class LogCheck:
    size: int = 0
    checkpoints: int = 0
    last_root: bytes | None = None
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None
    # Not a fault of the log: what this machine cannot vouch for (a checkpoint signed by a
    # key whose private half is not here, as on a machine given only SIGNING_KEY_FILE).
    warnings: list[str] = field(default_factory=list)

    def bad(self, index: int | None, problem: str) -> None:
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        if len(self.problems) < 20:
            self.problems.append(problem)
        elif len(self.problems) == 20:
            self.problems.append("… more problems left out")

    @property
    def clean(self) -> bool:
        return not self.problems


def _stored_nodes(added: dict[merkle.Node, bytes]) -> dict[merkle.Node, bytes]:
    by_level: dict[int, list[int]] = {}
    for level, index in added:
        by_level.setdefault(level, []).append(index)
    found = {}
    for level, indexes in by_level.items():
        rows = db.session.execute(
            select(LogNode.index, LogNode.hash).where(
                LogNode.level == level, LogNode.index.between(min(indexes), max(indexes))
            )
        )
        found.update(((level, index), bytes(value)) for index, value in rows)
    return found


def check_log(progress: Callable[[int], None] | None = None) -> LogCheck:
    check = LogCheck()
    head = db.session.get(LogHead, HEAD_ID)
    check.size = size = head.size
    key = head.commitment_key
    checkpoints = {c.size: c for c in db.session.scalars(select(LogCheckpoint))}
    check.checkpoints = len(checkpoints)
    held = notes.keys_held()
    for key_line in sorted({c.key_id for c in checkpoints.values()} - held):
        check.warnings.append(
            f"checkpoints signed by {key_line.split('+')[1]} could not be vouched for: this "
            "machine holds no private key of that id (compare it with the key you published)"
        )
    columns = [getattr(Transfer, name) for name in TRANSFER_COLUMNS]
    edge: dict[merkle.Node, bytes] = {}
    done = 0
    while done < size:
        end = min(done + CHUNK, size)
        leaves = dict(db.session.execute(
            select(LogLeaf.index, LogLeaf.transfer_id).where(LogLeaf.index >= done, LogLeaf.index < end)
        ).all())  # fmt: skip
        texts = dict(db.session.execute(
            select(LogLeaf.index, LogLeaf.leaf).where(LogLeaf.index >= done, LogLeaf.index < end)
        ).all())  # fmt: skip
        transfers = {
            row.id: row
            for row in db.session.execute(
                select(*columns).where(Transfer.id.in_(set(leaves.values())))
            )
        }
        hashes = []
        for index in range(done, end):
            stored = texts.get(index)
            if stored is None:
                check.bad(index, f"entry {index} is missing from the log")
                stored = ""
            transfer = transfers.get(leaves.get(index))
            if transfer is None and index in leaves:
                check.bad(
                    index, f"entry {index}: its transfer {leaves[index]} is gone from the ledger"
                )
            elif transfer is not None and leaf_text(index, transfer, key) != stored:
                check.bad(index, f"entry {index}: transfer {transfer.id} no longer says what "
                                 "its entry says (changed since it was logged)")  # fmt: skip
            hashes.append(merkle.leaf_hash(stored.encode("utf-8")))
        added = merkle.appended_nodes(done, hashes, edge)
        stored_nodes = _stored_nodes(added)
        for node, value in sorted(added.items(), key=lambda item: item[0][1] << item[0][0]):
            if stored_nodes.get(node) != value:
                first = node[1] << node[0]
                check.bad(first, f"the tree's stored hash over entries {first} to "
                                 f"{first + (1 << node[0]) - 1} differs from the rebuilt one")  # fmt: skip
        known = {**edge, **added}
        for at in sorted(s for s in checkpoints if done < s <= end):
            _check_checkpoint(check, checkpoints[at], merkle.fold(merkle.root_parts(at), known))
        edge = {node: known[node] for node in merkle.root_parts(end)}
        if progress:
            progress(end - done)
        done = end
    if size:
        check.last_root = merkle.fold(merkle.root_parts(size), edge)
    for at in sorted(s for s in checkpoints if s > size):
        check.bad(None, f"a checkpoint signs {at} entries, more than the log's {size}")
    _left_out(check, size)
    return check


def _check_checkpoint(check: LogCheck, kept: LogCheckpoint, rebuilt: bytes) -> None:
    try:
        parsed = parse_checkpoint(kept.note, VerifierKey.parse(kept.key_id))
    except LogError as exc:
        check.bad(None, f"checkpoint {kept.size}: {exc}")
        return
    if parsed.size != kept.size or parsed.root != bytes(kept.root):
        check.bad(None, f"checkpoint {kept.size}: its note says otherwise than its row")
    if parsed.root != rebuilt:
        check.bad(kept.size - 1, f"checkpoint {kept.size} signed a root the rebuilt tree of "
                                 f"{kept.size} entries does not have")  # fmt: skip


def _left_out(check: LogCheck, size: int) -> None:
    transfers = db.session.scalar(select(func.count(Transfer.id))) or 0
    if transfers == size:
        return
    missing = db.session.scalars(
        select(Transfer.id)
        .outerjoin(LogLeaf, LogLeaf.transfer_id == Transfer.id)
        .where(LogLeaf.index.is_(None))
        .order_by(Transfer.id)
        .limit(5)
    ).all()
    for offset, transfer_id in enumerate(missing):
        check.bad(size + offset, f"transfer {transfer_id} is in no entry of the log")
    if not missing:
        check.bad(None, f"the log has {size} entries for {transfers} transfers")
