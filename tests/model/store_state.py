"""The store side of the model test, reading: what the store holds, in the model's terms.

Part of the driver (tests/model/driver.py): when the store's schema changes, this is
where to adapt. Shipped means the order's life reached shipped (its refund status is a
separate fact); the shelf is the variant's own on_hand, reserved and available.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.orders.models import (
    LineAllocation,
    Order,
    OrderLine,
    OrderStatus,
    Reservation,
    ReservationStatus,
)
from shop.provenance.models import Batch
from shop.training.models import CorrectionRequest, LedgerAccount, Transfer, Withdrawal
from shop.training.reports import verify


@dataclass
class OrderFacts:
    """An order as the model speaks of it: payment, shipping and refunds kept apart."""

    payment: str  # pending | paid | cancelled | expired
    shipped: bool
    tracking: str
    refunded: int
    line_refunded: dict[int, int]
    status: str  # the store's own word, for messages


@dataclass
class StoreState:
    on_hand: dict[int, int]
    reserved: dict[int, int]
    available: dict[int, int]
    batches: dict[int, tuple[int, int, int, int]]  # id: (variant, workshop, quantity, allocated)
    written_off: dict[int, int]  # batch id: its units lost or damaged (and not found)
    product_workshop: dict[int, int]  # variant id: its product's workshop
    allocations: dict[int, list[tuple[int | None, int]]]  # line id: [(batch id, units)]
    orders: dict[int, OrderFacts]
    held_by_order: dict[int, dict[int, int]]  # order id: {variant id: units still held}
    # (line id, account id): amount, per kind
    shares: dict[tuple[int, int], int]
    reversals: dict[tuple[int, int], int]  # by subject account (taken and loss together)
    taken: dict[int, int]  # account id: reversals taken from it (not borne by refund_loss)
    balances: dict[int, int]  # account id: credits - debits
    negative_accounts: list[str]
    total_debits: int
    total_credits: int
    ledger_problems: list[str]  # what `flask ledger verify` would report
    withdrawals: dict[int, str]
    corrections: dict[int, str]
    audit: Counter
    emails: Counter  # (kind, order number): count
    refund_emails: Counter  # order number: the sum of the amounts its refund emails told


def read_state(outbox: str) -> StoreState:
    """Everything the model compares, in a dozen statements of plain columns."""
    s = db.session
    shelf = {vid: (on, held) for vid, on, held in
             s.execute(select(Variant.id, Variant.on_hand, Variant.reserved))}  # fmt: skip
    held_rows = s.execute(
        select(Reservation.order_id, Reservation.variant_id, Reservation.quantity).where(
            Reservation.status == ReservationStatus.HELD
        )
    ).all()
    held_by_order: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for order_id, variant_id, quantity in held_rows:
        held_by_order[order_id][variant_id] += quantity
    on_hand = {v: on for v, (on, _held) in shelf.items()}
    reserved = {v: held for v, (_on, held) in shelf.items()}
    batches = {
        row[0]: tuple(row[1:])
        for row in s.execute(select(Batch.id, Batch.variant_id, Batch.workshop_id,
                                    Batch.quantity, Batch.units_allocated))
    }  # fmt: skip
    written_off = dict(s.execute(select(Batch.id, Batch.units_written_off)).all())
    product_workshop = dict(
        s.execute(select(Variant.id, Product.workshop_id).join(Variant.product)).all()
    )
    allocations: dict[int, list] = defaultdict(list)
    for line_id, batch_id, quantity in s.execute(
        select(LineAllocation.line_id, LineAllocation.batch_id, LineAllocation.quantity)
        .order_by(LineAllocation.id)
    ):  # fmt: skip
        allocations[line_id].append((batch_id, quantity))
    line_refunded: dict[int, dict[int, int]] = defaultdict(dict)
    for line_id, order_id, refunded in s.execute(
        select(OrderLine.id, OrderLine.order_id, OrderLine.refunded_amount)
    ):
        line_refunded[order_id][line_id] = refunded
    orders = {}
    shipped_states = (OrderStatus.FULFILLED, OrderStatus.COMPLETED)
    for order_id, status, refunded, tracking in s.execute(
        select(Order.id, Order.status, Order.refunded_amount, Order.tracking_number)
    ):
        payment = {
            OrderStatus.PENDING_PAYMENT: "pending", OrderStatus.CANCELLED: "cancelled",
            OrderStatus.EXPIRED: "expired",
        }.get(status, "paid")  # fmt: skip
        orders[order_id] = OrderFacts(
            payment=payment, shipped=status in shipped_states, tracking=tracking,
            refunded=refunded,
            line_refunded=line_refunded[order_id], status=str(status),
        )  # fmt: skip
    shares: dict = defaultdict(int)
    reversals: dict = defaultdict(int)
    taken: dict = defaultdict(int)
    for kind, cause_id, debit, credit, subject, amount in s.execute(
        select(Transfer.kind, Transfer.cause_id, Transfer.debit_account_id,
               Transfer.credit_account_id, Transfer.subject_account_id, Transfer.amount)
    ):  # fmt: skip
        if kind == "sale_share":
            shares[(cause_id, credit)] += amount
        elif kind == "refund_reversal":
            reversals[(cause_id, subject)] += amount
            taken[debit] += amount
        elif kind == "reversal_undone":  # its refund failed at the gateway: given back
            reversals[(cause_id, subject)] -= amount
            taken[credit] -= amount
    accounts = s.execute(
        select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.debits_posted,
               LedgerAccount.credits_posted, LedgerAccount.debits_must_not_exceed_credits)
    ).all()  # fmt: skip
    check = verify()  # what `flask ledger verify` checks; the command itself runs at the end
    emails: Counter = Counter()
    refund_emails: Counter = Counter()
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    for path in Path(outbox).glob("*.eml"):
        subject = str(parser.parsebytes(path.read_bytes())["Subject"])
        words = subject.split()
        if subject.startswith("Your order "):
            emails[("confirmation", words[2])] += 1
        elif subject.endswith("is on its way"):
            emails[("shipping", words[1])] += 1
        elif subject.startswith("Refund of "):  # "Refund of $10.00 on order N": the amount
            cents = int(words[2].strip("$").replace(",", "").replace(".", ""))
            refund_emails[words[-1]] += cents
    return StoreState(
        on_hand=on_hand, reserved=reserved,
        available=dict(s.execute(select(Variant.id, Variant.available)).all()),
        batches=batches, written_off=written_off, product_workshop=product_workshop, allocations=dict(allocations),
        orders=orders, held_by_order={k: dict(v) for k, v in held_by_order.items()},
        shares=dict(shares), reversals=dict(reversals), taken=dict(taken),
        balances={a.id: a.credits_posted - a.debits_posted for a in accounts},
        negative_accounts=[a.code for a in accounts
                           if a.debits_must_not_exceed_credits and a.debits_posted > a.credits_posted],
        total_debits=sum(a.debits_posted for a in accounts),
        total_credits=sum(a.credits_posted for a in accounts),
        ledger_problems=list(check.problems),
        withdrawals=dict(s.execute(select(Withdrawal.id, Withdrawal.status)).all()),
        corrections=dict(
            s.execute(select(CorrectionRequest.id, CorrectionRequest.status)).all()
        ),
        audit=Counter(dict(s.execute(
            select(AuditEntry.action, func.count()).group_by(AuditEntry.action)).all())),
        emails=emails, refund_emails=refund_emails,
    )  # fmt: skip
