"""Migration 0025 adds variants.gtin: variants from before have none and keep everything
else; a GTIN is unique and 14 digits long in the database too; a downgrade gives the old
table back. On SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db

WORKSHOP = text(
    "INSERT INTO workshops (id, public_id, slug, name, kind, country_code, country_public, region,"
    " crafts, story, address, contact, status, created_at) VALUES (1, 'pub1', 'w', 'W',"
    " 'training_centre', 'KH', :yes, '', '[]', '', '', '', 'active', CURRENT_TIMESTAMP)"
)
PRODUCT = text(
    "INSERT INTO products (id, slug, name, description, story, workshop_id, status,"
    " impact_share_bps, featured, created_at, updated_at) VALUES (1, 'p', 'P', '', '', 1,"
    " 'active', 1000, :no, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
VARIANT = text(
    "INSERT INTO variants (id, product_id, sku, options, price, currency, on_hand, reserved,"
    " position) VALUES (:id, 1, :sku, '{}', 1000, 'USD', 0, 0, :id)"
)


def _columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("variants")}


def test_migration_0025_adds_an_optional_unique_gtin(database, tmp_path):
    app = create_app(config_for_tests(database, str(tmp_path / "media")))
    with app.app_context():
        upgrade(revision="0024")
        db.session.execute(WORKSHOP, {"yes": True})
        db.session.execute(PRODUCT, {"no": False})
        db.session.execute(VARIANT, {"id": 1, "sku": "OLD-1"})
        db.session.execute(VARIANT, {"id": 2, "sku": "OLD-2"})
        db.session.commit()
        db.session.close()

        upgrade(revision="0025")
        rows = db.session.execute(text("SELECT sku, price, gtin FROM variants ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("OLD-1", 1000, None), ("OLD-2", 1000, None)]
        set_gtin = text("UPDATE variants SET gtin = :g WHERE id = :id")
        db.session.execute(set_gtin, {"g": "04006381333931", "id": 1})
        db.session.commit()
        with pytest.raises(IntegrityError):  # one variant per GTIN
            db.session.execute(set_gtin, {"g": "04006381333931", "id": 2})
            db.session.commit()
        db.session.rollback()
        with pytest.raises(IntegrityError):  # kept as 14 digits, never shorter
            db.session.execute(set_gtin, {"g": "4006381333931", "id": 2})
            db.session.commit()
        db.session.rollback()
        db.session.close()

        downgrade(revision="0024")
        assert "gtin" not in _columns()
        rows = db.session.execute(text("SELECT sku, price FROM variants ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("OLD-1", 1000), ("OLD-2", 1000)]
        db.session.close()
        db.engine.dispose()
