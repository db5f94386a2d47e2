"""A fingerprint of the whole store, to prove that a refused request changed nothing.

It is read from the schema, not from a list kept by hand, so tables and columns added
later are covered too: the row count of every table, and the sum of every whole-number
column but the primary key (money in minor units, stock, reserved and allocated units,
ledger totals, shares, which workshop a product names) and a checksum of every state
column (an order's status, a withdrawal's), all in one SELECT.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Enum, Integer, SmallInteger, case, func, literal, select

from shop.extensions import db

# Counters a refusal is meant to move (none yet): "table.column" names, with the reason.
MAY_CHANGE_WHEN_REFUSED: dict[str, str] = {}


def _measures():
    for table in db.metadata.sorted_tables:
        yield f"{table.name}:rows", select(func.count()).select_from(table)
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if name in MAY_CHANGE_WHEN_REFUSED or column.primary_key:
                continue
            if isinstance(column.type, Integer | BigInteger | SmallInteger):
                yield name, select(func.coalesce(func.sum(column), 0))
            elif isinstance(column.type, Enum) and column.type.enums:
                # each state its own weight, so a row moving between states shows
                weights = {value: 1 + 7**i for i, value in enumerate(column.type.enums)}
                yield name, select(func.coalesce(func.sum(case(weights, value=column, else_=0)), 0))


def store_state() -> dict[str, int]:
    """{"orders:rows": 3, "variants.stock": 17, ...} for the database as it is now."""
    measures = list(_measures())
    row = db.session.execute(
        select(*(query.scalar_subquery().label(f"m{i}") for i, (_, query) in enumerate(measures)))
        if measures
        else select(literal(0))
    ).one()
    return {name: int(value or 0) for (name, _), value in zip(measures, row, strict=True)}


def changes(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()
            if before.get(k) != after.get(k)}  # fmt: skip
