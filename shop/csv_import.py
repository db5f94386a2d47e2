"""All-or-nothing CSV imports.

An importer declares its columns, how to parse one row, what to check across
rows and against the database, and how to write. `validate` reads the whole
file and collects every problem with its row number and column; only when there
is none does the caller (the command, the demo seeder) hand the parsed rows to
`write`, inside its own transaction. Row numbers are the ones a spreadsheet
shows: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from babel import Locale

from shop.money import MoneyError, parse_major
from shop.timeutil import today

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_ERRORS_SHOWN = 50


@dataclass(frozen=True)
class RowError:
    row: int | None  # None: about the file as a whole
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) found; nothing was imported")


class FieldError(ValueError):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)


# --- Field parsers: each takes the cell text and returns a value or raises ----


def text(value: str, column: str, *, required: bool = True, max_length: int = 200) -> str:
    value = value.strip()
    if required and not value:
        raise FieldError(column, "is required")
    if len(value) > max_length:
        raise FieldError(column, f"is {len(value)} characters long; at most {max_length}")
    return value


def slug(value: str, column: str) -> str:
    value = value.strip()
    if not SLUG_RE.match(value):
        raise FieldError(
            column, f"'{value}' is not a slug (lower-case letters, digits and single hyphens)"
        )
    if len(value) > 80:
        raise FieldError(column, "is longer than 80 characters")
    return value


def code(value: str, column: str, max_length: int = 32) -> str:
    value = value.strip()
    if not CODE_RE.match(value) or len(value) > max_length:
        raise FieldError(
            column,
            f"'{value}' is not a code (letters, digits, '-', '_' or '.', "
            f"at most {max_length} characters)",
        )
    return value


def choice(value: str, column: str, choices: Iterable[str], *, default: str | None = None) -> str:
    allowed = list(choices)
    normalised = re.sub(r"[\s-]+", "_", value.strip().lower())
    if not normalised and default is not None:
        return default
    if normalised not in allowed:
        raise FieldError(column, f"'{value.strip()}' is not one of: {', '.join(allowed)}")
    return normalised


def integer(
    value: str,
    column: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
    required: bool = True,
) -> int | None:
    value = value.strip()
    if not value:
        if default is not None or not required:
            return default
        raise FieldError(column, "is required")
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise FieldError(column, f"'{value[:40]}' is not a whole number (digits 0-9)")
    if len(value.lstrip("+-")) > 12:
        raise FieldError(column, f"'{value[:40]}' is too large")
    number = int(value)
    if minimum is not None and number < minimum:
        raise FieldError(column, f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise FieldError(column, f"must be at most {maximum}, got {number}")
    return number


def yes_no(value: str, column: str) -> bool:
    normalised = value.strip().lower()
    if normalised in {"yes", "y", "true", "1"}:
        return True
    if normalised in {"no", "n", "false", "0", ""}:
        return False
    raise FieldError(column, f"'{value.strip()}' must be yes or no")


def month(value: str, column: str, *, not_after: date | None = None) -> date:
    value = value.strip()
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise FieldError(column, f"'{value}' is not a month like 2026-03")
    result = date(int(match.group(1)), int(match.group(2)), 1)
    limit = not_after or today()
    if result > limit.replace(day=1):
        raise FieldError(column, f"{value} is in the future")
    return result


def day_or_month(value: str, column: str, *, required: bool = False) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise FieldError(column, "is required")
        return None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", value):
        return month(value, column)
    try:
        result = date.fromisoformat(value)
    except ValueError:
        raise FieldError(column, f"'{value}' is not a date like 2024-05-01 or 2024-05") from None
    if result > today():
        raise FieldError(column, f"{value} is in the future")
    return result


def country(value: str, column: str) -> str | None:
    """An ISO 3166 code or English name; 'withheld' gives None."""
    value = value.strip()
    if value.lower() == "withheld":
        return None
    territories = Locale("en").territories
    upper = value.upper()
    if len(upper) == 2 and upper.isalpha() and upper in territories:
        return upper
    for territory_code, name in territories.items():
        if len(territory_code) == 2 and name.lower() == value.lower():
            return territory_code
    raise FieldError(
        column, f"'{value}' is not a country (use a code like KH, a name, or 'withheld')"
    )


def semicolon_list(value: str, column: str, *, max_items: int = 20) -> list[str]:
    items = [item.strip() for item in value.split(";") if item.strip()]
    if len(items) > max_items:
        raise FieldError(column, f"has {len(items)} items; at most {max_items}")
    if len({i.lower() for i in items}) != len(items):
        raise FieldError(column, "lists the same item twice")
    return items


def key_values(value: str, column: str) -> dict[str, str]:
    """'size=M;colour=natural' -> {'size': 'M', 'colour': 'natural'}."""
    result: dict[str, str] = {}
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        key, sep, val = part.partition("=")
        key, val = key.strip().lower(), val.strip()
        if not sep or not key or not val:
            raise FieldError(column, f"'{part}' is not like size=M")
        if key in result:
            raise FieldError(column, f"names '{key}' twice")
        result[key] = val
    return result


def money(value: str, column: str, currency: str) -> int:
    try:
        return parse_major(value, currency)
    except MoneyError as exc:
        raise FieldError(column, str(exc)) from None


# --- Checks and writes shared by importers -----------------------------------


def duplicate_errors(
    rows: list[tuple[int, dict]], key: str, what: str, same: Callable[[Any], Any] = lambda v: v
) -> list[RowError]:
    """A value that must be unique in the file, reported on every repeat; `same` gives what
    counts as a repeat (str.lower: whatever the case)."""
    first_seen: dict[Any, int] = {}
    errors = []
    for row_number, values in rows:
        value = values[key]
        if same(value) in first_seen:
            errors.append(
                RowError(
                    row_number, key, f"{what} '{value}' is already on row {first_seen[same(value)]}"
                )
            )
        else:
            first_seen[same(value)] = row_number
    return errors


def unknown_workshop_errors(
    rows: list[tuple[int, dict]], known: dict[str, Any], column: str = "workshop_slug"
) -> list[RowError]:
    return [
        RowError(n, column, f"no workshop '{v[column]}' (import workshops first)")
        for n, v in rows
        if v[column] not in known
    ]


def apply_changes(record: Any, values: dict[str, Any]) -> bool:
    """Set attributes that differ; say whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    return changed


