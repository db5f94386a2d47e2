"""Engine tuning and request-time guards for the database layer."""

from __future__ import annotations

import enum
import weakref

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Enum, event, inspect, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

SQLITE_BUSY_TIMEOUT_MS = 30_000


class LazyLoadInRequest(RuntimeError):
    """A page touched a relationship it did not load up front."""


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and transactions SQLAlchemy controls.

    pysqlite opens transactions lazily on its own, which breaks SAVEPOINTs and
    lets a read silently upgrade to a write lock; handing BEGIN to SQLAlchemy
    (the recipe in SQLAlchemy's SQLite dialect docs) makes both behave.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A deferred transaction that reads and then writes fails at once with
        # "database is locked" when another writer got in between (WAL cannot
        # upgrade a stale snapshot). Writers take the lock up front instead,
        # and wait for it under the busy timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


def begin_writing() -> None:
    """The next transaction of this request writes: on SQLite it takes the write lock
    at BEGIN (a read-only request's snapshot could not be upgraded later)."""
    g.shop_writes = True


def _may_write() -> bool:
    if has_app_context() and g.get("shop_writes"):
        return True
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return True  # commands and scripts


def _raise_on_lazy_load(state: ORMExecuteState) -> None:
    if not state.is_select or state.lazy_loaded_from is None or not has_request_context():
        return
    if current_app.config.get("RAISE_ON_LAZY_LOAD"):
        raise LazyLoadInRequest(
            f"lazy load from {state.lazy_loaded_from.class_.__name__}: {state.statement}"
        )


def forbid_lazy_loads_in_requests(session_class: type[Session]) -> None:
    """With RAISE_ON_LAZY_LOAD set, a lazy load during a request raises.

    Pages must say what they load; the test suite turns this on so a missed
    eager load fails loudly instead of turning into one query per row.
    """
    if not event.contains(session_class, "do_orm_execute", _raise_on_lazy_load):
        event.listen(session_class, "do_orm_execute", _raise_on_lazy_load)


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a named CHECK, stored by value."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


def contains_pattern(text: str) -> str:
    """The LIKE pattern for "contains `text`", with LIKE's own characters (% _ \\) in
    the text matched literally, never as wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matches_pattern(*columns, pattern):
    """Any of `columns` matches the LIKE `pattern` (a value or a bind parameter made
    from contains_pattern()), case-insensitively."""
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def contains_text(*columns, text: str):
    """A case-insensitive "contains `text`" over any of `columns`."""
    return matches_pattern(*columns, pattern=contains_pattern(text))


_tables_seen: dict[str, weakref.WeakSet] = {}


def has_table(connection, name: str) -> bool:
    """Whether the database has table `name` (remembered per engine once it has): False
    on a database the migrations have not brought that far yet (the migration tests
    write through the models at older revisions), where the listeners that write it
    must do nothing."""
    seen = _tables_seen.setdefault(name, weakref.WeakSet())
    if connection.engine in seen:
        return True
    if inspect(connection).has_table(name):
        seen.add(connection.engine)
        return True
    return False


def locked_row(model, row_id: int):
    """The row `row_id` of `model`, read afresh and locked until the transaction ends
    (SELECT … FOR UPDATE on PostgreSQL; SQLite has one writer at a time)."""
    from shop.extensions import db

    return db.session.scalars(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
