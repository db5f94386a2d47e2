"""Migration 0028 gives withdrawals their local currency and amount and the rate they were
converted at: withdrawals made before were paid in the account's currency (local = the
account's, no rate); the database refuses a rate without its source or date, a rate
between a currency and itself, a local amount of nothing; a downgrade that would lose what
a school was paid stops, with nothing changed. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.training.models import LedgerAccount, Withdrawal
from tests import factories as f
from tests.migrating import refused

OLD = text(  # the columns of revision 0027
    "INSERT INTO withdrawals (trainee_id, account_id, amount, currency, purpose, payee, "
    "details, status, requested_by_id, requested_at, decision_note) VALUES (:t, :a, 2500, "
    "'USD', 'school_fees', 'School', '', 'requested', :u, '2026-11-01', '')"
)
NEW = text(
    "INSERT INTO withdrawals (trainee_id, account_id, amount, currency, local_currency, "
    "local_amount, rate, rate_source, rate_date, purpose, payee, details, status, "
    "requested_by_id, requested_at, decision_note) VALUES (:t, :a, :amount, 'USD', :cur, "
    ":local, :rate, :source, :day, 'school_fees', 'School', '', 'requested', :u, "
    "'2026-11-30', '')"
)
LOCAL = {"local_currency", "local_amount", "rate", "rate_source", "rate_date"}


def test_migration_0028_keeps_old_withdrawals_and_guards_the_rate(database, tmp_path, capfd):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0027")
        trainee = f.trainee(f.workshop())
        person = f.user("staff")
        db.session.flush()
        account = db.session.scalar(
            select(LedgerAccount.id).where(LedgerAccount.trainee_id == trainee.id)
        )
        ids = {"t": trainee.id, "a": account, "u": person.id}
        db.session.execute(OLD, ids)
        db.session.commit()
        db.session.close()

        upgrade(revision="0028")
        old = db.session.scalars(select(Withdrawal)).one()
        assert (old.amount, old.currency, old.local_amount, old.local_currency) == (
            2500, "USD", 2500, "USD"
        )  # fmt: skip
        assert (old.rate, old.rate_source, old.rate_date, old.exchange) == (None,) * 4

        riel = {**ids, "amount": 10_000, "cur": "KHR", "local": 41_000_000, "rate": "4100",
                "source": "ABA Bank board rate", "day": "2026-11-30"}  # fmt: skip
        assert not refused(NEW, riel)
        assert refused(NEW, {**riel, "source": None})  # a rate needs its source
        assert refused(NEW, {**riel, "day": None})  # and its date
        assert refused(NEW, {**riel, "rate": None})  # a source and date need a rate
        assert refused(NEW, {**riel, "local": 0})
        assert refused(NEW, {**riel, "cur": "USD"})  # no rate between USD and USD
        plain = {**riel, "cur": "USD", "rate": None, "source": None, "day": None}
        assert refused(NEW, {**plain, "local": 10_001})  # without a rate, the amount is the amount
        assert not refused(NEW, {**plain, "local": 10_000})
        db.session.commit()
        db.session.close()

        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
            downgrade(revision="0027")
        assert "the old schema cannot hold" in capfd.readouterr().err
        db.session.close()
        assert db.session.scalar(text("SELECT count(*) FROM withdrawals")) == 3
        db.session.execute(text("DELETE FROM withdrawals WHERE rate IS NOT NULL"))
        db.session.commit()
        db.session.close()

        downgrade(revision="0027")
        columns = {c["name"] for c in inspect(db.engine).get_columns("withdrawals")}
        assert LOCAL.isdisjoint(columns)
        rows = db.session.execute(text("SELECT amount, currency FROM withdrawals")).all()
        assert sorted(tuple(r) for r in rows) == [(2500, "USD"), (10_000, "USD")]
        db.session.close()
        db.engine.dispose()
