"""Cursor pagination for the partner API's listings.

A listing is walked in a fixed order of a unique public key (a product's or workshop's
slug, a batch's code): a page is the first `limit` rows after the cursor's key, read
with one keyset condition (`slug > :after ORDER BY slug LIMIT :limit + 1`), so deep
pages cost what the first one costs, a row added or removed meanwhile never shifts
another onto the wrong page, and a walk from the first page meets every row that
stayed once.

The cursor is opaque to partners and tamper-evident: the key and the listing's name,
signed with SECRET_KEY (itsdangerous). A cursor that was not given out by this store,
was altered, or belongs to another listing is refused with 400 and a message, never
read as a position (a changed SECRET_KEY makes old cursors refused too; start again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

SALT = "api-v1-cursor"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 400  # far above any cursor given out (a key is at most 120 characters)

T = TypeVar("T")

BAD_CURSOR = (
    "This cursor was not given out by this API for this listing (it may have been "
    "altered or cut short, or the store's key has changed since). Start again from the "
    "first page, without ?cursor=, and follow each page's `next` link."
)


class BadCursor(ValueError):
    def __init__(self):
        super().__init__(BAD_CURSOR)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_cursor(listing: str, after: str) -> str:
    return _serializer().dumps([listing, after])


def read_cursor(listing: str, cursor: str | None) -> str | None:
    """The key a page of `listing` starts after, or None for the first page (no cursor,
    or an empty one). Raises BadCursor for anything this store did not give out."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor
    try:
        value = _serializer().loads(cursor)
    except (BadData, UnicodeError) as exc:
        raise BadCursor from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] != listing
        or not isinstance(value[1], str)
    ):
        raise BadCursor
    return value[1]


@dataclass(frozen=True)
class Slice(Generic[T]):
    """One page of a listing: its rows, and the key the next page starts after (None on
    the last page)."""

    rows: list[T]
    next_after: str | None


def cut(rows: list[T], limit: int, key) -> Slice[T]:
    """`rows` read with LIMIT limit + 1: the page, and whether another follows."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Slice(rows, key(rows[-1]))
    return Slice(rows, None)
