"""The partner API keeps the promises of its OpenAPI document: schemathesis generates
requests for every operation of /api/v1/openapi.json (valid ones and invalid ones, and
the document's own examples) and sends them to a store holding the demo data
(seed-demo), checking every answer: never a 5xx; a status, content type, headers and
body the document describes; invalid input refused. A bounded number of examples per
operation keeps it in `make test`.

The document is read when the module is collected, from an app built as every store is
(schemathesis' lazy fixture loader reads `Node._nodeid`, which pytest 9 no longer has),
and the first test checks it is the very one the demo store serves."""

from __future__ import annotations

import json

import pytest
import schemathesis
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from tests.conftest import empty_database

EXAMPLES_PER_OPERATION = 25
DOCUMENT_URL = "/api/v1/openapi.json"


def _document() -> dict:
    app = create_app(config_for_tests("sqlite://", "/nonexistent/media"))
    return json.loads(app.test_client().get(DOCUMENT_URL).get_data())


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """A store of its own with the demo data (seed-demo), committed: real rows to read."""
    folder = tmp_path_factory.mktemp("api-demo")
    with empty_database(folder, "demo.db") as url:
        app = create_app(config_for_tests(url, str(folder / "media")))
        with app.app_context():
            upgrade()
        seeded = app.test_cli_runner().invoke(args=["seed-demo"])
        assert seeded.exit_code == 0, seeded.output
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_document_checked_is_the_one_the_store_serves(demo_app):
    served = demo_app.test_client().get(DOCUMENT_URL)
    assert served.status_code == 200 and served.get_json() == DOCUMENT
    assert DOCUMENT["openapi"] == "3.1.0"
    operations = [m for item in DOCUMENT["paths"].values() for m in item if m != "parameters"]
    assert operations == ["get"] * 7


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_keeps_to_the_document(case, demo_app):
    # A cursor is opaque and signed: the document can say it is a string, not which
    # strings this API gave out, so a generated one is rightly refused (400) however
    # well it fits the schema. Every other check still runs on those requests.
    excluded = [positive_data_acceptance] if (case.query or {}).get("cursor") else []
    case.call_and_validate(app=demo_app, excluded_checks=excluded)
