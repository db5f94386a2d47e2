"""The log as stored: its head (the tree size, and the secret that makes account
commitments), the leaves, the tree's perfect subtrees, and every checkpoint signed.
Leaves, nodes and checkpoints are written once: the database refuses to change or
delete them (triggers, migration 0026); only the head's size moves, forward.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow

HEAD_ID = 1


class LogHead(db.Model):
    """One row, locked by every transaction that appends: so leaves get their indexes in
    commit order, with no gap, on SQLite and PostgreSQL alike."""

    __tablename__ = "transparency_log_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # HMAC key of the account and cause commitments (32 random bytes, made by the
    # migration). Kept beside the ledger it hides: whoever reads this row reads the
    # transfers too, and a rebuild on any machine needs it.
    commitment_key: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogLeaf(db.Model):
    __tablename__ = "transparency_leaves"

    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    # The RFC 8785 canonical JSON the leaf hash is taken over, as served.
    leaf: Mapped[str] = mapped_column(Text)


class LogNode(db.Model):
    """The hash of the 2**level leaves from index * 2**level on (level 0: a leaf's)."""

    __tablename__ = "transparency_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(db.Model):
    __tablename__ = "transparency_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)  # the signed note, as served
    key_id: Mapped[str] = mapped_column(Text)  # the verifier key line that verifies it
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
