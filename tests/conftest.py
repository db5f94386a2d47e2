"""Test fixtures.

The schema is built once per run by the real migrations, on SQLite by default
or in a fresh PostgreSQL schema when TEST_DATABASE_URL is set. Each test runs
inside one outer transaction that is rolled back afterwards; sessions opened
during the test (one per request, as in production) join it through
savepoints, so their commits are real to the code under test and vanish after.
"""

from __future__ import annotations

import contextvars
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import current_app, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from tests.database_selection import pytest_addoption, pytest_collection_modifyitems  # noqa: F401

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def pytest_configure(config) -> None:
    """One signing key for the whole run, in a folder of its own, never the instance
    folder's: config_for_tests names it, and the stores tests start as processes find it
    in SIGNING_KEY_FILE (a setting from the developer's shell is replaced for the run)."""
    import tempfile

    from shop.identity.keys import new_private_pem, write_key_file

    folder = Path(tempfile.mkdtemp(prefix="shop-test-signing-"))
    key = folder / "signing-key.pem"
    write_key_file(key, new_private_pem())
    os.environ["SIGNING_KEY_FILE"] = str(key)
    config.shop_signing_key_folder = folder


def pytest_unconfigure(config) -> None:
    import shutil

    folder = getattr(config, "shop_signing_key_folder", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


class RequestIsolatingClient(FlaskClient):
    """Each request gets its own app context and session, as in production,
    even while the test holds a context open for its own setup; afterwards the
    test's objects are expired so its assertions read what the request wrote."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)  # a streamed body is read inside its own context
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context() and current_app._get_current_object() is self.application:
            db.session.expire_all()
        return response


def _postgres_schema_url(base_url: str) -> tuple[str, str]:
    schema = f"test_{secrets.token_hex(4)}"
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _run_postgres(base_url: str, sql: str) -> None:
    import psycopg

    conninfo = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def empty_database(directory: Path, name: str = "test.db") -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `directory`, or a fresh schema on
    TEST_DATABASE_URL's PostgreSQL server, dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{directory / name}"
        return
    url, schema = _postgres_schema_url(base)
    _run_postgres(base, f'CREATE SCHEMA "{schema}"')
    try:
        yield url
    finally:
        _run_postgres(base, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def database(tmp_path) -> Iterator[str]:
    """An empty database of its own, for a migration test to upgrade and downgrade."""
    with empty_database(tmp_path, "migrate.db") as url:
        yield url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    with empty_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_app(database_url, tmp_path_factory):
    media = tmp_path_factory.mktemp("media")
    application = create_app(config_for_tests(database_url, str(media)))
    application.test_client_class = RequestIsolatingClient
    with application.app_context():
        upgrade()
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    return application


@contextmanager
def rolled_back(application):
    """Every session of `application` joins one transaction, rolled back at the end."""
    with application.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        db.session.remove()
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            transaction.rollback()
            connection.close()
            engines[None] = engine


@pytest.fixture
def app(migrated_app):
    """The app, with every session in this test joined to one rolled-back transaction,
    and fresh rate-limit counters (they live in memory across the test session)."""
    from shop.extensions import limiter

    with migrated_app.app_context():
        limiter.reset()
    with rolled_back(migrated_app) as application:
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An application context for setting up data; commit to make it visible."""
    with app.app_context():
        yield db.session


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as q: ...` then `q.count` SQL statements (not transaction control)."""

    @contextmanager
    def counting():
        with app.app_context():
            connection = db.engines[None]
        counter = QueryCounter()
        event.listen(connection, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(connection, "before_cursor_execute", counter)

    return counting


@pytest.fixture
def media_root(app) -> Path:
    return Path(app.config["MEDIA_ROOT"])


# The connections a concurrency test may hold on PostgreSQL. A fixed pool, no overflow:
# the server is shared (max_connections, 100 by default) with other test runs, and a race
# that opened a connection per thread could be refused one ("too many clients already")
# mid-race, failing for a reason that is not the store's. `warm_pool` opens them first.
RACE_POOL = 20


def warm_pool(app, connections: int = RACE_POOL, seconds: float = 120) -> None:
    """Open `connections` of app's pool now, waiting while the PostgreSQL server has no room
    for them, so the race that follows opens none (they stay in the pool)."""
    import time

    from sqlalchemy.exc import OperationalError

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + seconds
    opened = []
    try:
        while len(opened) < connections:
            try:
                opened.append(engine.connect())
            except OperationalError:  # the server is full for now: other runs' connections
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        for connection in opened:
            connection.close()


@pytest.fixture
def committed_app(tmp_path):
    """A migrated database of its own whose commits are real: for tests of concurrency.
    On PostgreSQL its pool holds RACE_POOL connections at most (threads beyond wait for
    one, as a gunicorn process's threads share its pool); see warm_pool."""
    base = os.environ.get("TEST_DATABASE_URL")
    schema = None
    if base:
        url, schema = _postgres_schema_url(base)
        _run_postgres(base, f'CREATE SCHEMA "{schema}"')
    else:
        url = f"sqlite:///{tmp_path / 'concurrent.db'}"
    app = create_app(
        config_for_tests(
            url,
            str(tmp_path / "media"),
            SQLALCHEMY_ENGINE_OPTIONS=(
                {"pool_size": RACE_POOL, "max_overflow": 0, "pool_timeout": 120} if base else {}
            ),
        )
    )
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema:
            _run_postgres(base, f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def serving(app):
    """`app` served on a free local port: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def sign_in(client, person) -> None:
    """Flask-Login's session, as a successful sign-in leaves it."""
    with client.session_transaction() as session:
        # "<id>.<session version>" as User.get_id() gives it; a bare id counts as version 1
        session["_user_id"] = person.get_id() if hasattr(person, "get_id") else str(person.id)
        session["_fresh"] = True


def client_as(app, *roles: str):
    """A client signed in as a new user holding `roles`; the user is `client.person`."""
    from tests import factories as f

    person = f.user(*roles)
    db.session.commit()
    client = app.test_client()
    sign_in(client, person)
    client.person = person
    return client


def routes(app, values: dict, keep=lambda rule: True) -> list[tuple[str, str]]:
    """(method, path) for every route of the URL map that `keep` accepts, its arguments
    filled in from `values`: for tests that must cover every route, new ones included."""
    import re

    found = []
    for rule in app.url_map.iter_rules():
        if not keep(rule):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<[^>]*\b{name}>", str(values.get(name, "x")), path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


@pytest.fixture
def csrf_app(migrated_app):
    """The test database, with CSRF protection on as in production."""
    application = create_app(
        config_for_tests(
            migrated_app.config["SQLALCHEMY_DATABASE_URI"],
            migrated_app.config["MEDIA_ROOT"],
            WTF_CSRF_ENABLED=True,
        )
    )
    application.test_client_class = RequestIsolatingClient
    with application.app_context():
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    with rolled_back(application) as app:
        yield app


@contextmanager
def jobs_held(application):
    """The queue stops running jobs as they come (they wait, as for a worker that is busy
    or down); `drain()` runs every due job in this process, as a worker would."""
    from shop.jobs.engine import huey_of
    from shop.jobs.outbox import drain

    huey = huey_of(application)
    huey.immediate = False

    def drain_now(**options) -> int:
        with application.app_context():
            return drain(**options)

    try:
        yield drain_now
    finally:
        huey.immediate = True
