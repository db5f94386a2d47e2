"""Migration 0011 lets the ledger hold reversals undone (a refund failed at the gateway)
and keeps its transfers append-only, both ways, on SQLite (whose batch mode rebuilds the
table and loses its triggers) and on PostgreSQL."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db

ACCOUNT = text(  # the system accounts, unless they were opened already
    "INSERT INTO ledger_accounts (code, kind, currency, debits_must_not_exceed_credits, "
    "debits_posted, credits_posted, earned_posted, created_at) "
    "SELECT CAST(:code AS VARCHAR(40)), CAST(:code AS VARCHAR(32)), 'USD', false, 0, 0, 0, "
    "'2026-01-01' WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger_accounts WHERE code = CAST(:code AS VARCHAR(40)))"
)
TRANSFER = text(
    "INSERT INTO ledger_transfers (debit_account_id, credit_account_id, amount, currency, kind, "
    "idempotency_key, cause_type, memo, created_at) SELECT d.id, c.id, 5, 'USD', :kind, :key, "
    "'order_line', '', '2026-01-01' FROM ledger_accounts d, ledger_accounts c "
    "WHERE d.code = 'sale_share_source' AND c.code = 'refund_loss'"
)


def _append_only() -> None:
    for statement in ("UPDATE ledger_transfers SET amount = 6", "DELETE FROM ledger_transfers"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_migration_0011_takes_reversals_undone_and_keeps_transfers_append_only(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0009")
        for code in ("sale_share_source", "refund_loss"):
            db.session.execute(ACCOUNT, {"code": code})
        db.session.execute(TRANSFER, {"kind": "refund_reversal", "key": "before"})
        db.session.commit()
        db.session.close()

        upgrade(revision="0011")
        db.session.execute(TRANSFER, {"kind": "reversal_undone", "key": "undone"})
        db.session.commit()
        with pytest.raises(DBAPIError):
            db.session.execute(TRANSFER, {"kind": "no_such_kind", "key": "bad"})
        db.session.rollback()
        keys = set(db.session.scalars(text("SELECT idempotency_key FROM ledger_transfers")))
        assert keys == {"before", "undone"}
        _append_only()
        db.session.close()

        # Refused (Flask-Migrate logs the RuntimeError and exits): nothing is lost.
        with pytest.raises(SystemExit):
            downgrade(revision="0009")
        db.session.close()
        assert db.session.scalar(text("SELECT count(*) FROM ledger_transfers")) == 2
        db.session.close()
        db.engine.dispose()


def test_migration_0011_goes_back_when_no_reversal_was_undone(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0011")
        for code in ("sale_share_source", "refund_loss"):
            db.session.execute(ACCOUNT, {"code": code})
        db.session.execute(TRANSFER, {"kind": "refund_reversal", "key": "kept"})
        db.session.commit()
        db.session.close()
        downgrade(revision="0009")
        with pytest.raises(DBAPIError):
            db.session.execute(TRANSFER, {"kind": "reversal_undone", "key": "undone"})
        db.session.rollback()
        _append_only()
        db.session.close()
        db.engine.dispose()
