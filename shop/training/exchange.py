"""Withdrawals paid in the institution's currency (riel, rupees): the one place a local
amount becomes an amount in the trainee's account's currency.

The rate, as a bank's board shows it: "1 USD = 4,100 KHR", that is how many units of the
local currency one unit of the account's currency buys. Staff type the number on the
right (4100, 83.25) as a plain positive decimal; the text is kept exactly as typed (a
string, never a float) and read as an exact Decimal.

The rule: the account is charged floor(local amount / rate), in the account's minor
units (cents). Why down, and why this never creates money:

- The local amount is what the school or supplier is paid, exactly, and the converted
  amount is the ledger's record of what that payment is worth. Rounding down posts at
  most the exact value (less by under one cent): the payout account never records more
  than left the store, and the trainee is never charged for money that did not go to her
  school. Rounding up would take up to a cent from her for nothing.
- Within the ledger the transfer moves the same whole number of cents from her account
  to the payout account (debits equal credits, `ledger verify` stays clean), and it is
  checked against her available balance, so it never posts more than her account holds.
  The fraction of a cent the rounding leaves is the store's to bear, never a trainee's.
- A conversion that rounds to nothing (a few riel) is refused: a payout of 0 cents would
  pay a school while the ledger records nothing.

Nothing here reads the database; the rules that do (which currencies, the balance, the
rate that moved more than 10 %) are shop.training.withdrawals'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from flask_babel import gettext as _

from shop.money import minor_digits
from shop.timeutil import utcnow
from shop.training.accounts import TrainingError

# The largest local amount a withdrawal may name, in minor units: a school fee in riel is
# hundreds of millions of minor units (4,100,000.00 KHR is 410,000,000), so local amounts
# have their own bound, far above any fee and far below the 64-bit column they fill.
MAX_LOCAL_MINOR_UNITS = 10**15
# A rate: at most 12 digits before the point and 10 after ("4100", "83.25", "0.000244").
_RATE = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,10}))?", re.ASCII)
# A rate further than this from the last one paid in its currency asks to be confirmed.
CONFIRM_ABOVE = Fraction(1, 10)
# The oldest a rate may be, in days before today: a withdrawal is paid at the day's rate,
# and a rate dated months back (or mistyped as 1900) is no rate of the day it is paid.
MAX_RATE_AGE_DAYS = 90


@dataclass(frozen=True)
class Exchange:
    """A withdrawal's two amounts as the pages and the statement show them: `local_amount`
    in `local_currency` paid at `rate` (as typed) from `rate_source` on `rate_date`, and
    `amount` in the account's `currency`, what the ledger posts."""

    local_amount: int
    local_currency: str
    rate: str
    rate_source: str
    rate_date: date
    amount: int
    currency: str


def parse_rate(text: str | None) -> Decimal:
    """The typed rate as an exact positive Decimal; TrainingError (for the field "rate")
    when it is missing, not a plain number, or zero."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise TrainingError(_("Enter the exchange rate, like 4100 or 83.25."), "rate")
    if not _RATE.fullmatch(cleaned):
        raise TrainingError(
            _("Type the exchange rate as a plain number, like 4100 or 83.25: digits and at "
              "most one point, no commas, at most 12 digits before the point and 10 after."),
            "rate",
        )  # fmt: skip
    rate = Decimal(cleaned)
    if rate <= 0:
        raise TrainingError(_("The exchange rate must be more than zero."), "rate")
    return rate


def convert(local_amount: int, local_currency: str, rate: Decimal, currency: str) -> int:
    """`local_amount` (minor units of `local_currency`) in minor units of `currency` at
    `rate` (local units for one unit of `currency`), rounded down: exact integer
    arithmetic on the rate's fraction, no Decimal context to round it on the way."""
    if local_amount <= 0 or rate <= 0:
        raise ValueError("a conversion needs a positive amount and a positive rate")
    numerator, denominator = rate.as_integer_ratio()
    scale_up, scale_down = 10 ** minor_digits(currency), 10 ** minor_digits(local_currency)
    return (local_amount * scale_up * denominator) // (scale_down * numerator)


def converted_amount(local_amount: int, local_currency: str, rate: Decimal, currency: str) -> int:
    """convert(), refusing (for the field "amount") a conversion that rounds to nothing."""
    converted = convert(local_amount, local_currency, rate, currency)
    if converted <= 0:
        raise TrainingError(
            _("At this rate the amount is worth less than the smallest amount the account "
              "can pay (one cent): enter a larger amount."),
            "amount",
        )  # fmt: skip
    return converted


def latest_rate_day() -> date:
    """The latest date a rate may bear: today wherever on Earth the day started first
    (UTC+14), so a rate read this morning in Phnom Penh or Kolkata is never 'future'
    while it is still yesterday in UTC."""
    return (utcnow() + timedelta(hours=14)).date()


def earliest_rate_day() -> date:
    """The earliest date a rate may bear: MAX_RATE_AGE_DAYS before today (UTC; east of it,
    where the store's staff are, the day started earlier, so the limit is a little kinder)."""
    return utcnow().date() - timedelta(days=MAX_RATE_AGE_DAYS)


def moved_too_far(rate: Decimal, previous: Decimal) -> bool:
    """Whether `rate` differs from `previous` by more than CONFIRM_ABOVE of `previous`."""
    change = abs(Fraction(rate) - Fraction(previous))
    return change > CONFIRM_ABOVE * Fraction(previous)


def change_percent(rate: Decimal, previous: Decimal) -> Decimal:
    """How far `rate` is from `previous`, in percent of `previous` (signed, 1 decimal)."""
    change = (Fraction(rate) - Fraction(previous)) / Fraction(previous) * 100
    return (Decimal(change.numerator) / Decimal(change.denominator)).quantize(Decimal("0.1"))
