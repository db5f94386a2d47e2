"""Money as integer minor units (cents) with an ISO currency code.

No floats anywhere: amounts are `int` counts of the currency's minor unit,
parsed from and formatted to major units with `Decimal` and Babel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from functools import cache, lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies
from flask import has_app_context
from flask_babel import gettext as _
from flask_babel import ngettext


class MoneyError(ValueError):
    """An amount or currency that cannot be used as money."""


def as_sentence(problem: object) -> str:
    """A problem worded mid-sentence ("an amount is required") as a sentence beside a
    field: capitalised, with the full stop of the reader's language (Khmer ends a sentence
    with ។, Hindi and Bengali with ।)."""
    text = str(problem)
    return _("%(problem)s.", problem=f"{text[:1].upper()}{text[1:]}")


@cache
def _currencies() -> frozenset[str]:
    # Babel builds a fresh set of every code on each call: once per process is enough.
    return frozenset(list_currencies())


def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code not in _currencies():
        raise MoneyError(_("'%(code)s' is not an ISO 4217 currency code", code=code))
    return code


def minor_digits(currency: str) -> int:
    """How many digits the currency's minor unit has (2 for USD, 0 for JPY)."""
    return get_currency_precision(check_currency(currency))


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-minor_digits(currency))


# A listing formats a price per card; the same few prices, over and over. Babel's
# formatting (parsing the locale and its pattern each time) was an eighth of a listing.
@lru_cache(maxsize=4096)
def format_money(amount: int, currency: str, locale: str = "en_US") -> str:
    """'$12.50' for (1250, 'USD'), formatted by Babel for the locale."""
    code = check_currency(currency)
    return format_currency(to_major(amount, code), code, locale=locale)


def money_text(amount: int, currency: str) -> str:
    """An amount as the store shows money (in the reader's locale), for messages written in code:
    flashes, review notes, command output. A currency no one can format (a gateway's
    report may carry anything) is named in minor units rather than failing."""
    if has_app_context():
        from shop.i18n import locale_code  # the reader's, in a request; else the store's

        locale = locale_code()
    else:
        locale = "en_US"
    try:
        return format_money(amount, currency, locale)
    except (MoneyError, ValueError):
        return _("%(amount)s minor units of %(currency)s", amount=amount,
                 currency=repr(str(currency)[:3]))  # fmt: skip


# The largest amount any form or file may name, in minor units: far above any price,
# refund or withdrawal the store handles, and below the 32-bit integer columns it is
# stored in (line totals multiply it by small quantities, so it stays well clear).
MAX_MINOR_UNITS = 100_000_000
_PLAIN_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)


def parse_major(text: str, currency: str, *, maximum: int = MAX_MINOR_UNITS) -> int:
    """'12.50' in USD -> 1250. Only plain decimals: digits, at most one point and at most
    the currency's minor digits after it. No sign, exponent ('1e3'), NaN, thousands
    separators or non-ASCII digits; at most `maximum` minor units."""
    digits = minor_digits(currency)
    cleaned = (text or "").strip()
    if not cleaned:
        raise MoneyError(_("an amount is required"))
    if cleaned.startswith("-"):
        raise MoneyError(_("an amount cannot be negative"))
    not_plain = _("'%(text)s' is not an amount like 12.50", text=cleaned[:40])
    # One form in English whatever the number; other languages may need two.
    too_precise = ngettext("%(currency)s amounts have at most %(num)d decimal places",
                           "%(currency)s amounts have at most %(num)d decimal places",
                           digits, currency=currency)  # fmt: skip
    minor = _scaled(cleaned, digits, maximum, not_plain, too_precise)
    if minor is None:
        raise MoneyError(
            _("an amount can be at most %(amount)s", amount=money_text(maximum, currency))
        )
    return minor


def parse_percent_bps(text: str) -> int:
    """A share as a percentage ('10', '12.5') -> basis points (1000, 1250), 0 to 100 %."""
    cleaned = (text or "").strip().removesuffix("%").strip()
    message = _("enter a percentage from 0 to 100, with at most two decimals")
    bps = _scaled(cleaned, 2, 10_000, message, message)
    if bps is None:
        raise MoneyError(message)
    return bps


def _scaled(cleaned: str, digits: int, maximum: int, not_plain: str, too_precise: str):
    """A plain decimal scaled by 10**digits as an int; None when above `maximum`."""
    match = _PLAIN_DECIMAL.fullmatch(cleaned)
    if not match:
        raise MoneyError(not_plain)
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > digits:
        raise MoneyError(too_precise)
    if len(whole.lstrip("0")) > len(str(maximum)):
        return None  # never build an int from a thousand digits
    scaled = int(whole + fraction.ljust(digits, "0"))
    return scaled if scaled <= maximum else None


def apply_bps(amount: int, bps: int) -> int:
    """The basis-point share of an amount, rounded down to the minor unit."""
    if amount < 0 or not 0 <= bps <= 10_000:
        raise MoneyError(_("share needs a non-negative amount and 0 to 10000 basis points"))
    return amount * bps // 10_000


def refunded_part(amount: int, refunded: int, total: int) -> int:
    """What a refund of `refunded` out of `total` takes back of `amount` (a line's training
    share): floor(amount x refunded / total), so all of it when all is refunded, never more."""
    if total <= 0 or amount <= 0:
        return 0
    return amount * min(max(refunded, 0), total) // total


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` into parts proportional to `weights`, summing exactly.

    Largest-remainder method: each part first gets the floor of its exact
    share; the cents left over go one each to the largest remainders. Ties go
    to the larger weight, then to the earlier position, so the same input
    always gives the same split. A zero weight never receives anything.
    """
    if amount < 0:
        raise MoneyError(_("cannot allocate a negative amount"))
    if any(w < 0 for w in weights):
        raise MoneyError(_("weights cannot be negative"))
    total = sum(weights)
    if total == 0:
        if amount == 0:
            return [0] * len(weights)
        raise MoneyError(_("cannot allocate an amount over weights that are all zero"))
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    leftover = amount - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts
