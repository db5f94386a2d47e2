"""Time helpers: timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return utcnow().date()


def month_start(value: date) -> date:
    return value.replace(day=1)
