"""The order state machine. Every status change goes through `transition`.

The status is the order's life only: paid, shipped once, completed. Refunds are
a separate fact (`Order.refund_status`, from `refunded_amount`) and never move
the status, so nothing can send an order back to "paid" and ship it again.
"""

from __future__ import annotations

from shop.orders.models import Order, OrderStatus, RefundStatus

S = OrderStatus
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.FULFILLED}),
    S.FULFILLED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
# States in which money has been taken (so a refund is possible).
PAID_STATES = frozenset({S.PAID, S.FULFILLED, S.COMPLETED})


class IllegalTransition(RuntimeError):
    def __init__(self, order: Order, target: OrderStatus, why: str = ""):
        reason = why or f"it cannot go from {order.status} to {target}"
        super().__init__(f"order {order.number}: {reason}")
        self.current, self.target, self.why = order.status, target, reason


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[current]


def transition(order: Order, target: OrderStatus) -> None:
    if not can_transition(OrderStatus(order.status), target):
        raise IllegalTransition(order, target)
    if target == S.FULFILLED and order.refund_status == RefundStatus.FULL:
        raise IllegalTransition(
            order, target, "it was refunded in full, so there is nothing to ship"
        )
    order.status = target
