"""Migration 0020 adds the address parts some countries use (orders.country_area,
city_area, sorting_code): orders placed before keep everything, have none of them, and
are printed as before; a downgrade gives the old table back. On SQLite and PostgreSQL."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.orm import defer

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.orders.addresses import address_lines
from shop.orders.models import Order
from tests.orders.test_migration_0006 import ORDER

PARTS = {"country_area", "city_area", "sorting_code"}


def _columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("orders")}


def test_migration_0020_adds_the_address_parts(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0018")
        db.session.execute(ORDER, {"n": "MK-OLD", "status": "paid", "refunded": 0,
                                   "tracking": ""})  # fmt: skip
        db.session.commit()
        db.session.close()

        upgrade(revision="0020")
        row = db.session.execute(
            text("SELECT number, total, country_area, city_area, sorting_code FROM orders")
        ).one()
        assert tuple(row) == ("MK-OLD", 1000, "", "", "")
        # the model's later columns (orders.language, 0029) are not there yet
        old = db.session.query(Order).options(defer(Order.language)).one()
        assert address_lines(old) == ["A", "1 Road", "LYON", "FRANCE"]
        db.session.execute(text("UPDATE orders SET country_area = 'Rhône'"))
        db.session.commit()
        db.session.close()

        downgrade(revision="0018")
        assert PARTS.isdisjoint(_columns())
        row = db.session.execute(text("SELECT number, status, total, city FROM orders")).one()
        assert tuple(row) == ("MK-OLD", "paid", 1000, "Lyon")
        db.session.close()
        db.engine.dispose()
