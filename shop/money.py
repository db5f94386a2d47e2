"""Money as integer minor units (cents) with an ISO currency code.

No floats anywhere: amounts are `int` counts of the currency's minor unit,
parsed from and formatted to major units with `Decimal` and Babel.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies


class MoneyError(ValueError):
    """An amount or currency that cannot be used as money."""


def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code not in list_currencies():
        raise MoneyError(f"'{code}' is not an ISO 4217 currency code")
    return code


def minor_digits(currency: str) -> int:
    """How many digits the currency's minor unit has (2 for USD, 0 for JPY)."""
    return get_currency_precision(check_currency(currency))


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-minor_digits(currency))


def format_money(amount: int, currency: str, locale: str = "en_US") -> str:
    """'$12.50' for (1250, 'USD'), formatted by Babel for the locale."""
    return format_currency(to_major(amount, currency), currency, locale=locale)


def parse_major(text: str, currency: str) -> int:
    """'12.50' in USD -> 1250. Rejects negatives, blanks and extra decimals."""
    digits = minor_digits(currency)
    cleaned = (text or "").strip()
    if not cleaned:
        raise MoneyError("an amount is required")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"'{cleaned}' is not an amount like 12.50") from None
    if not value.is_finite():
        raise MoneyError(f"'{cleaned}' is not an amount like 12.50")
    if value < 0:
        raise MoneyError("an amount cannot be negative")
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise MoneyError(f"{currency} amounts have at most {digits} decimal places")
    return int(minor)


def apply_bps(amount: int, bps: int) -> int:
    """The basis-point share of an amount, rounded down to the minor unit."""
    if amount < 0 or not 0 <= bps <= 10_000:
        raise MoneyError("share needs a non-negative amount and 0 to 10000 basis points")
    return amount * bps // 10_000


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` into parts proportional to `weights`, summing exactly.

    Largest-remainder method: each part first gets the floor of its exact
    share; the cents left over go one each to the largest remainders. Ties go
    to the larger weight, then to the earlier position, so the same input
    always gives the same split. A zero weight never receives anything.
    """
    if amount < 0:
        raise MoneyError("cannot allocate a negative amount")
    if any(w < 0 for w in weights):
        raise MoneyError("weights cannot be negative")
    total = sum(weights)
    if total == 0:
        if amount == 0:
            return [0] * len(weights)
        raise MoneyError("cannot allocate an amount over weights that are all zero")
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    leftover = amount - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts
