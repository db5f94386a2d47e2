"""The order state machine. Every status change goes through `transition`."""

from __future__ import annotations

from shop.orders.models import Order, OrderStatus

S = OrderStatus
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.FULFILLED, S.COMPLETED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}
# States in which money has been taken (so a refund is possible).
PAID_STATES = frozenset({S.PAID, S.FULFILLED, S.COMPLETED, S.PARTIALLY_REFUNDED})


class IllegalTransition(RuntimeError):
    def __init__(self, order: Order, target: OrderStatus):
        super().__init__(f"order {order.number} cannot go from {order.status} to {target}")
        self.current, self.target = order.status, target


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[current]


def transition(order: Order, target: OrderStatus) -> None:
    if not can_transition(OrderStatus(order.status), target):
        raise IllegalTransition(order, target)
    order.status = target
