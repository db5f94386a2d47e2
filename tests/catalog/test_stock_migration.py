"""Migration 0005 carries stock over: on hand = the old stock (available) plus the
units held, held = those units; batch units beyond what is on the shelf (losses
adjusted before batches were written off) are written off, oldest first."""

from __future__ import annotations

from datetime import date

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from shop.catalog.models import Variant
from shop.extensions import db
from shop.provenance.models import Batch
from tests import factories as f
from tests.orders.conftest import new_order


def test_upgrading_keeps_what_buyers_see_and_splits_the_shelf_from_the_holds(committed_app):
    with committed_app.app_context():
        w = f.workshop()
        variant = f.product(w).variants[0]
        older = f.batch(variant, quantity=3, produced_month=date(2026, 1, 1))
        newer = f.batch(variant, quantity=2, produced_month=date(2026, 2, 1))
        new_order([(variant, 2)])  # holds 2 of 5
        variant_id, older_id, newer_id = variant.id, older.id, newer.id
        db.session.commit()

        downgrade(revision="0004")
        assert (
            db.session.execute(
                text("SELECT stock FROM variants WHERE id = :v"), {"v": variant_id}
            ).scalar_one()
            == 3
        )  # the old meaning: available
        # An adjustment of the old kind: one unit lost, no batch touched.
        db.session.execute(
            text("UPDATE variants SET stock = stock - 1 WHERE id = :v"), {"v": variant_id}
        )
        db.session.commit()

        upgrade()
        db.session.expire_all()
        variant = db.session.get(Variant, variant_id)
        assert (variant.on_hand, variant.reserved, variant.available) == (4, 2, 2)
        written_off = dict(db.session.execute(select(Batch.id, Batch.units_written_off)).all())
        assert written_off == {older_id: 1, newer_id: 0}  # the lost unit, oldest first
