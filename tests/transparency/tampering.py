"""What a database administrator could do behind the store's back, for the tests: with
the append-only triggers (and foreign keys) out of the way for the test's transaction."""

from __future__ import annotations

from sqlalchemy import text

from shop.extensions import db

TRIGGERS = {
    "ledger_transfers": ("ledger_transfers_no_update", "ledger_transfers_no_delete"),
    "transparency_leaves": ("transparency_leaves_no_update", "transparency_leaves_no_delete"),
    "transparency_nodes": ("transparency_nodes_no_update", "transparency_nodes_no_delete"),
    "transparency_checkpoints": ("transparency_checkpoints_no_update",
                                 "transparency_checkpoints_no_delete"),
    "transparency_log_head": ("transparency_log_head_no_update", "transparency_log_head_no_delete"),
}  # fmt: skip


def unguard() -> None:
    """Lift the triggers and foreign-key checks until the transaction ends (SQLite: the
    triggers are dropped, which the transaction's end undoes or keeps, as it ends)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        return
    db.session.execute(text("PRAGMA defer_foreign_keys = ON"))
    for names in TRIGGERS.values():
        for name in names:
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def rewrite_log_from_the_ledger() -> None:
    """What covering one's tracks takes: the log emptied and rebuilt from the (changed)
    transfers, and a new checkpoint signed with the store's key."""
    from shop.transparency.appending import append

    for table in ("transparency_checkpoints", "transparency_nodes", "transparency_leaves"):
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.execute(text("UPDATE transparency_log_head SET size = 0"))
    db.session.expire_all()
    append([])
