"""An order's story for the back office, oldest first: placed, paid, the emails the
buyer was sent (as the jobs outbox knows them), shipped, refunds, cancellation, and the
internal notes. Three statements whatever the order's history (its refunds are loaded
with the order): the emails, the audit entries and the notes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import joinedload

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.jobs.models import DEAD, DONE, Job
from shop.money import money_text
from shop.orders.models import Order, OrderStatus
from shop.orders.notes import OrderNote
from shop.orders.notifications import (
    CONFIRMATION,
    PAYMENT_WAITING,
    REFUND_NOTICE,
    SHIPPING_NOTICE,
)
from shop.timeutil import as_utc

# The emails about one order, by job kind, and the payload id that names it.
ORDER_EMAILS = {
    PAYMENT_WAITING: _l("Payment reminder"),
    CONFIRMATION: _l("Order confirmation"),
    SHIPPING_NOTICE: _l("Shipping notice"),
}
REFUND_EMAILS = {REFUND_NOTICE: _l("Refund notice")}
EMAILS = ORDER_EMAILS | REFUND_EMAILS
# Told by the order's own rows (refunds, notes) instead of their audit entries.
TOLD_ELSEWHERE = frozenset({"order.refund", "order.refund_failed", "order.note"})
ACTIONS = {"order.ship": _l("Shipped"), "order.cancel": _l("Cancelled")}


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # placed, paid, email, shipped, cancelled, refund, note, action
    title: str
    detail: str = ""
    who: str = ""


def order_timeline(order: Order) -> list[Event]:
    """Every event of `order` (loaded with its refunds), oldest first."""
    total = money_text(order.total, order.currency)
    events = [Event(order.created_at, "placed", _("Placed"), total)]
    if order.paid_at:
        events.append(
            Event(order.paid_at, "paid", _("Paid"),
                  _("%(total)s, %(gateway)s gateway", total=total, gateway=order.gateway))
        )  # fmt: skip
    events += _emails(order)
    events += [_action(entry) for entry in _audit_entries(order.id)]
    events += _refunds(order)
    events += [
        Event(note.created_at, "note", _("Internal note"), note.body, _who(note.author))
        for note in _notes(order.id)
    ]
    # A stable sort: events of one moment keep the order they were added in.
    return sorted((replace(e, at=as_utc(e.at)) for e in events), key=lambda e: e.at)


def _who(user) -> str:
    return user.label if user else ""


def _action(entry: AuditEntry) -> Event:
    detail = ""
    if entry.action == "order.ship" and (entry.after or {}).get("tracking_number"):
        detail = _("tracking %(number)s", number=entry.after["tracking_number"])
    title = str(ACTIONS.get(entry.action) or entry.summary or entry.action)
    return Event(
        entry.created_at, entry.action.removeprefix("order."), title, detail, _who(entry.actor)
    )


def _refunds(order: Order) -> list[Event]:
    events = []
    for refund in order.refunds:
        amount = money_text(refund.amount, order.currency)
        why = ", ".join(text for text in (refund.reason, refund.reference) if text)
        if refund.failed_at and not refund.lines:  # refused before it was ever booked
            events.append(
                Event(
                    refund.failed_at,
                    "refund",
                    _("Refund failed at the gateway"),
                    _("nothing was refunded"),
                )
            )
            continue
        events.append(
            Event(refund.created_at, "refund", _("Refund of %(amount)s", amount=amount), why)
        )
        if refund.failed_at:
            events.append(Event(refund.failed_at, "refund",
                                _("Refund of %(amount)s failed at the gateway", amount=amount),
                                _("the money came back to the shop, so the refund was undone")))  # fmt: skip
    return events


def _payload_id(name: str):
    """A payload's id as text, on SQLite and PostgreSQL alike: compared as text, a payload
    that holds something else where an id belongs matches nothing instead of failing the
    page (PostgreSQL refuses to cast such text to a number)."""
    return cast(Job.payload[name].as_string(), String)


def _emails(order: Order) -> list[Event]:
    refund_ids = [str(r.id) for r in order.refunds]
    wanted = and_(Job.kind.in_(list(ORDER_EMAILS)), _payload_id("order_id") == str(order.id))
    if refund_ids:
        about_refunds = and_(
            Job.kind.in_(list(REFUND_EMAILS)), _payload_id("refund_id").in_(refund_ids)
        )
        wanted = or_(wanted, about_refunds)
    jobs = db.session.scalars(
        select(Job)
        # Emails about the order were queued after it was placed: the (kind, created_at)
        # index keeps this to recent rows however long the outbox grows.
        .where(Job.kind.in_(list(EMAILS)), Job.created_at >= order.created_at, wanted)
        .order_by(Job.id)
    ).all()
    events = []
    for job in jobs:
        name = EMAILS[job.kind]
        if job.kind == PAYMENT_WAITING and job.status == DONE:
            events.append(_reminder(order, job))
        elif job.status == DONE:
            events.append(
                Event(
                    job.finished_at or job.created_at,
                    "email",
                    _("Email sent: %(email)s", email=name),
                )
            )
        elif job.status == DEAD:
            gave_up = ngettext(
                "gave up after %(num)d try", "gave up after %(num)d tries", job.attempts
            )
            events.append(
                Event(job.created_at, "email", _("Email not sent: %(email)s", email=name), gave_up)
            )
        else:
            events.append(
                Event(job.created_at, "email", _("Email waiting to be sent: %(email)s", email=name))
            )
    return events


def _reminder(order: Order, job: Job) -> Event:
    """The payment reminder's job ran; its handler sends the email only to an order that
    is still waiting for payment then."""
    finished = as_utc(job.finished_at or job.created_at)
    if order.paid_at and as_utc(order.paid_at) <= finished:
        return Event(
            finished, "email", _("Payment reminder not sent"), _("the order was paid first")
        )
    if order.paid_at or order.status == OrderStatus.PENDING_PAYMENT:
        return Event(
            finished, "email", _("Email sent: %(email)s", email=ORDER_EMAILS[PAYMENT_WAITING])
        )
    return Event(
        finished, "email", _("Payment reminder"), _("sent unless the order had closed by then")
    )


def _audit_entries(order_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .options(joinedload(AuditEntry.actor))
            .where(
                AuditEntry.target_type == "order",
                AuditEntry.target_id == order_id,
                AuditEntry.action.not_in(TOLD_ELSEWHERE),
            )
            .order_by(AuditEntry.id)
        )
    )


def _notes(order_id: int) -> list[OrderNote]:
    return list(
        db.session.scalars(
            select(OrderNote)
            .options(joinedload(OrderNote.author))
            .where(OrderNote.order_id == order_id)
            .order_by(OrderNote.id)
        )
    )
