"""The withdrawal form's pages about money in another currency: the confirmation a rate
more than 10 % from the last one paid asks for (the store's confirmation pattern,
shop/confirmations.py: a page stating what will be recorded, one button carrying a signed
token used once), and the approval page's facts about the two amounts."""

from __future__ import annotations

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext

from shop.confirmations import (
    FIELD,
    NOT_THIS,
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    refused_page,
    use_confirmation,
)
from shop.i18n import locale_code
from shop.money import money_text
from shop.provenance.models import Trainee
from shop.training.exchange import Exchange, change_percent, parse_rate
from shop.training.models import Withdrawal, WithdrawalPurpose
from shop.training.withdrawals import RateNeedsConfirmation
from shop.unit_of_work import abandon
from shop.web import major

ACTION = "withdrawal.rate"


def _bound(form, trainee_id: int) -> dict:
    """What a rate confirmation states and binds: everything the page shows and the
    withdrawal records (details aside, a free note), as the form sent it."""
    day = form.rate_date.data
    return {"trainee": trainee_id, "currency": form.currency.data, "amount": form.amount.cents,
            "rate": (form.rate.data or "").strip(), "rate_source": (form.rate_source.data or "").strip(),
            "rate_date": day.isoformat() if day else "", "payee": (form.payee.data or "").strip(),
            "purpose": form.purpose.data}  # fmt: skip


def exchange_args(form, trainee_id: int) -> dict:
    """What the withdrawal form says of the currency and rate, as request_withdrawal takes
    it, with the rate the request's confirmation (if it carries one) confirmed. Raises
    ConfirmationRefused when that confirmation is bad, used, or for another request: one
    stated for another trainee, amount, currency, rate source or date, payee or purpose.
    (Another rate is no confirmation of it: request_withdrawal asks again.)"""
    asked = {"currency": form.currency.data, "rate": form.rate.data or "",
             "rate_source": form.rate_source.data or "", "rate_date": form.rate_date.data}  # fmt: skip
    confirmed = None
    if request.form.get(FIELD):
        said = use_confirmation(ACTION, trainee_id).details
        sent = _bound(form, trainee_id)
        if any(said.get(key) != value for key, value in sent.items() if key != "rate"):
            raise ConfirmationRefused(NOT_THIS)
        confirmed = said.get("rate")
    return {**asked, "confirmed_rate": confirmed}


def _rate_text(rate: str, currency: str, local_currency: str) -> str:
    return _("1 %(currency)s = %(rate)s %(local)s", currency=currency, rate=rate,
             local=local_currency)  # fmt: skip


def confirm_rate(trainee: Trainee, form, asked: RateNeedsConfirmation):
    """The page asking staff to confirm a rate that moved more than 10 %: the two rates, the
    amounts, and one button sending the same form again with the confirmation. Writes
    nothing (a confirmation the request carried stays unused)."""
    previous, currency = asked.previous, asked.previous.currency
    local = form.currency.data
    change = change_percent(parse_rate(asked.rate), parse_rate(previous.rate))
    extra = {f.name: f.current_token if f.type == "CSRFTokenField" else
             (f.raw_data[0] if f.raw_data else "") for f in form}  # fmt: skip
    details = _bound(form, trainee.id)
    rate, percent = (
        _rate_text(asked.rate, currency, local),
        format_decimal(abs(change), locale=locale_code()),
    )
    question = (
        _(
            "Record this withdrawal at %(rate)s, %(percent)s %% above the last rate?",
            rate=rate,
            percent=percent,
        )
        if change > 0
        else _(
            "Record this withdrawal at %(rate)s, %(percent)s %% below the last rate?",
            rate=rate,
            percent=percent,
        )
    )
    page = confirm_page(
        area="staff",
        question=question,
        yes=_("Yes, the rate is right: request the withdrawal"),
        action_url=url_for("staff.request_withdrawal", trainee_id=trainee.id),
        back_url=url_for("staff.trainee", trainee_id=trainee.id),
        token=confirmation_token(ACTION, trainee.id, asked.converted, details),
        facts=[
            (_("Amount paid"), money_text(form.amount.cents, local)),
            (
                _("Rate typed"),
                _(
                    "%(rate)s (%(source)s, %(day)s)",
                    rate=_rate_text(asked.rate, currency, local),
                    source=details["rate_source"],
                    day=_shown_day(form.rate_date.data),
                ),
            ),
            (_("Paid to"), details["payee"]),
            (_("Purpose"), WithdrawalPurpose(form.purpose.data).shown),
            (
                _("Last rate paid"),
                _(
                    "%(rate)s (%(source)s, %(day)s)",
                    rate=_rate_text(previous.rate, currency, local),
                    source=previous.rate_source,
                    day=_day(previous),
                ),
            ),
            (_("Charged to the account"), money_text(asked.converted, currency)),
        ],
        notes=[
            _(
                "Check the rate against its source: a mistyped rate charges the trainee's "
                "account the wrong amount. Nothing is recorded until you confirm."
            )
        ],
        extra=extra,
    )
    abandon()  # rendered first: the rollback expires what the page reads
    return page


def _shown_day(day) -> str:
    return format_date(day, "d MMM y", locale=locale_code()) if day else ""


def _day(w: Withdrawal) -> str:
    return _shown_day(w.rate_date)


def exchange_facts(w: Withdrawal) -> list[tuple[str, str]]:
    """The approval page's facts about a withdrawal paid in another currency (none else)."""
    x = w.exchange
    if x is None:
        return []
    return [
        (_("Paid to the institution"), money_text(x.local_amount, x.local_currency)),
        (_("Exchange rate"), _("%(rate)s (%(source)s, %(day)s)",
                               rate=_rate_text(x.rate, x.currency, x.local_currency),
                               source=x.rate_source, day=_day(w))),
        (_("Charged to the account"), money_text(x.amount, x.currency)),
    ]  # fmt: skip


def refused(exc: ConfirmationRefused, trainee: Trainee):
    """The answer to a rate confirmation that cannot be used: nothing was written."""
    back = url_for("staff.trainee", trainee_id=trainee.id)
    return refused_page(exc, area="staff", back_url=back, back_label=_("Back to the trainee"))


def audit_of(w: Withdrawal) -> dict:
    """What the audit log keeps of a withdrawal's other currency, if it has one."""
    if w.rate is None:
        return {}
    return {"local_amount": w.local_amount, "local_currency": w.local_currency, "rate": w.rate,
            "rate_source": w.rate_source, "rate_date": w.rate_date.isoformat()}  # fmt: skip


def csv_columns() -> list[str]:
    """The statement CSV's columns about a withdrawal paid in another currency."""
    return [
        pgettext("CSV column", "local_currency"), pgettext("CSV column", "local_amount"),
        pgettext("CSV column", "rate"), pgettext("CSV column", "rate_source"),
        pgettext("CSV column", "rate_date"),
    ]  # fmt: skip


def csv_cells(x: Exchange | None) -> list[str]:
    """Those columns' cells: plain numbers and ISO dates; empty but for such a withdrawal."""
    if x is None:
        return ["", "", "", "", ""]
    return [x.local_currency, major(x.local_amount, x.local_currency), x.rate, x.rate_source,
            x.rate_date.isoformat()]  # fmt: skip


def exchange_note(w: Withdrawal) -> str:
    """The approval page's note for a withdrawal paid in another currency."""
    return _(
        "The payout is posted to the ledger at once, as %(amount)s, and cannot be undone but "
        "by a correction; pay the school or supplier %(local)s.",
        amount=money_text(w.amount, w.currency),
        local=money_text(w.local_amount, w.local_currency),
    )
