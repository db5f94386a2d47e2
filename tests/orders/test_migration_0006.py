"""Migration 0006 carries existing orders over: a refunded order goes back to where its
life was (shipped when it has a tracking number, else paid), its refunds stay, and
the old statuses are refused afterwards. On SQLite (with rows that refer to the
orders, so its batch copy must keep foreign keys whole) and on PostgreSQL."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db

ORDER = text(
    "INSERT INTO orders (number, token, status, email, name, address_line1, address_line2, "
    "city, postal_code, country_code, shipping_method, currency, subtotal, shipping, total, "
    "refunded_amount, gateway, review_reason, last_payment_error, tracking_number, "
    "reserved_until, created_at) VALUES (:n, :n, :status, 'a@example.org', 'A', '1 Road', '', "
    "'Lyon', '', 'FR', 'standard', 'USD', 1000, 0, 1000, :refunded, 'dummy', '', '', :tracking, "
    "'2026-01-01', '2026-01-01')"
)


def test_migration_0006_carries_refunded_orders_over(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0004")
        rows = [("MK-SHIPPED", "refunded", 1000, "LX1"), ("MK-UNSHIPPED", "refunded", 1000, ""),
                ("MK-PART", "partially_refunded", 300, ""), ("MK-PAID", "paid", 0, "")]  # fmt: skip
        for number, status, refunded, tracking in rows:
            db.session.execute(
                ORDER, {"n": number, "status": status, "refunded": refunded, "tracking": tracking}
            )
        db.session.execute(text(
            "INSERT INTO refunds (order_id, amount, currency, gateway, reference, idempotency_key, "
            "reason, created_at) SELECT id, refunded_amount, 'USD', 'dummy', 're_' || number, "
            "'key-' || number, '', '2026-01-01' FROM orders WHERE refunded_amount > 0"
        ))  # fmt: skip
        db.session.commit()
        db.session.close()

        upgrade(revision="heads")
        statuses = dict(db.session.execute(text("SELECT number, status FROM orders")).all())
        assert statuses == {"MK-SHIPPED": "fulfilled", "MK-UNSHIPPED": "paid",
                            "MK-PART": "paid", "MK-PAID": "paid"}  # fmt: skip
        refunds = db.session.execute(text("SELECT amount, covered FROM refunds")).all()
        assert sorted(refunds) == [(300, 0), (1000, 0), (1000, 0)]
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE orders SET status = 'refunded'"))
        db.session.rollback()
        db.session.close()

        downgrade(revision="0004")
        statuses = dict(db.session.execute(text("SELECT number, status FROM orders")).all())
        assert statuses == {"MK-SHIPPED": "refunded", "MK-UNSHIPPED": "refunded",
                            "MK-PART": "partially_refunded", "MK-PAID": "paid"}  # fmt: skip
        db.session.close()
        db.engine.dispose()
