"""Internal notes on an order: what the back office wants its colleagues to know (a
call with the buyer, a parcel re-sent). Never shown to the buyer: only the admin order
page reads them, and no email or buyer's page loads them. Only ever added, never edited."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import DateTime, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.accounts.models import User
from shop.audit.services import record
from shop.extensions import db
from shop.orders.models import Order
from shop.timeutil import utcnow

NOTE_MAX = 2000


class NoteRefused(ValueError):
    pass


class OrderNote(db.Model):
    __tablename__ = "order_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    author: Mapped[User | None] = relationship()


def add_note(order: Order, body: str, author: User) -> OrderNote:
    """Add a note, and say in the audit log that one was added (its text stays in the
    note: the log is append-only, and a note may name a buyer's circumstances)."""
    text = (body or "").strip()
    if not text:
        raise NoteRefused(_("Write the note first."))
    if len(text) > NOTE_MAX:
        raise NoteRefused(
            _(
                "A note is at most %(most)s characters; this one has %(length)s. "
                "Shorten it, or add it as two notes.",
                most=f"{NOTE_MAX:,}",
                length=f"{len(text):,}",
            )
        )
    note = OrderNote(order_id=order.id, author_id=author.id, body=text)
    db.session.add(note)
    db.session.flush()
    record("order.note", "order", order.id, summary=f"Internal note added to order {order.number}",
           after={"note": note.id})  # fmt: skip
    return note
