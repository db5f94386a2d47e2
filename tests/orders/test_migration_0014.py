"""Migration 0014 adds orders.checkout_key and orders.client_digest: orders placed before
it keep everything and have neither (no session or address is made up for them), and a
downgrade gives the old table back. On SQLite and on PostgreSQL."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from tests.orders.test_migration_0006 import ORDER


def _columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("orders")}


def test_migration_0014_adds_the_checkout_key_and_client_digest(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0013")
        db.session.execute(ORDER, {"n": "MK-OLD", "status": "pending_payment", "refunded": 0,
                                   "tracking": ""})  # fmt: skip
        db.session.commit()
        db.session.close()

        upgrade(revision="0014")
        row = db.session.execute(
            text("SELECT number, status, total, checkout_key, client_digest FROM orders")
        ).one()
        assert tuple(row) == ("MK-OLD", "pending_payment", 1000, None, None)
        db.session.execute(text("UPDATE orders SET checkout_key = 'k' || number, "
                                "client_digest = 'd' || number"))  # fmt: skip
        db.session.commit()
        db.session.close()

        downgrade(revision="0013")
        assert {"checkout_key", "client_digest"}.isdisjoint(_columns())
        row = db.session.execute(text("SELECT number, status, total FROM orders")).one()
        assert tuple(row) == ("MK-OLD", "pending_payment", 1000)
        db.session.close()
        db.engine.dispose()
