"""A back-office list's search, filters and sort, read from the query string.

A value the list cannot use (a status it does not know, a date that is not a date, a
sort it cannot do) is named in a message beside its field, and the list is not shown:
an unknown filter silently dropped would be read as applied (the person would think
they were looking at one day's orders), and a bad value must never reach the database
as a 500. Each list says what its fields may hold; this module only reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

SEARCH_MAX = 100  # longer than any order number, email or name a person would type
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass
class ListArgs:
    """Reads one list's arguments; what could not be read lands in `problems`, as
    (field name, message), so the page can tie each message to its field."""

    args: MultiDict
    problems: list[tuple[str, str]] = field(default_factory=list)
    # What was read, by field name, for links that keep the list as it is (pages, CSV).
    kept: dict[str, str] = field(default_factory=dict)

    def search(self, name: str = "q", label: str | None = None) -> str:
        label = label or _("Search")
        text = " ".join((self.args.get(name) or "").split())
        if len(text) > SEARCH_MAX:
            self.problems.append(
                (
                    name,
                    _(
                        "%(label)s: type at most %(count)d characters.",
                        label=label,
                        count=SEARCH_MAX,
                    ),
                )
            )
            return ""
        if text:
            self.kept[name] = text
        return text

    def choice(self, name: str, label: str, allowed: dict[str, str]) -> str | None:
        """One of `allowed` (value -> what people read), or None for "any"."""
        value = self.args.get(name) or ""
        if not value:
            return None
        if value not in allowed:
            choices = ", ".join(allowed.values())
            self.problems.append((name, _(
                "%(label)s: there is no such choice; choose one of %(choices)s.",
                label=label, choices=choices,
            )))  # fmt: skip
            return None
        self.kept[name] = value
        return value

    def day(self, name: str, label: str) -> date | None:
        value = (self.args.get(name) or "").strip()
        if not value:
            return None
        try:
            if not _DAY.fullmatch(value):
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            self.problems.append(
                (name, _("%(label)s: enter a date like 2026-03-01 (year-month-day).", label=label))
            )
            return None
        self.kept[name] = value
        return day

    def day_range(
        self, start: str, end: str, labels: tuple[str, str]
    ) -> tuple[date | None, date | None]:
        first, last = self.day(start, labels[0]), self.day(end, labels[1])
        if first and last and first > last:
            self.problems.append((end, _(
                "%(last)s: the date is before %(first)s.", last=labels[1], first=str(labels[0]).lower()
            )))  # fmt: skip
            return None, None
        return first, last

    def message_for(self, name: str) -> str:
        return " ".join(message for field_name, message in self.problems if field_name == name)


def day_starts(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The moments a range of whole days (UTC, as the store keeps time) begins and ends:
    from the start of `first` up to, not including, the start of the day after `last`."""
    begin = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    end = None
    if last and last < date.max:  # the last day there is has no day after it: no end
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return begin, end
