"""A model of the store's stock, checked against the real services after every step.

Hypothesis drives random sequences of: recording batches (random months and
makers), adjustments (+ and -), checkouts from two sessions (which hold stock,
sweep expired orders and replace the session's unpaid one), payments, holds
running out, the expiry command and cancellations. A plain-Python model keeps
on hand, held and the batch units (sold, written off) beside the
store; after every step they must agree, nothing may be negative, and no batch
may give more units than it had (issue 9, defects 2, 3 and 9).

STOCK_MODEL_EXAMPLES and STOCK_MODEL_STEPS raise the bounds (CI runs more).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, update

from shop.catalog.models import Variant
from shop.catalog.services import StockError
from shop.extensions import db
from shop.orders.checkout import CheckoutError, cancel_unpaid, place_order, release_expired
from shop.orders.gateways import DummyGateway
from shop.orders.models import (
    LineAllocation,
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationStatus,
)
from shop.orders.payments import payment_succeeded, start_payment
from shop.provenance.batch_units import adjust_on_hand
from shop.provenance.models import Batch
from shop.provenance.services import BatchDraft, record_batch
from shop.timeutil import utcnow
from tests import factories as f
from tests.conftest import rolled_back
from tests.orders.conftest import BUYER

MONTHS = [date(2025, 1, 1), date(2025, 6, 1), date(2026, 1, 1), date(2026, 3, 1)]
_codes = itertools.count(1)


@dataclass
class ModelBatch:
    id: int
    month: date
    quantity: int
    sold: int = 0
    written_off: int = 0

    @property
    def left(self) -> int:
        return self.quantity - self.sold - self.written_off


@dataclass
class ModelVariant:
    on_hand: int = 0
    reserved: int = 0
    batches: list[ModelBatch] = field(default_factory=list)

    def fifo(self) -> list[ModelBatch]:
        # First in = first recorded, whatever month a batch states (attack 2, finding 10).
        return sorted(self.batches, key=lambda b: b.id)

    def take(self, units: int, *, write_off: bool) -> None:
        for batch in self.fifo():
            took = min(units, batch.left)
            if write_off:
                batch.written_off += took
            else:
                batch.sold += took
            units -= took
        assert units == 0  # every unit on the shelf belongs to a recorded batch

    def written_off(self) -> int:
        return sum(b.written_off for b in self.batches)

    def give_back(self, units: int) -> None:
        """Found units go back to the batches they were lost from; never more."""
        for batch in reversed(self.fifo()):
            gave = min(units, batch.written_off)
            batch.written_off -= gave
            units -= gave
        assert units == 0


@dataclass
class ModelOrder:
    id: int
    session: int
    lines: dict[int, int]  # variant index -> units
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    lapsed: bool = False  # its hold ran out (not yet swept)


class StockMachine(RuleBasedStateMachine):
    migrated_app = None  # set by the test

    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self._rolled_back = rolled_back(self.migrated_app)
        app = self._rolled_back.__enter__()
        self._context = app.app_context()
        self._context.push()
        workshop = f.workshop()
        product = f.product(workshop, variants=2, price=1000)
        self.workshop_slug = workshop.slug
        self.variant_ids = [v.id for v in product.variants]
        self.skus = [v.sku for v in product.variants]
        self.makers = [f.trainee(workshop).code for _ in range(3)]
        self.sessions: list[dict] = [{}, {}]
        self.model = [ModelVariant(), ModelVariant()]
        self.model_orders: dict[int, ModelOrder] = {}

    def teardown(self):
        self._context.pop()
        self._rolled_back.__exit__(None, None, None)

    # --- steps ----------------------------------------------------------------

    @rule(
        v=st.integers(0, 1),
        quantity=st.integers(1, 8),
        month=st.sampled_from(MONTHS),
        makers=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5)), max_size=3,
                        unique_by=lambda m: m[0]),
    )  # fmt: skip
    def record_a_batch(self, v, quantity, month, makers):
        batch = record_batch(
            BatchDraft(
                code=f"SM-{next(_codes)}", workshop_slug=self.workshop_slug, sku=self.skus[v],
                quantity=quantity, produced_month=month,
                makers=tuple((self.makers[i], w) for i, w in makers),
            )
        )  # fmt: skip
        model = self.model[v]
        model.on_hand += quantity
        model.batches.append(ModelBatch(batch.id, month, quantity))

    @rule(v=st.integers(0, 1), change=st.integers(-6, 6).filter(bool))
    def adjust_the_shelf(self, v, change):
        model = self.model[v]
        savepoint = db.session.begin_nested()
        variant = db.session.get(Variant, self.variant_ids[v])
        try:
            adjust_on_hand(variant, change, "stock count")
        except StockError:
            savepoint.rollback()
            # refused only when it must be: below what is held, or more found than was lost
            assert model.on_hand + change < model.reserved or change > model.written_off()
            return
        savepoint.commit()
        assert model.on_hand + change >= model.reserved
        assert change <= model.written_off(), "units of no recorded batch were taken in"
        model.on_hand += change
        if change < 0:
            model.take(-change, write_off=True)
        else:
            model.give_back(change)

    @rule(
        target=orders,
        session=st.integers(0, 1),
        units=st.tuples(st.integers(0, 4), st.integers(0, 4)).filter(any),
    )
    def check_out(self, session, units):
        cart = self.sessions[session]
        cart["cart"] = {str(self.variant_ids[v]): q for v, q in enumerate(units) if q}
        savepoint = db.session.begin_nested()
        try:
            order = place_order(cart, BUYER, gateway_name="dummy", currency="USD")
        except CheckoutError:
            savepoint.rollback()  # as the view does: nothing of it stays, sweeps included
            self._expect_refused(session, units)
            return multiple()
        savepoint.commit()
        self._apply_sweeps(session, units)
        for v, q in enumerate(units):
            if q:
                assert self.model[v].on_hand - self.model[v].reserved >= q
                self.model[v].reserved += q
        placed = ModelOrder(order.id, session, {v: q for v, q in enumerate(units) if q})
        self.model_orders[order.id] = placed
        return order.id

    @rule(order_id=orders)
    def pay(self, order_id):
        order = db.session.get(Order, order_id)
        payment = start_payment(order, DummyGateway())
        outcome = payment_succeeded(
            order, gateway_name="dummy", reference=payment.reference, amount=order.total,
            currency=order.currency,
        )  # fmt: skip
        placed = self.model_orders[order_id]
        if placed.status != OrderStatus.PENDING_PAYMENT:
            assert outcome != "paid"
            return
        assert outcome == "paid"
        placed.status = OrderStatus.PAID
        for v, q in placed.lines.items():
            self.model[v].on_hand -= q
            self.model[v].reserved -= q
            self.model[v].take(q, write_off=False)

    @rule(order_id=orders)
    def let_the_hold_run_out(self, order_id):
        past = utcnow() - timedelta(minutes=1)
        db.session.execute(
            update(Reservation).where(Reservation.order_id == order_id).values(expires_at=past)
        )
        self.model_orders[order_id].lapsed = True

    @rule()
    def let_time_pass_for_every_hold(self):
        for order_id, placed in self.model_orders.items():
            if placed.status == OrderStatus.PENDING_PAYMENT:
                self.let_the_hold_run_out(order_id)

    @rule()
    def run_the_expiry_command(self):
        release_expired(utcnow())
        for placed in self.model_orders.values():
            if placed.lapsed and placed.status == OrderStatus.PENDING_PAYMENT:
                self._end(placed, OrderStatus.EXPIRED)

    @rule(order_id=consumes(orders))
    def cancel(self, order_id):
        placed = self.model_orders[order_id]
        order = db.session.get(Order, order_id)
        if placed.status != OrderStatus.PENDING_PAYMENT:
            return
        cancel_unpaid(order)
        db.session.flush()
        self._end(placed, OrderStatus.CANCELLED)

    # --- the model's side of checkout -----------------------------------------

    def _end(self, placed: ModelOrder, status: OrderStatus) -> None:
        placed.status = status
        for v, q in placed.lines.items():
            self.model[v].reserved -= q

    def _apply_sweeps(self, session, units) -> None:
        cart_variants = {v for v, q in enumerate(units) if q}
        for placed in self.model_orders.values():
            if placed.status != OrderStatus.PENDING_PAYMENT:
                continue
            if placed.lapsed and cart_variants & set(placed.lines):
                self._end(placed, OrderStatus.EXPIRED)  # every hold, not only the cart's
            elif placed.session == session:
                self._end(placed, OrderStatus.CANCELLED)  # replaced by this checkout

    def _expect_refused(self, session, units) -> None:
        """A refused checkout is right only if, after the sweeps it would have done,
        some variant still had too little available."""
        freed = [0, 0]
        cart_variants = {v for v, q in enumerate(units) if q}
        for placed in self.model_orders.values():
            if placed.status == OrderStatus.PENDING_PAYMENT and (
                (placed.lapsed and cart_variants & set(placed.lines)) or placed.session == session
            ):
                for v, q in placed.lines.items():
                    freed[v] += q
        short = [
            self.model[v].on_hand - self.model[v].reserved + freed[v] < q
            for v, q in enumerate(units)
            if q
        ]
        assert any(short), "a checkout was refused with enough stock available"

    # --- what must hold after every step --------------------------------------

    @invariant()
    def counts_match_the_model_and_nothing_is_negative(self):
        for v, variant_id in enumerate(self.variant_ids):
            on_hand, reserved, available = db.session.execute(
                select(Variant.on_hand, Variant.reserved, Variant.available).where(
                    Variant.id == variant_id
                )
            ).one()
            model = self.model[v]
            assert (on_hand, reserved) == (model.on_hand, model.reserved)
            assert available == model.on_hand - model.reserved >= 0
            assert reserved >= 0
            held = db.session.scalar(
                select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                    Reservation.variant_id == variant_id,
                    Reservation.status == ReservationStatus.HELD,
                )
            )
            assert held == reserved

    @invariant()
    def batch_units_match_the_model_and_no_batch_is_over_used(self):
        for model in self.model:
            if not model.batches:
                continue
            rows = {
                b.id: b
                for b in db.session.scalars(
                    select(Batch)
                    .where(Batch.id.in_([b.id for b in model.batches]))
                    .execution_options(populate_existing=True)
                )
            }
            for batch in model.batches:
                row = rows[batch.id]
                assert (row.units_allocated, row.units_written_off) == (
                    batch.sold,
                    batch.written_off,
                )
                assert 0 <= row.units_allocated + row.units_written_off <= row.quantity
            on_shelf = sum(b.left for b in model.batches)
            assert on_shelf == model.on_hand

    @invariant()
    def every_sold_unit_is_traced_once(self):
        paid = [o.id for o in self.model_orders.values() if o.status == OrderStatus.PAID]
        if not paid:
            return
        lines = db.session.execute(
            select(OrderLine.quantity, func.sum(LineAllocation.quantity))
            .join(LineAllocation, LineAllocation.line_id == OrderLine.id)
            .where(OrderLine.order_id.in_(paid))
            .group_by(OrderLine.id, OrderLine.quantity)
        ).all()
        assert lines and all(quantity == traced for quantity, traced in lines)


def test_stock_follows_the_model_through_random_operations(migrated_app):
    StockMachine.migrated_app = migrated_app
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=int(os.environ.get("STOCK_MODEL_EXAMPLES", "30")),
            stateful_step_count=int(os.environ.get("STOCK_MODEL_STEPS", "30")),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.fixture(autouse=True)
def _no_leftover_machine_state():
    yield
    StockMachine.migrated_app = None
