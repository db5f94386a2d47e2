import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import InsufficientStock, StockError, move_stock
from shop.extensions import db
from shop.provenance.batch_units import adjust_on_hand
from tests import factories as f


def _counts(variant_id):
    row = db.session.execute(
        select(Variant.on_hand, Variant.reserved, Variant.available).where(Variant.id == variant_id)
    ).one()
    return tuple(row)


def test_a_batch_brings_stock_in_and_records_a_movement(ctx):
    variant = f.product(f.workshop()).variants[0]
    batch = f.batch(variant, quantity=12)
    assert _counts(variant.id) == (12, 0, 12)
    movement = db.session.scalars(
        select(StockMovement).where(StockMovement.variant_id == variant.id)
    ).one()
    assert (movement.quantity, movement.kind, movement.batch_id, movement.stock_after) == (
        12, StockMovementKind.BATCH, batch.id, 12,
    )  # fmt: skip


def test_holds_sales_and_releases_move_on_hand_and_held_apart(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=3)
    with pytest.raises(InsufficientStock, match="only 3 of"):
        move_stock(variant, -4, StockMovementKind.RESERVATION)
    assert _counts(variant.id) == (3, 0, 3)
    assert db.session.scalar(select(db.func.count(StockMovement.id))) == 1
    move_stock(variant, -2, StockMovementKind.RESERVATION)
    assert _counts(variant.id) == (3, 2, 1)
    with pytest.raises(InsufficientStock, match=r"only 2 of .* are held"):
        move_stock(variant, -3, StockMovementKind.SALE)
    sale = move_stock(variant, -1, StockMovementKind.SALE)
    assert _counts(variant.id) == (2, 1, 1)
    assert (sale.stock_after, sale.reserved_after) == (2, 1)  # on hand after, held after
    move_stock(variant, 1, StockMovementKind.RELEASE)
    assert _counts(variant.id) == (2, 0, 2)


def test_the_database_itself_refuses_negative_or_overheld_stock(ctx):
    variant = f.product(f.workshop()).variants[0]
    for values in ({"on_hand": -1}, {"reserved": -1}, {"on_hand": 1, "reserved": 2}):
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(update(Variant).where(Variant.id == variant.id).values(**values))


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


def test_an_adjustment_needs_a_reason_and_speaks_of_the_shelf(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=5)
    with pytest.raises(StockError, match="reason"):
        adjust_on_hand(variant, -1, "   ")
    movement = adjust_on_hand(variant, -2, "two found water-damaged at the stock count")
    assert movement.stock_after == 3
    assert _counts(variant.id) == (3, 0, 3)


def test_an_adjustment_never_takes_the_shelf_below_what_is_held(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=5)
    move_stock(variant, -4, StockMovementKind.RESERVATION)
    with pytest.raises(InsufficientStock, match=r"4 of them are held .* at most 1 can be removed"):
        adjust_on_hand(variant, -2, "lost")
    assert _counts(variant.id) == (5, 4, 1)


def test_a_movement_of_zero_is_refused(ctx):
    variant = f.product(f.workshop()).variants[0]
    with pytest.raises(StockError):
        move_stock(variant, 0, StockMovementKind.ADJUSTMENT, reason="x")


def test_variant_stock_is_the_old_name_of_available_and_cannot_be_set(ctx):
    variant = f.product(f.workshop()).variants[0]
    f.batch(variant, quantity=4)
    move_stock(variant, -1, StockMovementKind.RESERVATION)
    db.session.expire(variant)
    assert variant.stock == variant.available == 3
    assert db.session.scalar(select(Variant.stock).where(Variant.id == variant.id)) == 3
    with pytest.raises(AttributeError):
        variant.stock = 10
