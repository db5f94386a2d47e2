"""Orders, their lines and batch allocations, stock reservations, payments,
gateway events and refunds."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalog.models import OPTIONS_LABEL_MAX, Variant
from shop.database import enum_column
from shop.extensions import db
from shop.provenance.models import Batch
from shop.timeutil import utcnow


class OrderStatus(enum.StrEnum):
    """Where the order is in its life. Money given back is a separate fact
    (`Order.refund_status`): a refund never moves an order back or forth here."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"  # shipped, once
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """In English, for records and the command line."""
        return {
            "pending_payment": "Waiting for payment",
            "fulfilled": "Shipped",
        }.get(self.value, self.value.replace("_", " ").capitalize())

    @property
    def shown(self) -> str:
        """In the reader's language, for pages and messages."""
        return _SHOWN[self]


class RefundStatus(enum.StrEnum):
    """How much of the order's money went back, derived from `refunded_amount`."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"

    @property
    def label(self) -> str:
        """In English, for records and the command line."""
        return {"none": "Not refunded", "partial": "Partly refunded", "full": "Refunded in full"}[
            self.value
        ]

    @property
    def shown(self) -> str:
        """In the reader's language, for pages and messages."""
        return _SHOWN[self]


_SHOWN = {
    OrderStatus.PENDING_PAYMENT: _l("Waiting for payment"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.FULFILLED: _l("Shipped"),
    OrderStatus.COMPLETED: _l("Completed"),
    OrderStatus.CANCELLED: _l("Cancelled"),
    OrderStatus.EXPIRED: _l("Expired"),
    RefundStatus.NONE: _l("Not refunded"),
    RefundStatus.PARTIAL: _l("Partly refunded"),
    RefundStatus.FULL: _l("Refunded in full"),
}


class ReservationStatus(enum.StrEnum):
    HELD = "held"
    RELEASED = "released"  # expired or cancelled: the units went back to stock
    CONSUMED = "consumed"  # the order was paid: the units were sold


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # started at the gateway: it may still take money (a declined card too)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # stopped at the gateway: it can no longer take money


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "subtotal >= 0 AND shipping >= 0 AND total = subtotal + shipping", name="totals_add_up"
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= total", name="refund_within_total"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    # The only way a guest reaches the order: unguessable, never the number.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "order_status"), default=OrderStatus.PENDING_PAYMENT, index=True
    )
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(120))
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country_code: Mapped[str] = mapped_column(String(2))
    # The parts only some countries use (shop.orders.addresses): a state, province or
    # prefecture (as the address metadata names it: 'CA', '東京都'), a district or
    # neighbourhood, a sorting code (CEDEX). Empty where unused, and on older orders.
    country_area: Mapped[str] = mapped_column(String(120), default="", server_default="")
    city_area: Mapped[str] = mapped_column(String(120), default="", server_default="")
    sorting_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    shipping_method: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(Integer)
    shipping: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    # The language the buyer shopped in (shop/i18n.py): her emails and the packing slip in
    # her parcel speak it. None: English (orders placed before languages).
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    gateway: Mapped[str] = mapped_column(String(20))
    # Set when a payment report did not match the order; staff must look.
    review_reason: Mapped[str] = mapped_column(Text, default="")
    last_payment_error: Mapped[str] = mapped_column(Text, default="")
    tracking_number: Mapped[str] = mapped_column(String(80), default="")
    # The customer account the order belongs to: set at checkout when signed in, or when
    # a customer with this verified email claims it. Guests reach it by token only.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, nullable=True)
    # Where an unpaid order came from, kept on the server (a replayed session cookie
    # cannot hide it): the browser session's random checkout key, and a keyed digest of
    # the client's address (never the address). See shop.orders.checkout's hold limits.
    checkout_key: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    client_digest: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    reserved_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    reservations: Mapped[list[Reservation]] = relationship(back_populates="order")
    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")

    @hybrid_property
    def refund_status(self) -> RefundStatus:
        if self.refunded_amount <= 0:
            return RefundStatus.NONE
        return RefundStatus.FULL if self.refunded_amount >= self.total else RefundStatus.PARTIAL

    @refund_status.inplace.expression
    @classmethod
    def _refund_status_expression(cls):
        return case(
            (cls.refunded_amount <= 0, RefundStatus.NONE.value),
            (cls.refunded_amount >= cls.total, RefundStatus.FULL.value),
            else_=RefundStatus.PARTIAL.value,
        )