def upsert(result: ImportResult, record: Any | None, model: type, key: dict, fields: dict) -> Any:
    """Create `model(**key, **fields)` when there is no record, else update it; count which."""
    from shop.extensions import db

    if record is None:
        record = model(**key, **fields)
        db.session.add(record)
        result.created += 1
    elif apply_changes(record, fields):
        result.updated += 1
    else:
        result.unchanged += 1
    return record


# --- The importer protocol and the driver ------------------------------------


class Importer:
    """Subclasses set `columns` and implement `parse`, `check` and `write`."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    # Columns a file may leave out (added after files were written without them); a row
    # of such a file has no value for them, and `parse` tells "left out" from "blank".
    optional_columns: ClassVar[tuple[str, ...]] = ()

    def parse(self, row: dict[str, str]) -> Any:
        """One row's values, or raise FieldError (several via `collect`)."""
        raise NotImplementedError

    def check(self, rows: list[tuple[int, Any]]) -> list[RowError]:
        """Checks across rows and against the database; nothing is written."""
        return []

    def write(self, rows: list[tuple[int, Any]], progress: Callable[[int], None]) -> ImportResult:
        raise NotImplementedError


def collect(row: dict[str, str], parsers: dict[str, Callable[[str, str], Any]]) -> dict:
    """Run one parser per column and raise every failure together."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for column, parser in parsers.items():
        try:
            values[column] = parser(row.get(column) or "", column)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise RowFailed(errors)
    return values


class RowFailed(Exception):
    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def read_rows(importer: Importer, data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [RowError(None, None, f"the file is not UTF-8 text (byte {exc.start} is not valid)")]
        ) from None
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed([RowError(None, None, "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFailed([RowError(1, None, f"cannot read the header: {exc}")]) from None
    header = [h.strip() for h in header]
    errors = []
    missing = [c for c in importer.columns if c not in header]
    extra = [h for h in header if h not in (*importer.columns, *importer.optional_columns)]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if missing:
        errors.append(RowError(1, None, f"missing column(s): {', '.join(missing)}"))
    if extra:
        errors.append(RowError(1, None, f"unexpected column(s): {', '.join(extra)}"))
    if duplicated:
        errors.append(RowError(1, None, f"column(s) named twice: {', '.join(duplicated)}"))
    if errors:
        optional = (
            f" (and may have {', '.join(importer.optional_columns)})"
            if importer.optional_columns
            else ""
        )
        errors.append(
            RowError(
                None,
                None,
                f"a {importer.name} file has the columns: {','.join(importer.columns)}{optional}",
            )
        )
        raise ImportFailed(errors)
    rows = []
    row_number = 1
    try:
        for record in reader:
            row_number += 1
            if not any(cell.strip() for cell in record):
                continue  # blank lines are not rows
            if len(record) != len(header):
                errors.append(
                    RowError(
                        row_number,
                        None,
                        f"has {len(record)} cells; the header has {len(header)}",
                    )
                )
                continue
            rows.append((row_number, dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        errors.append(RowError(row_number, None, f"cannot be read as CSV: {exc}"))
    if errors:
        raise ImportFailed(errors)
    if not rows:
        raise ImportFailed([RowError(None, None, "the file has a header but no rows")])
    return rows


def validate(importer: Importer, data: bytes) -> list[tuple[int, Any]]:
    """Parse and check the whole file; raise ImportFailed with every problem."""
    errors: list[RowError] = []
    parsed: list[tuple[int, Any]] = []
    for row_number, row in read_rows(importer, data):
        try:
            parsed.append((row_number, importer.parse(row)))
        except RowFailed as failed:
            errors.extend(RowError(row_number, e.column, e.message) for e in failed.errors)
        except FieldError as exc:
            errors.append(RowError(row_number, exc.column, exc.message))
    if errors:
        raise ImportFailed(errors)
    errors = importer.check(parsed)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: (e.row or 0, e.column or "")))
    return parsed
