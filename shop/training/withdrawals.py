"""Withdrawals: one staff member requests a payout to a school or supplier, another
approves it (the transfer is posted then) or rejects it. Flushes, never commits."""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from shop.accounts.models import User
from shop.extensions import db
from shop.money import money_text
from shop.provenance.models import Trainee
from shop.training import exchange, four_eyes, memos
from shop.training.accounts import WITHDRAWALS, TrainingError, trainee_account
from shop.training.models import (
    TransferKind,
    Withdrawal,
    WithdrawalPurpose,
    WithdrawalStatus,
)


class RateNeedsConfirmation(TrainingError):
    """The typed rate is more than 10 % from the last one paid in its currency (previous_rate):
    nothing is written until staff confirm it (shop/training/rate_confirmation.py)."""

    def __init__(self, message: str, *, rate: str, previous: Withdrawal, converted: int):
        super().__init__(message, "rate")
        self.rate, self.previous, self.converted = rate, previous, converted


def pending_withdrawals(account_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
            Withdrawal.account_id == account_id, Withdrawal.status == WithdrawalStatus.REQUESTED
        )
    )


def withdrawal_currencies(account_currency: str) -> list[str]:
    """The currencies a withdrawal may be paid in: the account's, then WITHDRAWAL_CURRENCIES."""
    listed = str(current_app.config.get("WITHDRAWAL_CURRENCIES") or "").upper().split(",")
    return list(dict.fromkeys([account_currency, *(c.strip() for c in listed if c.strip())]))


def previous_rate(local_currency: str, currency: str) -> Withdrawal | None:
    """The rate a new one is compared with: the latest APPROVED withdrawal's, any trainee's,
    at a rate from `currency` to `local_currency`, latest by the rate's date, then by id.
    Only a paid rate counts: one still waiting for approval may be mistyped (and would make
    the right rate look wrong), a rejected one may have been turned down for its rate."""
    return db.session.scalars(
        select(Withdrawal)
        .where(
            Withdrawal.local_currency == local_currency,
            Withdrawal.currency == currency,
            Withdrawal.rate.is_not(None),
            Withdrawal.status == WithdrawalStatus.APPROVED,
        )
        .order_by(Withdrawal.rate_date.desc(), Withdrawal.id.desc())
        .limit(1)
    ).first()


def request_withdrawal(
    *, trainee_id: int, amount: int, purpose: WithdrawalPurpose, payee: str, details: str,
    requested_by: User, currency: str | None = None, rate: str | None = None,
    rate_source: str | None = None, rate_date: date | None = None,
    confirmed_rate: str | None = None,
) -> Withdrawal:  # fmt: skip
    """Ask for `amount` (minor units of `currency`, the account's when None) to be paid to
    `payee`. In another currency, at `rate` (local units for one unit of the account's
    currency, as typed) from `rate_source` on `rate_date`: the ledger will post the
    converted amount (shop/training/exchange.py). A rate more than 10 % from the last one
    paid in its currency (previous_rate) raises RateNeedsConfirmation unless `confirmed_rate` is that rate."""
    payee = payee.strip()
    if amount <= 0:
        raise TrainingError(_("The amount must be more than zero."), "amount")
    if not payee:
        raise TrainingError(_("Say which school, institution or supplier is paid."), "payee")
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None:
        raise TrainingError(_("There is no such trainee."))
    account = trainee_account(trainee_id, lock=True)
    local_currency = (currency or account.currency).strip().upper()
    if local_currency not in withdrawal_currencies(account.currency):
        raise TrainingError(_("Choose one of the currencies listed."), "currency")
    source = (rate_source or "").strip()
    if local_currency == account.currency:
        if (rate or "").strip() or source or rate_date:
            raise TrainingError(
                _("A withdrawal in %(currency)s needs no exchange rate: leave the rate, its "
                  "source and its date empty.", currency=account.currency),
                "rate",
            )  # fmt: skip
        exact, converted = None, amount
    else:
        exact = _checked_rate(amount, rate, source, rate_date)
        converted = exchange.converted_amount(amount, local_currency, exact, account.currency)
    available = account.balance - pending_withdrawals(account.id)
    if converted > available:
        raise TrainingError(_balance_message(converted, account.currency, exact), "amount")
    if exact is not None:
        _confirmed_if_moved(rate.strip(), exact, local_currency, account.currency, converted,
                            confirmed_rate)  # fmt: skip
    withdrawal = Withdrawal(
        trainee_id=trainee_id, account_id=account.id, amount=converted, currency=account.currency,
        local_currency=local_currency, local_amount=amount,
        rate=rate.strip() if exact is not None else None,
        rate_source=source[:200] if exact is not None else None,
        rate_date=rate_date if exact is not None else None,
        purpose=purpose, payee=payee[:200], details=details.strip(), requested_by_id=requested_by.id,
    )  # fmt: skip
    db.session.add(withdrawal)
    db.session.flush()
    return withdrawal