class OrderLine(db.Model):
    """A snapshot of what was bought, at the price and share of that moment."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "unit_price >= 0 AND line_total = unit_price * quantity", name="line_total_matches"
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= line_total", name="refund_within_line"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    product_name: Mapped[str] = mapped_column(String(200))
    options_label: Mapped[str] = mapped_column(String(OPTIONS_LABEL_MAX), default="")
    sku: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)
    impact_share_bps: Mapped[int] = mapped_column(Integer)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    variant: Mapped[Variant] = relationship()
    allocations: Mapped[list[LineAllocation]] = relationship(
        back_populates="line", order_by="LineAllocation.id"
    )


class LineAllocation(db.Model):
    """Which batch a line's units came from (first in, first out). A NULL
    batch means units that entered stock without one (an adjustment)."""

    __tablename__ = "line_allocations"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    line: Mapped[OrderLine] = relationship(back_populates="allocations")
    batch: Mapped[Batch | None] = relationship()


class Reservation(db.Model):
    """Units taken out of stock while a buyer pays."""

    __tablename__ = "reservations"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[ReservationStatus] = mapped_column(
        enum_column(ReservationStatus, "reservation_status"),
        default=ReservationStatus.HELD,
        index=True,
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    order: Mapped[Order] = relationship(back_populates="reservations")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("gateway", "reference", name="one_row_per_gateway_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(100))  # e.g. the PaymentIntent id
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    client_secret: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="payments")


class GatewayEvent(db.Model):
    """Every event a gateway reported, once: a repeat hits the unique key."""

    __tablename__ = "gateway_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id", name="one_row_per_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Refund(db.Model):
    """Money given back, booked once per gateway refund (`reference`, e.g. re_...).

    A row with no reference is money the gateway reported only as a total (the API
    could not list its refunds); when such a refund later arrives by id, the part
    already booked that way is `covered` and only the rest is booked again, so
    `amount + covered` is the gateway refund and `Order.refunded_amount` = sum(amount)
    over the refunds that have not failed.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(
            "amount >= 0 AND covered >= 0 AND amount + covered > 0", name="booked_or_covered"
        ),
        UniqueConstraint("idempotency_key", name="one_refund_per_request"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    covered: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    gateway: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(100), default="", index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the gateway reported the refund failed after it was booked as succeeded:
    # the money came back to the shop, so the booking was undone (its amount no longer
    # counts in the order's or lines' refunded totals) and the shares were credited back.
    # Also set on a refund reported failed before it was ever booked: a row with no
    # lines, kept so that a total heard later is not booked while it may count it.
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    order: Mapped[Order] = relationship(back_populates="refunds")
    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="refund", cascade="all, delete-orphan"
    )


class RefundClaim(db.Model):
    """Money a refund the store asked for sets aside while the gateway answers.

    Written and committed under the order's lock before the gateway is called, so a
    refund planned meanwhile sees it and cannot plan the same money; gone once the
    refund is booked (or the gateway refused it). `plan` is the store's plan as the
    refund's metadata carries it ("line:amount,...;shipping"). A claim older than
    shop.orders.refund_plans.CLAIM_LIFETIME counts as released (its request died
    between the claim and the booking; the gateway's webhook books the refund, if
    it was made, from the plan in its metadata).
    """

    __tablename__ = "refund_claims"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("idempotency_key", name="one_claim_per_request"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(String(500))
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RefundLine(db.Model):
    __tablename__ = "refund_lines"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    line: Mapped[OrderLine] = relationship()


__all__ = [
    "GatewayEvent",
    "LineAllocation",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundClaim",
    "RefundLine",
    "RefundStatus",
    "Reservation",
    "ReservationStatus",
]
