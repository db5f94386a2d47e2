"""What the orders package announces. Listeners run inside the transaction
that made the change, so what they write commits or rolls back with it."""

from __future__ import annotations

from dataclasses import dataclass

from blinker import Namespace

_signals = Namespace()
# sender: the app; keyword `event`: PaidOrder. Sent once, when an order becomes paid.
order_paid = _signals.signal("order-paid")
# sender: the app; keyword `event`: RefundedLine. Sent once per line per refund.
order_line_refunded = _signals.signal("order-line-refunded")
# sender: the app; keyword `event`: RefundedLine (`amount`: given back to the line's
# total, `refunded_total`: what stays refunded). Sent once per line of a refund whose
# booking was undone because the gateway reported it failed.
order_line_refund_undone = _signals.signal("order-line-refund-undone")


@dataclass(frozen=True)
class BatchShare:
    batch_id: int | None  # None: units with no recorded batch (workshop pool)
    quantity: int


@dataclass(frozen=True)
class PaidLine:
    line_id: int
    workshop_id: int
    product_name: str  # for the trainee's statement: the product, never the buyer
    line_total: int
    impact_share_bps: int
    share: int  # line_total x bps / 10000, rounded down
    allocations: tuple[BatchShare, ...]


@dataclass(frozen=True)
class PaidOrder:
    order_id: int
    currency: str
    lines: tuple[PaidLine, ...]


@dataclass(frozen=True)
class RefundedLine:
    order_id: int
    line_id: int
    refund_id: int
    amount: int  # refunded now
    refunded_total: int  # refunded on this line so far, this refund included
    line_total: int
    currency: str
