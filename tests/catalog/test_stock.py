import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import InsufficientStock, StockError, adjust_stock, move_stock
from shop.extensions import db
from tests import factories as f


def _stock(variant_id):
    return db.session.scalar(select(Variant.stock).where(Variant.id == variant_id))


def test_a_batch_brings_stock_in_and_records_a_movement(ctx):
    variant = f.product(f.workshop()).variants[0]
    batch = f.batch(variant, quantity=12)
    assert _stock(variant.id) == 12
    movement = db.session.scalars(
        select(StockMovement).where(StockMovement.variant_id == variant.id)
    ).one()
    assert (movement.quantity, movement.kind, movement.batch_id, movement.stock_after) == (
        12, StockMovementKind.BATCH, batch.id, 12,
    )  # fmt: skip


def test_stock_never_goes_below_zero_and_a_refused_move_changes_nothing(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=3)
    with pytest.raises(InsufficientStock, match="only 3 of"):
        move_stock(variant, -4, StockMovementKind.SALE)
    assert _stock(variant.id) == 3
    assert db.session.scalar(select(db.func.count(StockMovement.id))) == 1
    move_stock(variant, -3, StockMovementKind.SALE)
    assert _stock(variant.id) == 0


def test_the_database_itself_refuses_negative_stock(ctx):
    variant = f.product(f.workshop()).variants[0]
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(update(Variant).where(Variant.id == variant.id).values(stock=-1))


def test_the_database_refuses_a_zero_movement(ctx):
    variant = f.product(f.workshop()).variants[0]
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            text(
                "INSERT INTO stock_movements (variant_id, quantity, kind, reason, stock_after, created_at)"
                " VALUES (:v, 0, 'adjustment', 'x', 0, CURRENT_TIMESTAMP)"
            ),
            {"v": variant.id},
        )


def test_an_adjustment_needs_a_reason(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=5)
    with pytest.raises(StockError, match="reason"):
        adjust_stock(variant, -1, "   ")
    movement = adjust_stock(variant, -2, "two found water-damaged at the stock count")
    assert movement.stock_after == 3
    assert _stock(variant.id) == 3


def test_a_movement_of_zero_is_refused(ctx):
    variant = f.product(f.workshop()).variants[0]
    with pytest.raises(StockError):
        move_stock(variant, 0, StockMovementKind.ADJUSTMENT, reason="x")
