import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_503_when_the_database_is_unreachable(tmp_path):
    broken = create_app(config_for_tests(f"sqlite:///{tmp_path}/missing/dir/x.db", str(tmp_path)))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_an_unexpected_error_shows_the_stores_500_page_and_logs_it(tmp_path, caplog):
    app = create_app(
        config_for_tests(f"sqlite:///{tmp_path}/x.db", str(tmp_path), PROPAGATE_TEST_ERRORS=False)
    )

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong on our side" in body and "kaboom" not in body
    assert "kaboom" in caplog.text


def test_pages_carry_security_headers(client):
    response = client.get("/healthz")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_media_is_served_only_from_the_media_folder(client, media_root):
    (media_root / "products").mkdir(exist_ok=True)
    (media_root / "products" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    assert client.get("/media/products/x.png").status_code == 200
    for attempt in ("/media/../app.py", "/media/%2e%2e/app.py", "/media//etc/passwd"):
        assert client.get(attempt, follow_redirects=True).status_code == 404, attempt


def test_the_migrations_match_the_models(app):
    """A model change without a migration fails here, not in production."""
    with app.app_context(), warnings.catch_warnings():
        # SQLite's dialect cannot reflect an index on an expression (trainees' lower(code)).
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        connection = db.engines[None]  # the test's connection, migrated by `flask db upgrade`
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(app):
    with app.app_context():
        engine = db.engines[None].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings; this run is on PostgreSQL")
    raw = engine.raw_connection()  # no transaction: the test's own holds the write lock
    try:
        pragma = lambda name: raw.cursor().execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30000
    finally:
        raw.close()
