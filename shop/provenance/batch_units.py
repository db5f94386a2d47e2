"""Which batch each unit on the shelf belongs to.

Units leave the shelf first in, first out, whether sold or written off (lost,
damaged): `take_batch_units` is the one place that decides which batch's units
go, for a sale (payments) and for a negative adjustment alike. So a sale is never
traced to a unit that was lost, and the makers credited are those of units that
were really sold.

A positive adjustment (units found at a count) gives back only units that were
written off before, the last recorded batch first, never more than a batch lost: a
batch's makers can never be credited for more units than the batch had, nor for
a unit that was already sold. More than that is refused: units that were never
written off came from a batch nobody recorded, and a sale of them would credit
no maker while the order page names one; they come in by recording their batch
(Admin > Record a batch), which names who made them.

Services flush and never commit.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from shop.catalog.models import StockMovement, StockMovementKind, Variant
from shop.catalog.services import StockError, move_stock
from shop.extensions import db
from shop.provenance.models import Batch

# (batch id, units); a None batch: units on the shelf with no known batch.
BatchUnits = list[tuple[int | None, int]]


def take_batch_units(variant_id: int, quantity: int, *, write_off: bool = False) -> BatchUnits:
    """Take `quantity` units of a variant's batches, first recorded first (first in, first out).

    A sale counts them as allocated, a write-off as written off; what the batches
    cannot cover comes from units with no known batch. The batch rows are locked,
    so two transactions never take the same units.
    """
    if quantity <= 0:
        raise StockError(_("units are taken in positive numbers"))
    batches = db.session.scalars(
        select(Batch)
        .where(Batch.variant_id == variant_id, Batch.units_left > 0)
        # First in = first recorded, not the stated production month: a month is typed on
        # a form, and a batch recorded today as "made in 2025-01" would otherwise be sold
        # before units already on the shelf, steering credits to makers chosen by hand.
        .order_by(Batch.id)
        .with_for_update()
    ).all()
    needed, taken = quantity, []
    for batch in batches:
        if needed == 0:
            break
        take = min(needed, batch.units_left)
        if write_off:
            batch.units_written_off += take
        else:
            batch.units_allocated += take
        taken.append((batch.id, take))
        needed -= take
    if needed:
        taken.append((None, needed))
    db.session.flush()
    return taken


class UnknownUnits(StockError):
    """Found units that were never written off: they belong to no recorded batch."""

    def __init__(self, quantity: int, written_off: int):
        # One message for every number (its English says "unit(s)"); a language with
        # plural forms gets them.
        super().__init__(
            ngettext(
                "only %(num)d unit(s) of this variant were written off earlier and can be "
                "counted back, not %(quantity)s; new units come in by recording their "
                "production batch (Admin > Record a batch, /admin/batches/new), which names "
                "their makers",
                "only %(num)d unit(s) of this variant were written off earlier and can be "
                "counted back, not %(quantity)s; new units come in by recording their "
                "production batch (Admin > Record a batch, /admin/batches/new), which names "
                "their makers",
                written_off,
                quantity=quantity,
            )
        )
        self.quantity, self.written_off = quantity, written_off


def return_written_off_units(variant_id: int, quantity: int) -> BatchUnits:
    """Give found units back to the batches they were written off from, the last
    recorded first. More than were written off raises UnknownUnits (see the module's
    docstring for why) before any batch changes."""
    if quantity <= 0:
        raise StockError(_("units are returned in positive numbers"))
    batches = db.session.scalars(
        select(Batch)
        .where(Batch.variant_id == variant_id, Batch.units_written_off > 0)
        .order_by(Batch.id.desc())
        .with_for_update()
    ).all()
    written_off = sum(batch.units_written_off for batch in batches)
    if quantity > written_off:
        raise UnknownUnits(quantity, written_off)
    left, returned = quantity, []
    for batch in batches:
        if left == 0:
            break
        give = min(left, batch.units_written_off)
        batch.units_written_off -= give
        returned.append((batch.id, give))
        left -= give
    db.session.flush()
    return returned


def _only_batch(units: BatchUnits) -> int | None:
    return units[0][0] if len(units) == 1 else None


def adjust_on_hand(variant: Variant, quantity: int, reason: str) -> StockMovement:
    """Correct the units on the shelf after a count: -n written off (lost, damaged),
    +n found (at most the units written off before: UnknownUnits otherwise). The
    shelf can never drop below the units held for unpaid orders.

    The variant's counts change first (that row lock comes before the batches',
    as in a sale); a refused change raises StockError and changes nothing (a
    savepoint undoes the count when the batches refuse the units).
    """
    with db.session.begin_nested():
        movement = move_stock(variant, quantity, StockMovementKind.ADJUSTMENT, reason=reason)
        if quantity < 0:
            units = take_batch_units(variant.id, -quantity, write_off=True)
        else:
            units = return_written_off_units(variant.id, quantity)
        movement.batch_id = _only_batch(units)
        db.session.flush()
    return movement


def sell_held_units(variant_id: int, quantity: int, reason: str) -> BatchUnits:
    """Held units leave the shelf with a paid order; returns the batch units sold
    (first in, first out), which decide whose makers are credited. The order's line
    allocations record them, so the movement names no batch."""
    move_stock(variant_id, -quantity, StockMovementKind.SALE, reason=reason)
    return take_batch_units(variant_id, quantity)
