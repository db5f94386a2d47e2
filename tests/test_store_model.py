"""The model of the store: random sequences of real operations, checked after every step.

A hypothesis `RuleBasedStateMachine` drives the real routes and services (admin batch
and stock forms, cart, checkout, the pay page, the admin order actions, `flask orders
refund`, `flask orders expire`, the staff withdrawal and correction forms (proposed by one staff member, decided by another), Stripe
refund events) through one thin driver (tests/model/driver.py), and keeps a plain-Python
model beside the store (tests/model/model.py). After every step the two must agree on
stock (on hand, held, available), which batch unit every sold unit came from, every
share credited and reversed, every balance, each order's payment, shipping and refunds,
the emails sent and the audit entries; and `flask ledger verify` must be clean.

Payments: the dummy gateway, not localstripe. Hundreds of examples of 40 steps must
run in minutes, and localstripe answers a payment only by a webhook a second later. So
buyers pay on the dummy gateway's page, back-office refunds go through the dummy
gateway, and refunds made in the Stripe dashboard arrive as payloads of today's shape
(`refund.created`/`refund.updated` with the Refund, `charge.refunded` whose charge has
`amount_refunded` and no `refunds` list), signed with a test secret, parsed by
`StripeGateway.parse_webhook` and applied by `apply_gateway_event` (recording the event's
id as the webhook view does, then applying it as the view's job does); each is delivered
up to twice, in any order.

Each example starts from a clean database: the machine runs inside `rolled_back(app)`.
`make test` runs 25 examples; with CI set, 200 (of up to 40 steps each);
STORE_MODEL_EXAMPLES overrides both.
STORE_MODEL_IGNORE=2,3 leaves out the operations that reach the named defects of
issue 9 (for diagnosis on a store that still has them; never set it in CI).
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from datetime import date

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import rolled_back
from tests.model.driver import DECLINED_CARD, StoreDriver, store_settings
from tests.model.model import Correction, StoreModel, Withdrawal

IGNORED = {int(n) for n in os.environ.get("STORE_MODEL_IGNORE", "").split(",") if n.strip()}
CI = bool(os.environ.get("CI"))
# In CI, the long run is on PostgreSQL, the production database (its locks and constraints
# are the ones that matter at scale); SQLite, beside it on the other core, runs a quarter.
ON_POSTGRESQL = bool(os.environ.get("TEST_DATABASE_URL"))
SETTINGS = settings(
    max_examples=int(
        os.environ.get("STORE_MODEL_EXAMPLES") or ((200 if ON_POSTGRESQL else 50) if CI else 25)
    ),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
pick = st.integers(0, 1_000)
fraction = st.sampled_from([1.0, 0.5, 0.34, 0.01])
# (quantity, production month in 2026, [(maker index, weight)])
batch_strategy = st.tuples(
    st.integers(1, 6),
    st.integers(1, 6),
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), max_size=3, unique_by=lambda m: m[0]),
)


def nth(items, i):
    items = list(items)
    return items[i % len(items)] if items else None


class StoreMachine(RuleBasedStateMachine):
    app = None  # set by the test: the migrated app

    def __init__(self):
        super().__init__()
        self._database = rolled_back(self.app)
        self._database.__enter__()
        self.store = StoreDriver(self.app)
        self.model: StoreModel | None = None
        self.events: list[list] = []  # [order id, refunds it tells of, payload, deliveries left]
        self.seen = None
        self.serial = itertools.count(1)

    def teardown(self):
        try:
            # The command itself, once per example; not when a step already failed (its
            # error would hide that step's).
            if self.model is not None and sys.exc_info()[0] is None:
                clean, output = self.store.ledger_verify()
                assert clean, f"flask ledger verify: {output}"
        finally:
            self.store.close()
            self._database.__exit__(None, None, None)

    # --- the store's shape ----------------------------------------------------------------

    @initialize(
        bps=st.lists(st.sampled_from([0, 1, 1000, 1250, 3333, 10_000]), min_size=2, max_size=2),
        prices=st.lists(st.integers(1, 9_999), min_size=2, max_size=2),
        batches=st.lists(st.lists(batch_strategy, max_size=2), min_size=2, max_size=2),
        sales=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3)), max_size=2),
    )
    def set_up(self, bps, prices, batches, sales=()):
        """Two workshops each making one product; the batches already in the stockroom, and
        perhaps a sale or two already paid (through the same routes as any other)."""
        ids = self.store.set_up(
            [{"workshop": 0, "bps": bps[0], "prices": prices[:1]},
             {"workshop": 1, "bps": bps[1], "prices": prices[1:]}],
            trainees_per_workshop=3, buyers=2,
        )  # fmt: skip
        self.model = StoreModel(ids["variants"], ids["trainees"], ids["accounts"])
        self.trainees = [t for ts in ids["trainees"].values() for t in ts]
        self.workshops = ids["workshops"]
        for v, recorded in enumerate(batches):
            for quantity, month, makers in recorded:
                self.record_batch(v, quantity, month, makers)
        for v, quantity in sales:
            placed = len(self.model.orders)
            self.check_out(0, v, quantity)
            if len(self.model.orders) > placed:
                self.pay(placed, declined=False)

    def orders(self, *payments):
        return [o for o in self.model.orders.values() if not payments or o.payment in payments]

    def variant(self, i):
        return nth(self.model.variants.values(), i)

    # --- stock and batches -----------------------------------------------------------------

    @rule(v=pick, batch=batch_strategy)
    def record_a_batch(self, v, batch):
        self.record_batch(v, *batch)

    def record_batch(self, v, quantity, month, makers):
        variant = self.variant(v)
        people = self.model.trainees[variant.workshop_id]
        chosen = [(people[i], weight) for i, weight in makers]
        batch_id = self.store.record_batch(
            code=f"MB-{next(self.serial)}", workshop_id=variant.workshop_id, sku=variant.sku,
            quantity=quantity, month=date(2026, month, 1),
            makers=[(code, weight) for (_tid, code), weight in chosen],
        )  # fmt: skip
        assert batch_id is not None, "the batch form refused a valid batch"
        self.model.add_batch(
            batch_id, variant.id, date(2026, month, 1), quantity,
            [(tid, weight) for (tid, _code), weight in chosen],
        )  # fmt: skip

    @rule(v=pick, change=st.integers(-3, 3).filter(bool))
    def adjust_stock(self, v, change):
        if change < 0 and 2 in IGNORED:
            change = -change
        variant = self.variant(v)
        expected = self.model.adjust(variant.id, change)
        reason = "found in the stockroom" if change > 0 else "damaged in the workshop"
        assert self.store.adjust_stock(variant.id, change, reason) == expected, (
            f"an adjustment of {change} with {self.model.available(variant.id)} available was "
            f"{'refused' if expected else 'accepted'}"
        )

    @precondition(lambda self: 3 not in IGNORED)
    @rule(v=pick)
    def count_the_shelf(self, v):
        """A stocktake: the admin counts the shelf and corrects what the store shows."""
        variant = self.variant(v)
        counted = variant.on_hand  # held units are still on the shelf
        shown = self.store.shown_on_hand(variant.id)
        if counted != shown:
            self.store.adjust_stock(variant.id, counted - shown, "stocktake")

    @precondition(lambda self: 8 not in IGNORED)
    @rule(p=pick)
    def move_product(self, p):
        variant = self.variant(p)
        target = next(w for w in self.workshops if w != variant.workshop_id)
        expected = variant.product_id not in self.model.products_with_batches()
        assert self.store.move_product(variant.product_id, target) == expected, (
            "a product with batches was moved to another workshop" if not expected else
            "moving a product with no batches was refused"
        )  # fmt: skip
        if expected:
            self.model.move_product(variant.product_id, target)

    # --- buying ----------------------------------------------------------------------------

    @rule(buyer=st.integers(0, 1), v=pick, quantity=st.integers(1, 4))
    def add_to_cart(self, buyer, v, quantity):
        variant = self.variant(v)
        cart = self.model.carts[buyer]
        if 9 in IGNORED and set(cart) - {variant.id}:
            return  # one variant per order: an expired order then holds nothing elsewhere
        now = self.store.now()
        expected = self.model.cart_allowed(buyer, variant.id, quantity, now, caps=10 not in IGNORED)
        assert self.store.add_to_cart(buyer, variant.id, quantity) == expected, (
            f"adding {quantity} of {variant.sku} ({self.model.available(variant.id)} available, "
            f"cart {cart}) was {'refused' if expected else 'accepted'}"
        )
        if expected:
            # the add released the orders whose hold ran out on this variant, whole
            self.model.expire(self.model.overdue_touching([variant.id], now))
            cart[variant.id] = cart.get(variant.id, 0) + quantity

    @rule(buyer=st.integers(0, 1), v=pick, quantity=st.integers(0, 4))
    def check_out(self, buyer, v, quantity):
        """A shopper adds `quantity` more (none: the cart as it is) and checks out."""
        if quantity:
            self.add_to_cart(buyer, v, quantity)
        if not self.model.carts[buyer]:
            return
        now = self.store.now()
        expected = self.model.checkout_allowed(buyer, now, caps=10 not in IGNORED)
        placed = self.store.checkout(buyer)
        assert (placed is not None) == expected, (
            f"checkout {'refused' if expected else 'accepted'} a cart of "
            f"{self.model.carts[buyer]} (session holds {self.model.session_held(buyer, now)})"
        )
        if placed:
            self.model.place(buyer, placed, now)

    @rule(buyer=st.integers(0, 1), v=pick, w=pick, minutes=st.sampled_from([4, 16]))
    def an_unpaid_order_runs_out_under_another_checkout(self, buyer, v, w, minutes):
        """A buyer checks out a unit each of two variants and does not pay; time passes
        (the cron command does not run); the other buyer checks out a unit of the first.
        That checkout must end every overdue order it finds whole, holds on its other
        variants too (defect 9). The same steps exist apart, but their meeting was too
        rare to be found in 200 examples."""
        placed = len(self.model.orders)
        self.add_to_cart(buyer, v, 1)
        self.check_out(buyer, w, 1)
        if len(self.model.orders) > placed:
            self.time_passes(minutes, run_expiry=False)
            self.check_out(1 - buyer, v, 1)

    @rule(v=pick, w=pick, more=st.integers(1, 4))
    def both_buyers_hold_from_one_address(self, v, w, more):
        """Both buyers check out and do not pay, from the one address they share: the
        second is held to what the address may hold whatever its session (a script that
        drops its cookie; attack finding 4). Rare by chance alone in 200 examples."""
        self.check_out(0, v, 3)
        self.check_out(1, w, more)

    @precondition(lambda self: self.model.orders)
    @rule(o=pick, declined=st.booleans())
    def pay(self, o, declined):
        order = nth(self.orders(), o)
        if declined:
            now = self.store.now()
            outcome = self.store.pay(order.buyer, order.token, DECLINED_CARD)
            assert outcome == ("declined" if order.payment == "pending" else "refused")
            self.model.payment_started(order, now)  # the declined payment was started
            return
        outcome = self.store.pay(order.buyer, order.token)
        assert outcome == ("paid" if order.payment == "pending" else "refused"), (
            f"paying order {order.number} ({order.payment}): {outcome}"
        )
        if outcome == "paid":
            self.model.pay(order, self.store.order_by_token(order.token).reference)

    @rule(minutes=st.sampled_from([4, 16]), run_expiry=st.booleans())
    def time_passes(self, minutes, run_expiry):
        """The clock moves; then perhaps the cron command `flask orders expire` runs."""
        self.store.advance_clock(minutes)
        if run_expiry:
            self.store.expire_holds()
            self.model.expire(self.model.overdue_touching(None, self.store.now()))

    # --- the back office on orders ---------------------------------------------------------

    @precondition(lambda self: self.model.orders)
    @rule(o=pick)
    def cancel(self, o):
        order = nth(self.orders(), o)
        expected = order.payment == "pending"
        assert self.store.cancel(order.id) == expected
        if expected:
            order.payment = "cancelled"

    @precondition(lambda self: self.orders("paid"))
    @rule(o=pick)
    def ship(self, o):
        candidates = self.orders("paid")
        if 4 in IGNORED:
            candidates = [c for c in candidates if not c.tracking]
        order = nth(candidates, o)
        if order is None:
            return
        expected = not order.tracking and order.told < order.total
        tracking = f"TRK{next(self.serial)}"
        assert self.store.ship(order.id, tracking) == expected, (
            f"shipping order {order.number} (tracking {order.tracking!r}, refunded "
            f"{order.told} of {order.total}) was {'refused' if expected else 'accepted'}"
        )
        if expected:
            order.tracking = tracking

    def refundable(self):
        return [o for o in self.orders("paid") if o.all_told and o.told < o.total]

    def _line_plan(self, order, line_index, share):
        """(line, amount) within what the store shows as still refundable on the line."""
        line = order.lines[line_index % len(order.lines)]
        left = line.line_total - self.seen.orders[order.id].line_refunded[line.id]
        return line, (max(1, int(left * share)) if left else 0)

    def _stripe_refuses(self, order, amount):
        """The store's own refunds go through the dummy gateway, which knows nothing of the
        refunds made in the Stripe dashboard; Stripe refuses to refund more than is left
        on the charge, so a step asking for more is not taken (a world that cannot be)."""
        return amount > order.total - order.at_stripe

    def _shipping_left(self, order):
        got = self.seen.orders[order.id]
        return order.shipping - (got.refunded - sum(got.line_refunded.values()))

    @precondition(lambda self: self.refundable())
    @rule(o=pick, whole=st.booleans(), line=pick, share=fraction, shipping=st.booleans())
    def refund_in_back_office(self, o, whole, line, share, shipping):
        """The admin refund form: the whole order, or part of a line, ± the shipping."""
        order = nth(self.refundable(), o)
        if whole:
            # The store asks for what it has not refunded yet (it may know more than `told`)
            asked = order.total - self.seen.orders[order.id].refunded
            if asked <= 0 or self._stripe_refuses(order, asked):
                return
            assert self.store.refund_back_office(order.id, None, False, uuid.uuid4().hex)
            order.store_refunds += asked
        else:
            line, amount = self._line_plan(order, line, share)
            shipping_part = self._shipping_left(order) if shipping else 0
            if (not amount and not shipping_part) or self._stripe_refuses(
                order, amount + shipping_part
            ):
                return
            plan = {line.id: amount} if amount else {}
            assert self.store.refund_back_office(order.id, plan, shipping, uuid.uuid4().hex)
            order.store_refunds += amount + shipping_part
        self.model.audit["order.refund"] += 1

    @precondition(lambda self: self.refundable() and 5 not in IGNORED)
    @rule(o=pick, line=pick, how=st.sampled_from(["whole", "line", "meanwhile", "overlap"]))
    def refund_by_command(self, o, line, how):
        order = nth(self.refundable(), o)
        if how == "whole":
            asked = order.total - self.seen.orders[order.id].refunded
            if asked <= 0 or self._stripe_refuses(order, asked):
                return
            assert self.store.refund_by_command(order.number, None, False)
            order.store_refunds += asked
        elif how == "line":
            line, amount = self._line_plan(order, line, 0.5)
            if not amount or self._stripe_refuses(order, amount):
                return
            assert self.store.refund_by_command(order.number, {line.sku: amount}, False)
            order.store_refunds += amount
        else:
            # An admin refunds part of the same line while the command waits on the gateway:
            # both when the line has enough for both ("meanwhile"); when it has not
            # ("overlap"), the command's committed claim makes the admin's a refusal.
            line, amount = self._line_plan(order, line, 0.34 if how == "meanwhile" else 0.6)
            left = line.line_total - self.seen.orders[order.id].line_refunded[line.id]
            both = amount * 2 <= left
            if not amount or both != (how == "meanwhile"):
                return  # nothing left on the line, or not (or not only) room for one
            if self._stripe_refuses(order, (2 if both else 1) * amount):
                return
            key, admin_said = uuid.uuid4().hex, []
            admin = lambda: admin_said.append(  # noqa: E731
                self.store.refund_back_office(order.id, {line.id: amount}, False, key)
            )
            assert self.store.refund_by_command(order.number, {line.sku: amount}, False, admin)
            assert admin_said == [both], (
                f"an admin's refund of {amount} asked while the command's {amount} of "
                f"{left} left was under way was {'refused' if both else 'accepted'}"
            )
            order.store_refunds += (2 if both else 1) * amount
            self.model.audit["order.refund"] += 1 if both else 0
        self.model.audit["order.refund"] += 1

    # --- refunds made in the Stripe dashboard -------------------------------------------------

    @precondition(lambda self: 1 not in IGNORED and self.orders("paid"))
    @rule(o=pick, share=fraction, updated=st.booleans(), first=pick)
    def refund_in_stripe_dashboard(self, o, share, updated, first):
        """Stripe sends its events for the refund; one arrives now, the rest later."""
        order = nth([c for c in self.orders("paid") if c.at_stripe < c.total], o)
        if order is None:
            return
        amount = max(1, int((order.total - order.at_stripe) * share))
        refund_id = f"re_model_{next(self.serial)}"
        order.dashboard[refund_id] = amount
        payloads = self.store.refund_events(
            order.reference, refund_id, amount, order.at_stripe, order.total, updated
        )
        for payload in payloads[:-1]:  # refund.created / refund.updated tell of this refund
            self.events.append([order.id, {refund_id}, payload, 2, ("id", refund_id)])
        # charge.refunded tells of every refund on the charge so far (amount_refunded)
        self.events.append(
            [order.id, set(order.dashboard), payloads[-1], 2, ("total", order.at_stripe)]
        )
        self.stripe_delivers_an_event(len(self.events) - len(payloads) + first % len(payloads))

    @precondition(lambda self: self.events)
    @rule(e=pick, again=st.booleans())
    def stripe_delivers_an_event(self, e, again=True):
        event = nth(self.events, e)
        self.store.deliver_event(event[2])
        order = self.model.orders[event[0]]
        order.known |= event[1]
        kind, value = event[4]
        if kind == "id":
            order.known_by_id.add(value)
        else:
            order.told_total = max(order.told_total, value)
        event[3] -= 1
        if not again or event[3] == 0:
            self.events.remove(event)

    # --- training accounts --------------------------------------------------------------------

    @rule(t=pick, share=st.sampled_from([0.5, 1.0, 1.5]), staff=st.integers(0, 1))
    def request_withdrawal(self, t, share, staff):
        trainee_id, _code = nth(self.trainees, t)
        subject = ("trainee", trainee_id)
        left = self.model.balance(subject) - self.model.pending_withdrawals(subject)
        amount = max(1, int(left * share))
        withdrawal_id = self.store.request_withdrawal(staff, trainee_id, amount)
        assert (withdrawal_id is not None) == (amount <= left), (
            f"a withdrawal of {amount} with {left} available was "
            f"{'accepted' if withdrawal_id else 'refused'}"
        )
        if withdrawal_id is not None:
            self.model.withdrawals[withdrawal_id] = Withdrawal(subject, amount, staff)

    @precondition(lambda self: len(self.model.withdrawals) > len(self.model.decided))
    @rule(w=pick, staff=st.integers(0, 1), approve=st.booleans())
    def decide_withdrawal(self, w, staff, approve):
        open_ = [wid for wid in self.model.withdrawals if wid not in self.model.decided]
        wid = nth(open_, w)
        request = self.model.withdrawals[wid]
        expected = staff != request.requester and (
            not approve or request.amount <= self.model.balance(request.subject)
        )
        assert self.store.decide_withdrawal(staff, wid, approve) == expected
        if expected:
            self.model.decided[wid] = "approved" if approve else "rejected"
            if approve:
                self.model.withdrawn[request.subject] += request.amount

    @rule(t=pick, cents=st.integers(-3_000, 3_000).filter(bool), staff=st.integers(0, 1),
          twice=st.booleans())  # fmt: skip
    def propose_correction(self, t, cents, staff, twice):
        """A staff member proposes a correction (the form perhaps sent twice): nothing is
        posted yet, whatever the balance, and one form makes one proposal."""
        trainee_id, _code = nth(self.trainees, t)
        key = uuid.uuid4().hex
        correction_id = self.store.propose_correction(staff, trainee_id, cents, key)
        assert correction_id is not None, f"a correction of {cents} could not be proposed"
        if twice:
            again = self.store.propose_correction(staff, trainee_id, cents, key)
            assert again == correction_id, "the same form sent twice made two proposals"
        self.model.corrections[correction_id] = Correction(("trainee", trainee_id), cents, staff)

    @precondition(lambda self: len(self.model.corrections) > len(self.model.corrections_decided))
    @rule(c=pick, staff=st.integers(0, 1), approve=st.booleans())
    def decide_correction(self, c, staff, approve):
        """Another staff member approves (posted then) or rejects; the proposer cannot decide
        their own, and taking back more than the balance now holds is refused."""
        open_ = [cid for cid in self.model.corrections if cid not in self.model.corrections_decided]
        cid = nth(open_, c)
        proposal = self.model.corrections[cid]
        expected = staff != proposal.proposer and (
            not approve or proposal.amount > 0
            or -proposal.amount <= self.model.balance(proposal.subject)
        )  # fmt: skip
        assert self.store.decide_correction(staff, cid, approve) == expected, (
            f"{'approving' if approve else 'rejecting'} correction {cid} of {proposal.amount} "
            f"(proposed by staff {proposal.proposer}, decided by staff {staff}) was "
            f"{'refused' if expected else 'accepted'}"
        )
        if expected:
            self.model.corrections_decided[cid] = "approved" if approve else "rejected"
            if approve:
                self.model.corrected[proposal.subject] += proposal.amount

    @precondition(lambda self: not {6, 7} <= IGNORED)
    @rule(t=pick, more=st.integers(1, 500), unknown=st.booleans())
    def correction_in_a_batch(self, t, more, unknown):
        """The correction services as a batch caller uses them, carrying on past a refusal:
        approving one beyond the balance, or proposing one for a trainee who does not exist,
        is refused, and (as `ledger.post()` promises when it raises) posts nothing; the
        proposal of the first stays, waiting."""
        unknown = (unknown or 6 in IGNORED) and 7 not in IGNORED
        trainee_id, _code = nth(self.trainees, t)
        subject = ("trainee", trainee_id)
        cents = 100 if unknown else -(self.model.balance(subject) + more)
        outcome, proposal_id = self.store.correction_in_a_batch(
            trainee_id, cents, uuid.uuid4().hex, unknown
        )
        assert outcome == "refused", outcome
        assert (proposal_id is None) == unknown
        if proposal_id is not None:
            self.model.corrections[proposal_id] = Correction(subject, cents, 0)

    # --- after every step -------------------------------------------------------------------

    @invariant()
    def store_agrees_with_model(self):
        if self.model is None:
            return
        state = self.store.read()
        self.model.compare(state, self.store.now())
        self.seen = state


def test_random_operations_keep_every_promise_of_the_store(migrated_app):
    StoreMachine.app = migrated_app
    with store_settings(migrated_app):
        run_state_machine_as_test(StoreMachine, settings=SETTINGS)
