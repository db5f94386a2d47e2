"""Migration 0009 adds the correction proposals (four-eyes in the database too) and makes
trainee codes unique whatever their case, stopping, with nothing changed, while two codes
differ only in case. On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.training.models import LedgerAccount
from tests import factories as f
from tests.migrating import refused

PROPOSAL = text(
    "INSERT INTO correction_requests (trainee_id, account_id, amount, currency, reason, "
    "request_key, status, requested_by_id, requested_at, decided_by_id, decision_note) "
    "VALUES (:trainee, :account, :amount, 'USD', 'r', :key, 'requested', :by, '2026-11-30', "
    ":decider, '')"
)
TRAINEE = text(
    "INSERT INTO trainees (code, legal_name, alias, alias_consent, workshop_id, cohort, "
    "active, created_at) VALUES (:code, 'L', '', false, :w, '', true, '2026-11-30')"
)


USER = text(
    "INSERT INTO users (email, name, password_hash, active, created_at, session_version) "
    "VALUES (:email, '', 'x', true, '2026-11-30', 1)"
)


def _staff_at_this_revision(email: str) -> int:
    """A user written in the columns of this revision (the model has later ones)."""
    db.session.execute(USER, {"email": email})
    return db.session.scalar(text("SELECT id FROM users WHERE email = :e"), {"e": email})


def test_migration_0009_proposals_and_codes_whatever_their_case(database, tmp_path, capfd):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0008")
        w = f.workshop()
        f.trainee(w, code="AB-1")
        twin = f.trainee(w, code="ab-1")
        db.session.commit()
        twin_id, workshop_id = twin.id, w.id
        db.session.close()

        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
            upgrade(revision="0009")
        assert "rename all but one of each first: ab-1" in capfd.readouterr().err
        db.session.close()
        assert "correction_requests" not in db.inspect(db.engine).get_table_names()
        db.session.execute(text("UPDATE trainees SET code = 'AB-2' WHERE id = :i"), {"i": twin_id})
        db.session.commit()
        db.session.close()

        upgrade(revision="0009")
        proposer_id = _staff_at_this_revision("proposer@example.org")
        decider_id = _staff_at_this_revision("decider@example.org")
        account = db.session.scalar(
            select(LedgerAccount.id).where(LedgerAccount.trainee_id == twin_id)
        )
        db.session.commit()
        row = {"trainee": twin_id, "account": account, "amount": -50, "key": "k1",
               "by": proposer_id, "decider": None}  # fmt: skip
        assert not refused(PROPOSAL, row)
        assert refused(PROPOSAL, {**row, "key": "k1"})  # one proposal per form
        assert refused(PROPOSAL, {**row, "key": "k2", "decider": proposer_id})  # four eyes
        assert not refused(PROPOSAL, {**row, "key": "k3", "decider": decider_id})
        assert refused(PROPOSAL, {**row, "key": "k4", "amount": 0})
        assert refused(TRAINEE, {"code": "ab-2", "w": workshop_id})
        db.session.commit()
        db.session.close()

        downgrade(revision="0008")
        tables = db.inspect(db.engine).get_table_names()
        assert "correction_requests" not in tables
        db.session.execute(TRAINEE, {"code": "ab-2", "w": workshop_id})  # case apart again
        db.session.commit()
        db.session.close()
        db.engine.dispose()
