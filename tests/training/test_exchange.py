"""The conversion rule of withdrawals paid in another currency (shop/training/exchange.py):
floor(local / rate) in the account's cents, exact, never above the exact value."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.training.accounts import TrainingError
from shop.training.exchange import (
    MAX_LOCAL_MINOR_UNITS,
    change_percent,
    convert,
    converted_amount,
    moved_too_far,
    parse_rate,
)

# Rates as staff type them: up to 12 digits before the point and 10 after.
rates = st.builds(
    lambda whole, fraction, places: (
        f"{whole}.{str(fraction).zfill(places)[:places]}" if places else str(whole)
    ),
    st.integers(0, 10**12 - 1),
    st.integers(0, 10**10 - 1),
    st.integers(0, 10),
).filter(lambda text: Decimal(text) > 0)


@given(local=st.integers(1, MAX_LOCAL_MINOR_UNITS), text=rates)
def test_the_converted_amount_is_the_exact_value_rounded_down(local, text):
    rate = parse_rate(text)
    exact = Fraction(local, 100) / Fraction(text) * 100  # KHR and USD: two minor digits each
    got = convert(local, "KHR", rate, "USD")
    assert got <= exact < got + 1  # within one cent, never above
    if got > 0:
        assert converted_amount(local, "KHR", rate, "USD") == got
    else:
        with pytest.raises(TrainingError) as refused:
            converted_amount(local, "KHR", rate, "USD")
        assert refused.value.field == "amount"


@given(local=st.integers(1, 10**12), text=rates)
def test_a_currency_without_minor_units_converts_by_the_same_rule(local, text):
    exact = Fraction(local) / Fraction(text) * 100  # JPY has no minor unit
    got = convert(local, "JPY", parse_rate(text), "USD")
    assert got <= exact < got + 1


def test_the_worked_examples():
    # ₹10,000 at 1 USD = 83.25 INR: 10,000 / 83.25 = 120.1201… USD, so 120.12.
    assert convert(1_000_000, "INR", Decimal("83.25"), "USD") == 12012
    # 4,100,000 riel at 4,100 is exactly 1,000 USD; at 4,105.5 it is 998.66…: 998.66.
    assert convert(410_000_000, "KHR", Decimal("4100"), "USD") == 100_000
    assert convert(410_000_000, "KHR", Decimal("4105.5"), "USD") == 99_866
    # 40 riel is less than a cent.
    with pytest.raises(TrainingError, match="less than the smallest amount"):
        converted_amount(4_000, "KHR", Decimal("4100"), "USD")


@pytest.mark.parametrize(
    "typed", ["", "  ", "0", "0.0", "-5", "abc", "4,100", "1e3", "4100.", ".5", "NaN",
              "1234567890123", "1.12345678901", "٤١٠٠"],
)  # fmt: skip
def test_a_rate_that_is_no_plain_positive_number_is_refused(typed):
    with pytest.raises(TrainingError) as refused:
        parse_rate(typed)
    assert refused.value.field == "rate"


def test_a_rate_is_read_exactly_as_typed():
    assert parse_rate(" 83.25 ") == Decimal("83.25")
    assert parse_rate("0.0002439") == Decimal("0.0002439")
    assert parse_rate("123456789012.1234567890") == Decimal("123456789012.1234567890")


@pytest.mark.parametrize(
    ("rate", "asks"),
    [("4360", False), ("4440", True), ("3640", False), ("3560", True), ("4400", False),
     ("3600", False), ("4400.0001", True), ("3599.9999", True)],
)  # fmt: skip
def test_a_rate_more_than_ten_percent_from_the_last_asks(rate, asks):
    assert moved_too_far(Decimal(rate), Decimal("4000")) is asks


def test_the_change_is_said_in_percent():
    assert change_percent(Decimal("4440"), Decimal("4000")) == Decimal("11.0")
    assert change_percent(Decimal("3560"), Decimal("4000")) == Decimal("-11.0")
