"""Time helpers: timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime:
    """A stored moment, timezone-aware (SQLite gives back naive datetimes; the store
    writes UTC). None, a row not flushed yet, is now."""
    if moment is None:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def today() -> date:
    return utcnow().date()


def month_start(value: date) -> date:
    return value.replace(day=1)
