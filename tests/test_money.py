from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.money import MoneyError, allocate, apply_bps, format_money, parse_major, to_major


def test_formats_with_babel_for_the_currency_and_locale():
    assert format_money(1250, "USD") == "$12.50"
    assert format_money(1250, "EUR", "de_DE") == "12,50\xa0€"
    assert format_money(1250, "JPY") == "¥1,250"
    assert to_major(5, "USD") == Decimal("0.05")


@pytest.mark.parametrize(
    ("text", "cents"), [("12.50", 1250), ("12", 1200), (" 0.05 ", 5), ("100.0", 10000)]
)
def test_parses_major_units_to_cents(text, cents):
    assert parse_major(text, "USD") == cents


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "required"),
        ("abc", "not an amount"),
        ("-1.00", "negative"),
        ("1.005", "at most 2 decimal places"),
        ("NaN", "not an amount"),
        ("Infinity", "not an amount"),
    ],
)
def test_rejects_amounts_that_are_not_money(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_major(text, "USD")


def test_rejects_unknown_currency():
    with pytest.raises(MoneyError, match="ISO 4217"):
        parse_major("1", "XYZ1")


def test_share_in_basis_points_rounds_down():
    assert apply_bps(2400, 1000) == 240
    assert apply_bps(999, 1000) == 99  # 99.9 cents: rounded down
    assert apply_bps(1, 10000) == 1


def test_allocate_uses_largest_remainder_with_a_fixed_tie_break():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [2, 1]) == [7, 3]
    assert allocate(5, [1, 3]) == [1, 4]
    # equal remainders (0.5 each): the larger weight wins the spare cent...
    assert allocate(2, [1, 3]) == [0, 2]
    # ...and between equal weights, the earlier position does
    assert allocate(3, [1, 2, 1, 2]) == [1, 1, 0, 1]
    assert allocate(0, [0, 0]) == [0, 0]


def test_allocate_refuses_what_cannot_be_split():
    with pytest.raises(MoneyError):
        allocate(10, [0, 0])
    with pytest.raises(MoneyError):
        allocate(-1, [1])
    with pytest.raises(MoneyError):
        allocate(10, [1, -1])


weights = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30).filter(
    lambda ws: sum(ws) > 0
)


@given(amount=st.integers(min_value=0, max_value=10**9), weights=weights)
def test_allocate_always_sums_to_the_amount(amount, weights):
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    assert len(parts) == len(weights)
    assert all(p >= 0 for p in parts)


@given(amount=st.integers(min_value=0, max_value=10**9), weights=weights)
def test_allocate_never_gives_a_zero_weight_a_cent(amount, weights):
    parts = allocate(amount, weights)
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


@given(amount=st.integers(min_value=0, max_value=10**6), weights=weights)
def test_allocate_parts_are_within_a_cent_of_the_exact_share(amount, weights):
    total = sum(weights)
    for part, weight in zip(allocate(amount, weights), weights, strict=True):
        exact = Decimal(amount * weight) / total
        assert abs(part - exact) < 1


@given(amount=st.integers(min_value=0, max_value=10**6), weights=weights)
def test_allocate_is_deterministic(amount, weights):
    assert allocate(amount, weights) == allocate(amount, list(weights))
