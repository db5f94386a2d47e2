"""Stores whose images live in a real S3 bucket (SeaweedFS, started once per run)."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from tests.conftest import empty_database
from tests.seaweedfs import seaweedfs, why_weed_cannot_run


@pytest.fixture(scope="package")  # stopped once this folder's tests are done
def s3_server(tmp_path_factory):
    reason = why_weed_cannot_run()
    if reason:
        pytest.skip(reason)
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3(s3_server):
    """A bucket of this test's own on the running server."""
    return s3_server.new_bucket()


@pytest.fixture
def store_database(tmp_path):
    """A migrated database whose commits are real, for stores that share it."""
    with empty_database(tmp_path, "store.db") as url:
        app = create_app(config_for_tests(url, str(tmp_path / "migrate-media")))
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()
        yield url


def make_store(url: str, instance, **settings):
    """A store with an instance folder of its own (nothing on disk shared with another)."""
    app = create_app(config_for_tests(url, str(instance / "media"), **settings))
    return app


@pytest.fixture
def s3_store(store_database, s3, tmp_path):
    """A store keeping its images in the test's bucket, linking to it directly."""
    app = make_store(store_database, tmp_path / "instance-a", **s3.settings())
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
