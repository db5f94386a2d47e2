"""The storefront version: one database row that changes with everything public pages show.

Every commit that wrote a row of a table public pages read (products, prices, stock,
batches, workshops, vetting, trainees' consented aliases, the ledger and its log's
checkpoints behind /impact) writes a fresh random token into `storefront_version`, in
that same transaction, just before it commits. A page view reads the token (one
primary-key SELECT) before it reads anything else, and keys its cached copy and its
ETag on it. Why a row and not a counter in the cache (bumped after commit):

- a rolled-back change rolls the token back with it: nothing is invalidated for a
  change that never happened, and no page rendered from uncommitted data is ever
  stored under a token anyone else reads;
- the token and the data come from the same database, read in that order, so a page
  stored under a token shows data at least as new as that token: never older;
- it is right on every host and every gunicorn worker whatever the cache is (the
  in-process default cannot tell other processes to drop anything; here it need not);
- a token, not a counter: a value rolled back or restored from a backup is never
  handed out again for other data.

The token is written at commit time (SQLAlchemy's before_commit), so concurrent
writers wait on the row only while they commit, not for their whole transaction.

What a page shows also moves with time alone: a hold that runs out makes its units
buyable again without any write. So the version a page is keyed on is the token plus
the number of holds that ran out by now (for one token that set only grows, so its
size names it); see `current()`.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import DateTime, Select, String, bindparam, event, inspect, literal, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow

# The tables whose rows public pages show; a write to any of them changes the version.
# (Reservations are left out on purpose: a hold taken or released always moves stock,
# and stock_movements is here; extending a live hold changes nothing a page shows.)
SHOWN_TABLES = frozenset(
    {
        "products",
        "variants",
        "product_images",
        "categories",
        "stock_movements",
        "workshops",
        "vetting_events",
        "trainees",
        "batches",
        "ledger_transfers",
        "ledger_accounts",
        "pages",  # the content pages (shipping, returns, contact, privacy, terms)
        # /impact's log size and root: its latest checkpoint, which `ledger checkpoint`
        # can sign with no transfer written (leaves come only with ledger_transfers)
        "transparency_checkpoints",
    }
)
CHANGED_KEY = "shop_storefront_changed"


class StorefrontVersion(db.Model):
    __tablename__ = "storefront_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


def new_token() -> str:
    return secrets.token_hex(16)


# Holds belong to orders, which the catalog and this module do not import; orders
# registers how to count the holds that ran out (shop.orders.holds.init_holds).
_lapsed_hold_count: Callable[[datetime], object] = lambda _now: literal(0)  # noqa: E731


_statement: Select | None = None


def register_lapsed_hold_count(expression: Callable[[datetime], object]) -> None:
    """`expression(now)`: SQL for how many holds ran out before `now` and still hold."""
    global _lapsed_hold_count, _statement
    _lapsed_hold_count, _statement = expression, None


def _version_statement() -> Select:
    # Built once, with `now` as a bind parameter: every page view runs it.
    global _statement
    if _statement is None:
        now = bindparam("now", type_=DateTime(timezone=True))
        # Table columns, not the ORM's: a plain Core statement costs half as much to run.
        table = StorefrontVersion.__table__
        _statement = select(table.c.token, _lapsed_hold_count(now).label("lapsed")).where(
            table.c.id == 1
        )
    return _statement


_migrated: weakref.WeakSet = weakref.WeakSet()  # engines known to have the table


def _table_exists(connection) -> bool:
    """False on a database the migration has not reached yet (the migration tests
    write through the models at older revisions): then nothing is cached or written."""
    if connection.engine in _migrated:
        return True
    if inspect(connection).has_table(StorefrontVersion.__tablename__):
        _migrated.add(connection.engine)
        return True
    return False


def current(session: Session | None = None) -> str:
    """The version public pages are keyed on now: the token and the lapsed holds."""
    # On the session's connection, in its transaction, but not through Session.execute:
    # a plain Core SELECT needs none of the ORM's execution steps, which cost a warm
    # page view as much again as running the statement.
    connection = (session or db.session).connection()
    if not _table_exists(connection):
        return ""
    row = connection.execute(_version_statement(), {"now": utcnow()}).one_or_none()
    if row is None:  # a database the migration has not reached: nothing can be cached
        return ""
    return f"{row.token}.{int(row.lapsed or 0)}"


def mark_changed(session: Session) -> None:
    """Public pages change when this session commits (for writes the tracking below
    cannot see: SQL sent on the connection, bypassing the session)."""
    session.info[CHANGED_KEY] = True


def changed(session: Session) -> bool:
    return bool(session.info.get(CHANGED_KEY))


def _table_of(obj) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return getattr(table, "name", None)


def _note_flush(session: Session, _context, _instances) -> None:
    if changed(session):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _table_of(obj) in SHOWN_TABLES:
            mark_changed(session)
            return


def _note_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in SHOWN_TABLES:
        mark_changed(state.session)


def _write_token(session: Session) -> None:
    # before_commit runs before the commit's own flush: flush first, so objects added
    # and never flushed are seen by _note_flush.
    if session.new or session.dirty or session.deleted:
        session.flush()
    if not session.info.pop(CHANGED_KEY, False) or not _table_exists(session.connection()):
        return
    session.execute(
        update(StorefrontVersion).where(StorefrontVersion.id == 1).values(token=new_token())
    )


def _forget(session: Session, transaction: SessionTransaction) -> None:
    # Only when the whole transaction ends: a savepoint rolled back inside it leaves
    # the changes made before the savepoint to be committed.
    if transaction.parent is None:
        session.info.pop(CHANGED_KEY, None)


def track_changes(session_class: type[Session]) -> None:
    """Listen on every session: writes to SHOWN_TABLES change the token at commit."""
    for name, listener in (
        ("before_flush", _note_flush),
        ("do_orm_execute", _note_statement),
        ("before_commit", _write_token),
        ("after_transaction_end", _forget),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
