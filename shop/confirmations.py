"""Confirming before money moves: a page that says what will happen, then one press.

Refunding, cancelling an order, paying a withdrawal, posting a correction and removing
an image first show a confirmation page that states exactly what will happen ("Refund
$5.00 on MK-TVG7C5M7 through Stripe?"). Its button carries a token signed with the
app's secret (itsdangerous) that names who may use it, the action, its target, the
amount shown and what was asked (a refund's lines), for LIFETIME. The action refuses a
request without a valid token, and uses the token up in its own transaction: a row
keyed on the token's nonce, unique, so a second press of the button (or two at once,
on another connection) finds it taken and acts no more; a rolled-back action leaves it
unused. The token rides in the form's body, never in an address or a log line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import DateTime, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from shop import jobs
from shop.extensions import db
from shop.timeutil import utcnow
from shop.unit_of_work import abandon

# Long enough to read the page and check the figures; short enough that a page left
# open on a shared screen cannot be used much later.
LIFETIME = timedelta(minutes=10)
FIELD = "confirmation"  # the form field that carries the token
SALT = "shop.confirmations"  # a token signed for anything else never reads as one of these

# Worded when a refusal is shown, in the reader's language (str() of the exception).
MISSING = _l(
    "This needs its confirmation page first: nothing was changed. "
    "Use the button on the page again, then confirm."
)
EXPIRED = lazy_ngettext(
    "The confirmation page was open longer than %(num)d minute: nothing was changed. "
    "Please start again.",
    "The confirmation page was open longer than %(num)d minutes: nothing was changed. "
    "Please start again.",
    int(LIFETIME.total_seconds() // 60),
)
NOT_THIS = _l("That confirmation was made for something else: nothing was changed.")
USED = _l("This confirmation was already used (the button was pressed twice?): it acted once only.")


class ConfirmationRefused(Exception):
    """A request that did not come through its confirmation step; nothing was changed.
    `used`: its confirmation had acted before (a second press), so the caller may show
    what that first press did."""

    def __init__(self, message: str, *, used: bool = False):
        super().__init__(message)
        self.used = used


@dataclass(frozen=True)
class Confirmation:
    """What the person confirmed, as the confirmation page stated it."""

    action: str
    target: int
    amount: int
    nonce: str
    details: dict = field(default_factory=dict)


class UsedConfirmation(db.Model):
    """A confirmation token that acted. Rows older than LIFETIME name tokens that are
    refused anyway (expired), so the worker deletes them (`forget_used`)."""

    __tablename__ = "used_confirmations"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    action: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def confirmation_token(action: str, target: int, amount: int, details: dict | None = None) -> str:
    """A token for the signed-in person to do `action` on `target` for `amount` (minor
    units; 0 when no money moves), as the confirmation page about to show it says."""
    payload = {
        "u": current_user.id, "a": action, "t": target, "m": amount,
        "d": details or {}, "n": secrets.token_hex(16),
    }  # fmt: skip
    return _serializer().dumps(payload)


def read_confirmation(action: str, target: int, token: str | None) -> Confirmation:
    """The confirmation `token` states, when it is this person's for `action` on
    `target` and still fresh; raises ConfirmationRefused otherwise. Uses nothing up."""
    if not token:
        raise ConfirmationRefused(MISSING)
    try:
        payload = _serializer().loads(token, max_age=int(LIFETIME.total_seconds()))
    except SignatureExpired:
        raise ConfirmationRefused(EXPIRED) from None
    except BadSignature:  # altered, or signed with another secret: as if there were none
        raise ConfirmationRefused(MISSING) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise ConfirmationRefused(MISSING)
    if (payload.get("u"), payload.get("a"), payload.get("t")) != (current_user.id, action, target):
        raise ConfirmationRefused(NOT_THIS)
    return Confirmation(action=action, target=target, amount=int(payload.get("m") or 0),
                        nonce=payload["n"], details=payload.get("d") or {})  # fmt: skip


def use_confirmation(action: str, target: int) -> Confirmation:
    """The request's confirmation of `action` on `target`, checked and used up in this
    transaction (flushed, never committed). Raises ConfirmationRefused, having written
    nothing, when it is missing, altered, expired, someone else's or used before."""
    confirmation = read_confirmation(action, target, request.form.get(FIELD))
    try:
        # A savepoint: the refusal leaves the rest of the transaction usable. On
        # PostgreSQL a second press racing the first waits here for the first to
        # commit, then finds the row taken.
        with db.session.begin_nested():
            db.session.add(UsedConfirmation(nonce=confirmation.nonce, action=action[:40]))
            db.session.flush()
    except IntegrityError:
        raise ConfirmationRefused(USED, used=True) from None
    return confirmation


# --- Pages --------------------------------------------------------------------------


def confirm_page(
    *, area: str, question: str, yes: str, action_url: str, back_url: str, token: str,
    facts: list[tuple[str, str]] | None = None, notes: list[str] | None = None,
    extra: dict[str, str] | None = None, figure=None,
):  # fmt: skip
    """The confirmation page of the back office `area` ("admin" or "staff"): the question
    saying exactly what will happen (text, or Markup built with Markup.format), its facts, and one button posting `token` (with
    the `extra` fields) to `action_url`, and the product image `figure` it is about, if
    any. Writes nothing; works without script."""
    return render_template(
        "confirm.html", area=area, question=question, yes=yes, action_url=action_url,
        back_url=back_url, token=token, field_name=FIELD, facts=facts or [], notes=notes or [],
        extra=extra or {}, figure=figure, minutes=int(LIFETIME.total_seconds() // 60),
    )  # fmt: skip


def refused_page(exc: ConfirmationRefused, *, area: str, back_url: str, back_label: str):
    """The answer to an action refused for its confirmation: the reason, a way back, and
    nothing written (409 for a second press, whose first acted; else 400)."""
    abandon()
    page = render_template(
        "confirm_refused.html", area=area, message=str(exc), used=exc.used, back_url=back_url,
        back_label=back_label,
    )  # fmt: skip
    return page, 409 if exc.used else 400


def forget_used(now: datetime | None = None) -> int:
    """Delete the rows of tokens that could no longer be used anyway (expired)."""
    cutoff = (now or utcnow()) - LIFETIME - timedelta(minutes=1)
    result = db.session.execute(
        delete(UsedConfirmation)
        .where(UsedConfirmation.used_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


jobs.periodic("forget_used_confirmations", forget_used)
