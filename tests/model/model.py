"""The model side: what the store should hold, in plain Python, and the comparison.

Nothing here touches the store. The rules are the issue's, written once:
- stock: on_hand = batch units ± adjustments − units sold; available = on_hand − held;
  a sale and a negative adjustment both use up batch units first in, first out (batches
  in the order they were recorded, whatever production month they state); a positive
  adjustment only gives back units written off before, so every unit on the shelf
  belongs to a batch;
- shares: share = floor(line_total × bps / 10000), split over the line's batch units
  with allocate(), then over each batch's makers by weight; units without makers go
  to the workshop's pool;
- reversals: cumulative floor(credited × refunded / line_total), never above the credit;
- a refund the Stripe dashboard made is booked once the store hears of it, by any of
  its events, however often and in whatever order they come.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from shop.money import allocate

# Anyone may hold stock while paying, but not all of it (defect 10): caps the store
# must keep, per order, per shopping session and per client address (held units of
# unexpired orders; the model's buyers all shop from one address).
MAX_UNITS_PER_ORDER = 6
MAX_HELD_UNITS_PER_SESSION = 8
MAX_HELD_UNITS_PER_ADDRESS = 6
# An order holds its units RESERVATION after it was placed; once its payment starts, until
# PAYMENT after it was placed (extended once, never a hold that already ran out).
RESERVATION = timedelta(minutes=15)
PAYMENT = timedelta(minutes=30)

Subject = tuple[str, int]  # ("trainee", trainee id) or ("pool", workshop id)


@dataclass
class BatchUnits:
    id: int
    month: date
    remaining: int
    makers: list[tuple[int, int]]  # (trainee id, weight), as listed
    written_off: int = 0  # lost or damaged units, which a later count may find again


@dataclass
class VariantModel:
    id: int
    sku: str
    product_id: int
    price: int
    bps: int
    workshop_id: int
    batches: list[BatchUnits] = field(default_factory=list)

    @property
    def on_hand(self) -> int:
        return sum(b.remaining for b in self.batches)

    def take(self, units: int, write_off: bool = False) -> list[tuple[int | None, int]]:
        """Use up `units` first in, first out; returns (batch id or None, units)."""
        taken = []
        for batch in sorted(self.batches, key=lambda b: b.id):
            if units == 0:
                break
            n = min(units, batch.remaining)
            if n:
                batch.remaining -= n
                batch.written_off += n if write_off else 0
                units -= n
                taken.append((batch.id, n))
        assert units == 0, "the model sold units it does not have"  # every unit has a batch
        return taken


@dataclass
class LineModel:
    id: int
    variant_id: int
    sku: str
    quantity: int
    line_total: int
    bps: int
    workshop_id: int
    allocation: list[tuple[int | None, int]] | None = None
    credits: dict[Subject, int] = field(default_factory=dict)


@dataclass
class OrderModel:
    id: int
    number: str
    token: str
    buyer: int
    total: int
    shipping: int
    expires_at: datetime
    lines: list[LineModel]
    placed_at: datetime | None = None
    payment: str = "pending"  # pending | paid | cancelled | expired
    started: bool = False  # a payment was started (a Payment row): no checkout replaces it
    reference: str = ""
    tracking: str = ""
    store_refunds: int = 0  # refunds made by the store itself (back office, command)
    dashboard: dict[str, int] = field(default_factory=dict)  # refund id: amount
    known: set[str] = field(default_factory=set)  # dashboard refunds the store was told of
    known_by_id: set[str] = field(default_factory=set)  # ... by an event naming the refund
    told_total: int = 0  # the highest `amount_refunded` a delivered charge.refunded gave

    @property
    def at_stripe(self) -> int:
        return self.store_refunds + sum(self.dashboard.values())

    @property
    def told(self) -> int:
        """The least the store must have booked by now. Stripe's API does not answer in
        the model, so the store knows refunds by the events naming them, and the charge's
        total refunded from charge.refunded; a total may cover refunds it has not yet seen
        by id, so what it must have booked is the larger of the two, not their sum."""
        by_id = self.store_refunds + sum(self.dashboard[r] for r in self.known_by_id)
        return max(by_id, self.told_total)

    @property
    def all_told(self) -> bool:
        return self.known == set(self.dashboard)

    def units(self) -> dict[int, int]:
        held: dict[int, int] = defaultdict(int)
        for line in self.lines:
            held[line.variant_id] += line.quantity
        return held


@dataclass
class Withdrawal:
    subject: Subject
    amount: int
    requester: int


@dataclass
class Correction:
    subject: Subject
    amount: int  # > 0 credits, < 0 takes back
    proposer: int


class StoreModel:
    def __init__(self, variants: list[dict], trainees: dict[int, list[tuple[int, str]]],
                 accounts: dict[Subject, int]):  # fmt: skip
        self.variants = {
            v["id"]: VariantModel(v["id"], v["sku"], v["product_id"], v["price"], v["bps"],
                                  v["workshop_id"])
            for v in variants
        }  # fmt: skip
        self.trainees = trainees  # workshop id: [(trainee id, code)]
        self.accounts = accounts  # subject: ledger account id
        self.orders: dict[int, OrderModel] = {}
        self.carts: dict[int, dict[int, int]] = defaultdict(dict)
        self.credited: dict[Subject, int] = defaultdict(int)
        self.withdrawn: dict[Subject, int] = defaultdict(int)
        self.corrected: dict[Subject, int] = defaultdict(int)
        self.taken: dict[Subject, int] = defaultdict(int)  # reversals taken, as last read
        self.withdrawals: dict[int, Withdrawal] = {}
        self.decided: dict[int, str] = {}
        self.corrections: dict[int, Correction] = {}
        self.corrections_decided: dict[int, str] = {}
        self.audit: Counter = Counter()
        self.now: datetime | None = None

    # --- stock ---------------------------------------------------------------------------

    def held(self, variant_id: int) -> int:
        return sum(
            o.units().get(variant_id, 0) for o in self.orders.values() if o.payment == "pending"
        )

    def available(self, variant_id: int) -> int:
        return self.variants[variant_id].on_hand - self.held(variant_id)

    def add_batch(self, batch_id: int, variant_id: int, month: date, quantity: int,
                  makers: list[tuple[int, int]]) -> None:  # fmt: skip
        self.variants[variant_id].batches.append(BatchUnits(batch_id, month, quantity, makers))

    def adjust(self, variant_id: int, change: int) -> bool:
        """Whether the store must accept the change; applies it if so."""
        variant = self.variants[variant_id]
        if change < 0:
            if -change > self.available(variant_id):
                return False
            variant.take(-change, write_off=True)  # used up like sold ones
            return True
        # Found units go back to the batches they were written off from, the last
        # recorded first; more than were written off have no known batch and are refused
        # (new units come in by recording their batch).
        if change > sum(b.written_off for b in variant.batches):
            return False
        for batch in sorted(variant.batches, key=lambda b: b.id, reverse=True):
            give = min(change, batch.written_off)
            batch.written_off -= give
            batch.remaining += give
            change -= give
        return True

    def products_with_batches(self) -> set[int]:
        return {v.product_id for v in self.variants.values() if v.batches}

    def move_product(self, product_id: int, workshop_id: int) -> None:
        for v in self.variants.values():
            if v.product_id == product_id:
                v.workshop_id = workshop_id

    # --- buying --------------------------------------------------------------------------

    def session_held(self, buyer: int, now: datetime) -> int:
        return sum(
            sum(o.units().values())
            for o in self.orders.values()
            if o.buyer == buyer and o.payment == "pending" and o.expires_at > now
        )

    def overdue_touching(self, variant_ids, now: datetime) -> list[OrderModel]:
        return [
            o for o in self.orders.values()
            if o.payment == "pending" and o.expires_at < now
            and (variant_ids is None or set(o.units()) & set(variant_ids))
        ]  # fmt: skip

    def expire(self, orders: list[OrderModel]) -> None:
        for o in orders:
            o.payment = "expired"  # every one of its holds goes back, on every variant

    def replaced_by_checkout(self, buyer: int, now: datetime) -> list[OrderModel]:
        """What a checkout ends first: the holds that ran out on its variants, and the
        session's own unpaid orders (a new checkout replaces them, so one session holds
        one order's units at most), but not one whose payment has started."""
        swept = self.overdue_touching(self.carts[buyer], now)
        own = [
            o for o in self.orders.values()
            if o.buyer == buyer and o.payment == "pending" and not o.started
        ]  # fmt: skip
        return swept + [o for o in own if o not in swept]

    def checkout_allowed(self, buyer: int, now: datetime, caps: bool = True) -> bool:
        """A checkout ends what it replaces, then must find the cart's units available,
        within the caps: the address's cap counts the other sessions' running holds."""
        cart = self.carts[buyer]
        freed = self.replaced_by_checkout(buyer, now)
        free = {v: self.available(v) + sum(o.units().get(v, 0) for o in freed) for v in cart}
        if any(q > free[v] for v, q in cart.items()):
            return False
        units = sum(cart.values())
        running = [
            o for o in self.orders.values()
            if o.payment == "pending" and o.expires_at > now and o not in freed
        ]  # fmt: skip
        others = sum(sum(o.units().values()) for o in running)
        mine = sum(sum(o.units().values()) for o in running if o.buyer == buyer)
        return not caps or (
            units <= MAX_UNITS_PER_ORDER
            and mine + units <= MAX_HELD_UNITS_PER_SESSION
            and others + units <= MAX_HELD_UNITS_PER_ADDRESS
        )

    def cart_allowed(self, buyer: int, variant_id: int, quantity: int, now: datetime,
                     caps: bool = True) -> bool:  # fmt: skip
        """Adding to the cart: there must be that many available, counting the units of
        holds that ran out (an accepted add releases their orders first), and the cart
        must stay within what one order may hold."""
        cart = self.carts[buyer]
        lapsed = sum(o.units().get(variant_id, 0) for o in self.overdue_touching([variant_id], now))
        free = self.available(variant_id) + lapsed
        if quantity < 1 or cart.get(variant_id, 0) + quantity > free:
            return False
        return not caps or sum(cart.values()) + quantity <= MAX_UNITS_PER_ORDER

    def payment_started(self, order: OrderModel, now: datetime) -> None:
        """The pay page started a payment: a hold still running lasts until PAYMENT after
        the order was placed (once: it is counted from the placing)."""
        if order.payment == "pending":
            order.started = True
        if order.payment == "pending" and order.expires_at >= now:
            order.expires_at = max(order.expires_at, order.placed_at + PAYMENT)

    def place(self, buyer: int, placed, now: datetime) -> None:
        self.expire(self.overdue_touching(self.carts[buyer], now))
        for replaced in self.replaced_by_checkout(buyer, now):
            replaced.payment = "cancelled"
        lines = [
            LineModel(li.id, li.variant_id, li.sku, li.quantity, li.line_total, li.bps,
                      li.workshop_id)
            for li in placed.lines
        ]  # fmt: skip
        self.orders[placed.id] = OrderModel(
            placed.id, placed.number, placed.token, buyer, placed.total, placed.shipping,
            now + RESERVATION, lines, placed_at=now,
        )  # fmt: skip
        self.carts[buyer] = {}

    def pay(self, order: OrderModel, reference: str) -> None:
        order.payment, order.reference = "paid", reference
        for line in order.lines:
            line.allocation = self.variants[line.variant_id].take(line.quantity)
            line.credits = self.split_share(line)
            for subject, amount in line.credits.items():
                self.credited[subject] += amount

    def split_share(self, line: LineModel) -> dict[Subject, int]:
        share = line.line_total * line.bps // 10_000
        parts: dict[Subject, int] = defaultdict(int)
        if not share:
            return {}
        makers_of = {b.id: b.makers for v in self.variants.values() for b in v.batches}
        units = [n for _, n in line.allocation]
        for (batch_id, _n), part in zip(line.allocation, allocate(share, units), strict=True):
            makers = makers_of.get(batch_id) or []
            if not makers:
                parts[("pool", line.workshop_id)] += part
                continue
            for (trainee_id, _w), amount in zip(
                makers, allocate(part, [w for _, w in makers]), strict=True
            ):
                parts[("trainee", trainee_id)] += amount
        return {s: a for s, a in parts.items() if a}

    # --- training accounts ------------------------------------------------------------------

    def balance(self, subject: Subject) -> int:
        return (
            self.credited[subject] - self.taken[subject] - self.withdrawn[subject]
            + self.corrected[subject]
        )  # fmt: skip

    def pending_withdrawals(self, subject: Subject) -> int:
        return sum(
            w.amount for wid, w in self.withdrawals.items()
            if w.subject == subject and wid not in self.decided
        )  # fmt: skip

    # --- comparing with the store -------------------------------------------------------------

    def compare(self, state, now: datetime) -> None:
        """Raise AssertionError naming the first invariant the store breaks."""
        by_account = {a: s for s, a in self.accounts.items()}
        self._sync_expiries(state, now)
        self._check_stock(state)
        self._check_orders(state)
        self._check_provenance(state, by_account)
        self._check_ledger(state, by_account)
        self._check_emails_and_audit(state)

    def _sync_expiries(self, state, now: datetime) -> None:
        for o in self.orders.values():
            seen = state.orders[o.id].payment
            if o.payment == "pending" and seen == "expired":
                # The store may let an unpaid order go early (an abandoned hold); it must
                # then give back all of it, which the stock check below sees.
                o.payment = "expired"

    def _check_stock(self, state) -> None:
        for vid, v in self.variants.items():
            want = (v.on_hand, self.held(vid), self.available(vid))
            got = (state.on_hand[vid], state.reserved.get(vid, 0), state.available[vid])
            assert got == want, f"stock of {v.sku}: (on_hand, held, available) {got} != {want}"
            assert min(got) >= 0, f"stock of {v.sku} below zero: {got}"
        for o in self.orders.values():
            held = state.held_by_order.get(o.id, {})
            want = o.units() if o.payment == "pending" else {}
            assert held == want, f"order {o.number} ({o.payment}) holds {held}, not {want}"

    def _check_orders(self, state) -> None:
        for o in self.orders.values():
            got = state.orders[o.id]
            assert got.payment == o.payment, (
                f"order {o.number}: store says {got.payment} ({got.status}), model {o.payment}"
            )
            assert (got.shipped, got.tracking) == (bool(o.tracking), o.tracking), (
                f"order {o.number}: shipped {got.shipped} tracking {got.tracking!r}, "
                f"model {o.tracking!r}"
            )
            assert o.told <= got.refunded <= o.at_stripe, (
                f"order {o.number}: refunded {got.refunded}, but Stripe refunded {o.at_stripe} "
                f"and the store was told of {o.told}"
            )
            lines = sum(got.line_refunded.values())
            assert 0 <= got.refunded - lines <= o.shipping, (
                f"order {o.number}: refunded {got.refunded}, lines {lines}, shipping {o.shipping}"
            )
            for line in o.lines:
                assert 0 <= got.line_refunded[line.id] <= line.line_total

    def _check_provenance(self, state, by_account) -> None:
        # Each batch's units sold and written off, as the model took them (first in, first
        # out, sales and write-offs alike): a write-off that used up no batch unit is seen
        # at once, not only when a later sale of that variant is traced to a lost unit.
        model_batches = {b.id: b for v in self.variants.values() for b in v.batches}
        for batch_id, (variant_id, workshop_id, quantity, allocated) in state.batches.items():
            assert 0 <= allocated <= quantity, f"batch {batch_id}: {allocated} of {quantity} sold"
            b = model_batches[batch_id]
            want = (quantity - b.remaining - b.written_off, b.written_off)
            got = (allocated, state.written_off[batch_id])
            assert got == want, f"batch {batch_id}: (sold, written off) {got} != {want}"
            assert workshop_id == state.product_workshop[variant_id], (
                f"batch {batch_id} was made at workshop {workshop_id}, but its product now "
                f"names workshop {state.product_workshop[variant_id]}"
            )
        for o in self.orders.values():
            for line in o.lines:
                got = state.allocations.get(line.id, [])
                want = line.allocation or []
                assert got == want, f"line {line.sku} of {o.number}: units from {got}, not {want}"
                shares = {
                    by_account[a]: amount
                    for (lid, a), amount in state.shares.items() if lid == line.id
                }  # fmt: skip
                assert shares == line.credits, (
                    f"line {line.sku} of {o.number}: credited {shares}, not {line.credits}"
                )

    def _check_ledger(self, state, by_account) -> None:
        assert not state.ledger_problems, f"ledger verify: {state.ledger_problems}"
        assert state.total_debits == state.total_credits, "debits != credits"
        assert not state.negative_accounts, f"below zero: {state.negative_accounts}"
        for o in self.orders.values():
            got = state.orders[o.id]
            for line in o.lines:
                credited = sum(line.credits.values())
                reversed_ = {
                    by_account[a]: amount
                    for (lid, a), amount in state.reversals.items() if lid == line.id
                }  # fmt: skip
                due = credited * got.line_refunded[line.id] // line.line_total
                assert sum(reversed_.values()) == due, (
                    f"line {line.sku} of {o.number}: reversed {sum(reversed_.values())} of "
                    f"{credited}, but {got.line_refunded[line.id]}/{line.line_total} was refunded"
                )
                for subject, amount in reversed_.items():
                    assert amount <= line.credits.get(subject, 0), "reversed more than credited"
        self.taken = defaultdict(int, {by_account[a]: n for a, n in state.taken.items()
                                       if a in by_account})  # fmt: skip
        for subject, account in self.accounts.items():
            assert state.balances[account] == self.balance(subject), (
                f"{subject}: balance {state.balances[account]}, model {self.balance(subject)}"
            )
        for wid, status in state.withdrawals.items():
            want = self.decided.get(wid, "requested")
            assert status == want, f"withdrawal {wid} is {status}, model {want}"
        assert set(state.corrections) == set(self.corrections), (
            f"corrections proposed {sorted(state.corrections)}, model {sorted(self.corrections)}"
        )
        for cid, status in state.corrections.items():
            want = self.corrections_decided.get(cid, "requested")
            assert status == want, f"correction {cid} is {status}, model {want}"

    def _check_emails_and_audit(self, state) -> None:
        want: Counter = Counter()
        for o in self.orders.values():
            if o.payment == "paid":
                want[("confirmation", o.number)] = 1
            if o.tracking:
                want[("shipping", o.number)] = 1
        assert state.emails == want, f"emails sent {dict(state.emails)}, not {dict(want)}"
        for o in self.orders.values():  # each refund told once: the told amounts add up
            told, refunded = state.refund_emails.get(o.number, 0), state.orders[o.id].refunded
            assert told == refunded, f"order {o.number}: emails told {told}, refunded {refunded}"
        got = state.audit.get("order.refund", 0)
        assert got == self.audit["order.refund"], (
            f"{got} refund(s) in the audit log, {self.audit['order.refund']} made by staff"
        )
