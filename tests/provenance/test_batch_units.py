"""Issue 9, defect 2: lost or damaged units use up specific batch units, first in,
first out, the way a sale does, so no maker is credited for a unit that was lost."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import StockError
from shop.extensions import db
from shop.orders.models import LineAllocation
from shop.provenance.batch_units import adjust_on_hand
from shop.provenance.models import Batch
from tests import factories as f
from tests.conftest import client_as
from tests.orders.test_cart_and_checkout import CHECKOUT, add
from tests.training.conftest import balance_of


def _two_batches_of_two():
    w = f.workshop()
    variant = f.product(w, price=1000).variants[0]
    old_maker, new_maker = f.trainee(w), f.trainee(w)
    older = f.batch(variant, quantity=2, makers=[(old_maker, 1)], produced_month=date(2026, 1, 1))
    newer = f.batch(variant, quantity=2, makers=[(new_maker, 1)], produced_month=date(2026, 2, 1))
    db.session.commit()
    return variant, (older, old_maker), (newer, new_maker)


def _buy(app, variant, quantity: int) -> int:
    buyer = app.test_client()
    add(buyer, variant.id, str(quantity))
    pay_page = buyer.post("/checkout", data=CHECKOUT).location
    assert buyer.post(pay_page, data={"card_number": "4242424242424242"}).status_code == 302
    return max(db.session.scalars(select(LineAllocation.line_id)))


def _allocated(line_id) -> set[tuple[int | None, int]]:
    return set(
        db.session.execute(
            select(LineAllocation.batch_id, LineAllocation.quantity).where(
                LineAllocation.line_id == line_id
            )
        ).all()
    )


def test_lost_units_are_written_off_the_oldest_batch_and_the_sale_credits_the_next(app, ctx):
    variant, (older, old_maker), (newer, new_maker) = _two_batches_of_two()
    admin = client_as(app, "admin")
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-2", "reason": "lost"})

    line_id = _buy(app, variant, 2)
    assert _allocated(line_id) == {(newer.id, 2)}
    assert balance_of(old_maker) == 0  # the units that were lost earn nothing
    assert balance_of(new_maker) == 200  # 10 % of 2 x $10.00
    older, newer = db.session.get(Batch, older.id), db.session.get(Batch, newer.id)
    assert (older.units_written_off, older.units_allocated) == (2, 0)
    assert (newer.units_written_off, newer.units_allocated) == (0, 2)


def test_found_units_go_back_only_to_the_batch_they_were_written_off_from(app, ctx):
    variant, (older, old_maker), (newer, _new_maker) = _two_batches_of_two()
    admin = client_as(app, "admin")
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-2", "reason": "lost"})
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "2", "reason": "found 2"})
    # The two lost units of the older batch come back to it, and sell first again.
    line_id = _buy(app, variant, 3)
    assert _allocated(line_id) == {(older.id, 2), (newer.id, 1)}
    assert balance_of(old_maker) == 200


def test_found_units_beyond_those_written_off_are_refused_and_a_batch_is_asked_for(app, ctx):
    """Issue 9 (defects 2, 3): a unit that was never written off has no known batch; taken
    in by a count, its sale would credit a pool while the order page names a maker."""
    variant, (older, _old_maker), (newer, _new_maker) = _two_batches_of_two()
    admin = client_as(app, "admin")
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-1", "reason": "lost"})
    page = admin.post(
        f"/admin/stock/{variant.id}/adjust", data={"quantity": "2", "reason": "found 2"},
        follow_redirects=True,
    )  # fmt: skip
    text = page.get_data(as_text=True)
    assert "Nothing changed" in text and "Record a batch" in text
    assert "only 1 unit(s) of this variant were written off" in text
    db.session.expire_all()
    assert db.session.get(Variant, variant.id).on_hand == 3  # 4 recorded, 1 lost
    assert db.session.get(Batch, older.id).units_written_off == 1
    moved = db.session.scalars(
        select(StockMovement.quantity).where(StockMovement.variant_id == variant.id,
                                             StockMovement.kind == StockMovementKind.ADJUSTMENT)
    ).all()  # fmt: skip
    assert moved == [-1]
    # Every unit sold still comes from a recorded batch.
    line_id = _buy(app, variant, 3)
    assert _allocated(line_id) == {(older.id, 1), (newer.id, 2)}


def test_the_service_refuses_unknown_units_with_no_batch_changed(ctx):
    variant, (older, _old_maker), _newer = _two_batches_of_two()
    adjust_on_hand(variant, -1, "lost")
    with pytest.raises(StockError, match="Record a batch"):
        adjust_on_hand(variant, 2, "found")
    db.session.expire_all()
    assert (
        db.session.get(Variant, variant.id).on_hand,
        db.session.get(Batch, older.id).units_written_off,
    ) == (3, 1)
    assert adjust_on_hand(variant, 1, "found").batch_id == older.id


def test_first_in_is_first_recorded_not_the_stated_production_month(app, ctx):
    """Attack 2, finding 10: a batch recorded today that claims an older month is not sold
    before the units already on the shelf (nobody steers credits by typing a month)."""
    w = f.workshop()
    variant = f.product(w, price=1000).variants[0]
    on_shelf_maker, late_maker = f.trainee(w), f.trainee(w)
    on_shelf = f.batch(
        variant, quantity=2, makers=[(on_shelf_maker, 1)], produced_month=date(2026, 3, 1)
    )
    late = f.batch(variant, quantity=2, makers=[(late_maker, 1)], produced_month=date(2025, 1, 1))
    db.session.commit()

    line_id = _buy(app, variant, 2)
    assert _allocated(line_id) == {(on_shelf.id, 2)}
    assert (balance_of(on_shelf_maker), balance_of(late_maker)) == (200, 0)

    # What is left on the shelf is the late batch's: a lost unit is written off it.
    admin = client_as(app, "admin")
    admin.post(f"/admin/stock/{variant.id}/adjust", data={"quantity": "-1", "reason": "lost"})
    assert db.session.get(Batch, late.id).units_written_off == 1
