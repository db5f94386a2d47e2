"""The two halves of issue 12 meet: passports the store signed and serves, checked by
`flask --app app passport verify` over real HTTP as a retailer would run it (the DID
document, the signature, the status list, the UNTP schema), and by the partner API's
verify answer. A suspension revokes them at once; a tampered copy fails."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.provenance.models import Batch, VettingKind, VettingOutcome, Workshop
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from tests.verification.test_passport_verify import (
    UNTP,
    line,
    need_schemas,
    run,
    serving,
    sign,
)

CHECKS = ("read", "typ", "issuer", "DID document", "key", "signature", "validity",
          "status list", "status", "schema")  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The demo store on a free local port, its links and DID on that address."""
    root = tmp_path_factory.mktemp("passports-live")
    app = create_app(config_for_tests(f"sqlite:///{root / 'live.db'}", str(root / "media")))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    app.config["TRUSTED_HOSTS"] = [f"127.0.0.1:{server.server_port}", "127.0.0.1", "localhost"]
    with app.app_context():
        upgrade()
    seeded = app.test_cli_runner().invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _a_batch(app) -> tuple[str, int]:
    with app.app_context():
        batch = db.session.scalars(
            select(Batch).join(Workshop).where(Workshop.status == "active").order_by(Batch.id)
        ).first()
        return batch.code, batch.workshop_id


def _api_verdict(base: str, code: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/v1/batches/{code}/verify", timeout=10) as answer:
        return json.load(answer)


def test_the_stores_passport_passes_every_check_until_its_workshop_is_suspended(served):
    need_schemas()
    app, base = served
    code, workshop_id = _a_batch(app)
    exit_code, lines = run(app, f"{base}/p/{code}", "--http", "--schemas", str(UNTP))
    assert exit_code == 0, lines
    for name in CHECKS:
        assert line(lines, name).startswith("✓"), lines
    assert _api_verdict(base, code)["passport"]["status"] == "valid"

    with app.app_context():
        record_vetting_event(
            db.session.get(Workshop, workshop_id), kind=VettingKind.SUSPENDED,
            occurred_on=today() - timedelta(days=1), author="Programme staff",
            outcome=VettingOutcome.FAILED, notes="A concern is looked into.",
        )  # fmt: skip
        db.session.commit()
    exit_code, lines = run(app, f"{base}/p/{code}/passport", "--http")
    assert exit_code == 1, lines
    assert line(lines, "status").startswith("✗"), lines
    assert line(lines, "signature").startswith("✓")  # still the store's, but revoked
    verdict = _api_verdict(base, code)
    assert verdict["passport"]["status"] == "revoked" and verdict["verdict"] == "not_ok"


def test_a_copy_of_the_stores_passport_changed_by_one_byte_fails(served, tmp_path):
    app, base = served
    code, _ = _a_batch(app)
    with urllib.request.urlopen(f"{base}/p/{code}/passport", timeout=10) as answer:
        token = answer.read().decode()
    header, payload, signature = token.split(".")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    copy = tmp_path / "passport.jwt"
    copy.write_text(".".join([header, flipped, signature]))
    exit_code, lines = run(app, str(copy), "--http")
    assert exit_code == 1 and line(lines, "signature").startswith("✗"), lines


def test_a_copy_of_the_stores_passport_signed_by_another_did_fails(served, tmp_path):
    """A counterfeit: the store's own passport, naming "Made Known" as issuer, but issued
    and signed by another did:web whose DID document is published and whose key is real."""
    app, base = served
    code, _ = _a_batch(app)
    with urllib.request.urlopen(f"{base}/p/{code}/passport", timeout=10) as answer:
        part = answer.read().decode().split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert payload["issuer"]["name"] == "Made Known"
    with serving() as stranger:
        payload["issuer"]["id"] = stranger.did
        for status in (payload["credentialStatus"], None):  # the store's own status, or none
            payload["credentialStatus"] = status
            forged = tmp_path / "forged.jwt"
            forged.write_text(sign(payload, stranger.key, stranger.kid))
            exit_code, lines = run(app, str(forged), "--http")
            assert exit_code == 1, lines
            issuer = line(lines, "issuer")
            assert issuer.startswith("✗"), lines
            assert f"issued by {stranger.did}, not by this store (did:web:127.0.0.1%3A" in issuer