def _checked_rate(amount: int, rate: str | None, source: str, rate_date: date | None):
    if amount > exchange.MAX_LOCAL_MINOR_UNITS:
        raise TrainingError(_("The amount is too large for a withdrawal."), "amount")
    exact = exchange.parse_rate(rate)
    if not source:
        raise TrainingError(
            _("Say where the rate comes from, like the bank and its board rate."), "rate_source"
        )
    if len(source) > 200:
        raise TrainingError(_("The rate's source is at most 200 characters."), "rate_source")
    if rate_date is None:
        raise TrainingError(_("Enter the rate's date, like 2026-11-30."), "rate_date")
    if rate_date > exchange.latest_rate_day():
        raise TrainingError(_("The rate's date cannot be in the future."), "rate_date")
    if rate_date < exchange.earliest_rate_day():
        raise TrainingError(
            ngettext("A rate more than %(num)d day old is not today's rate: enter the rate of "
                     "the day you pay, with its date.",
                     "A rate more than %(num)d days old is not today's rate: enter the rate of "
                     "the day you pay, with its date.", exchange.MAX_RATE_AGE_DAYS),
            "rate_date",
        )  # fmt: skip
    return exact


def _balance_message(converted: int, currency: str, rate) -> str:
    if rate is None:
        return _(
            "The amount is more than the balance still available "
            "(the balance less withdrawals waiting for approval)."
        )
    return _(
        "At this rate the amount is %(converted)s, more than the balance still available "
        "(the balance less withdrawals waiting for approval).",
        converted=money_text(converted, currency),
    )


def _confirmed_if_moved(
    typed: str, rate, local_currency: str, currency: str, converted: int, confirmed: str | None
) -> None:
    previous = previous_rate(local_currency, currency)
    if previous is None:  # the first rate for this currency: nothing to compare it with
        return
    before = exchange.parse_rate(previous.rate)
    if not exchange.moved_too_far(rate, before):
        return
    if confirmed is not None and confirmed.strip() == typed:
        return
    raise RateNeedsConfirmation(
        _("This rate differs by more than 10 %% from the last one recorded for %(local)s "
          "(1 %(currency)s = %(rate)s %(local)s): confirm it first.",
          local=local_currency, currency=currency, rate=previous.rate),
        rate=typed, previous=previous, converted=converted,
    )  # fmt: skip


def _pending_withdrawal(withdrawal_id: int) -> Withdrawal:
    return four_eyes.lock_pending(
        Withdrawal, withdrawal_id, "withdrawal", WithdrawalStatus.REQUESTED
    )


def approve_withdrawal(withdrawal_id: int, approver: User) -> Withdrawal:
    """Post the payout. Two approvals racing for one balance: the second is refused."""
    withdrawal = _pending_withdrawal(withdrawal_id)
    four_eyes.refuse_own(withdrawal, approver, "requested", "withdrawal", "approve")
    four_eyes.approve(
        withdrawal, approver, system_code=WITHDRAWALS, into_trainee=False,
        amount=withdrawal.amount, kind=TransferKind.WITHDRAWAL, key=f"withdrawal:{withdrawal.id}",
        cause_type="withdrawal", memo=memos.withdrawal(withdrawal.purpose, withdrawal.payee),
        too_low=_("The balance is now lower than this withdrawal, so nothing was paid. "
                  "Reject it, or wait for more sales."),
        approved=WithdrawalStatus.APPROVED,
    )  # fmt: skip
    return withdrawal


def reject_withdrawal(withdrawal_id: int, decider: User, note: str) -> Withdrawal:
    withdrawal = _pending_withdrawal(withdrawal_id)
    four_eyes.refuse_own(withdrawal, decider, "requested", "withdrawal", "decide")
    four_eyes.reject(withdrawal, decider, note, "withdrawal", WithdrawalStatus.REJECTED)
    return withdrawal
