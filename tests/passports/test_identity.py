"""The store's identity: an Ed25519 key (SIGNING_KEY_FILE, or instance/signing-keys/
written once, never at start-up), its did:web document listing every key ever used,
and `keys rotate|list`: old credentials keep verifying, new ones use the new key."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.identity import keys
from shop.identity.did import did_for
from tests import factories as f
from tests.passports.helpers import did_document, fetch_credential, header, verify


def test_the_did_is_made_from_the_public_base_url():
    assert did_for("https://shop.example.org") == "did:web:shop.example.org"
    assert did_for("http://127.0.0.1:5000") == "did:web:127.0.0.1%3A5000"
    assert did_for("https://Example.org/shop/eu") == "did:web:example.org:shop:eu"


def test_the_did_document_lists_the_key_as_a_json_web_key(client, ctx):
    f.batch(f.product(f.workshop()).variants[0])  # the first signature publishes the key
    db.session.commit()
    answer = client.get("/.well-known/did.json")
    assert answer.headers["Cache-Control"] == "public, max-age=60" and answer.headers["ETag"]
    document = answer.get_json(force=True)
    assert document["id"] == "did:web:localhost"
    assert "https://www.w3.org/ns/did/v1" in document["@context"]
    [method] = document["verificationMethod"]
    assert method["type"] == "JsonWebKey" and method["controller"] == "did:web:localhost"
    assert set(method["publicKeyJwk"]) == {"kty", "crv", "x", "kid"}  # never "d"
    assert method["publicKeyJwk"]["crv"] == "Ed25519"
    assert document["assertionMethod"] == [method["id"]]
    assert method["id"] == method["publicKeyJwk"]["kid"]  # the kid a JWS header names
    assert client.get("/did.json").get_json(force=True) == document  # did:web with a path


@pytest.fixture
def instance_keys(app, tmp_path, monkeypatch):
    """The keys kept in an instance folder of the test's own (no SIGNING_KEY_FILE)."""
    monkeypatch.setitem(app.config, "SIGNING_KEY_FILE", "")
    monkeypatch.setitem(app.config, "SIGNING_KEY_DIR", str(tmp_path / "signing-keys"))
    return tmp_path / "signing-keys"


def test_no_key_is_made_at_start_up_and_signing_without_one_fails_loudly(tmp_path):
    folder = tmp_path / "signing-keys"
    app = create_app(config_for_tests(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path / "media"),
                                      SIGNING_KEY_FILE="", SIGNING_KEY_DIR=str(folder)))  # fmt: skip
    assert not folder.exists()
    with app.app_context(), pytest.raises(keys.NoSigningKey) as refused:
        keys.current_key()
    assert str(refused.value) == (
        "no signing key: run flask --app app keys rotate, or set SIGNING_KEY_FILE"
    )
    app.config["SIGNING_KEY_FILE"] = str(tmp_path / "missing.pem")
    with app.app_context(), pytest.raises(keys.NoSigningKey, match=r"missing\.pem does not exist"):
        keys.current_key()
    # a file that holds no Ed25519 key is said so in a line, not a traceback
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    app.config["SIGNING_KEY_FILE"] = str(garbage)
    with app.app_context(), pytest.raises(keys.NoSigningKey, match="does not hold an Ed25519"):
        keys.current_key()


def test_the_first_key_is_written_once_with_mode_0600_even_by_many_at_once(app, instance_keys):
    made = []
    with app.app_context():

        def make():
            with app.app_context():
                made.append(keys.ensure_key().kid)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(set(made)) == 1
    current = instance_keys / "current.pem"
    assert stat.S_IMODE(current.stat().st_mode) == 0o600
    assert [p.name for p in instance_keys.iterdir()] == ["current.pem"]  # no drafts left
    assert not keys.write_key_file(current, keys.new_private_pem())  # a key there is kept
    with app.app_context():
        assert keys.current_key().kid == made[0]


def test_rotation_keeps_old_passports_verifiable_and_signs_new_ones_with_the_new_key(
    app, client, ctx, instance_keys
):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0  # the first key
    w = f.workshop()
    p = f.product(w)
    f.batch(p.variants[0], code="ROT-1")
    db.session.commit()
    old = fetch_credential(client, "/p/ROT-1/passport")
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "New signing key did:web:localhost#" in rotated.output
    f.batch(p.variants[0], code="ROT-2")
    db.session.commit()
    new = fetch_credential(client, "/p/ROT-2/passport")
    assert header(new)["kid"] != header(old)["kid"]
    assert header(new)["kid"].split("#")[1] in rotated.output
    document = did_document(client)
    assert len(document["verificationMethod"]) == 2
    assert verify(old, document)["id"].endswith("/p/ROT-1/passport/1")  # still verifies
    assert verify(new, document)["id"].endswith("/p/ROT-2/passport/1")
    assert client.get("/p/ROT-1/passport").get_data(as_text=True) == old  # not re-signed
    kept = sorted(p.name for p in instance_keys.iterdir())
    assert kept == ["current.pem", f"retired-{header(old)['kid'].split('#')[1]}.pem"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in instance_keys.iterdir())
    listed = runner.invoke(args=["keys", "list"]).output.splitlines()
    assert len(listed) == 2
    assert "retired" in listed[0] and "private key kept here" in listed[0]
    assert "current" in listed[1] and "signs here" in listed[1]


def test_with_signing_key_file_a_rotation_writes_the_new_key_for_the_operator(
    app, client, ctx, tmp_path
):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["keys", "rotate"])
    assert refused.exit_code == 1 and "give --new-key-file PATH" in refused.output
    new_file = tmp_path / "next-key.pem"
    done = runner.invoke(args=["keys", "rotate", "--new-key-file", str(new_file)])
    assert done.exit_code == 0, done.output
    assert f"Set SIGNING_KEY_FILE={new_file}" in done.output
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
    with app.app_context():
        new_kid = keys.load_key(Path(new_file)).kid
    # published before any machine signs with it, so verifiers already know it
    ids = [m["id"] for m in did_document(client)["verificationMethod"]]
    assert f"did:web:localhost#{new_kid}" in ids
    again = runner.invoke(args=["keys", "rotate", "--new-key-file", str(new_file)])
    assert again.exit_code == 1 and "exists" in again.output


def test_a_change_that_needs_signing_fails_whole_on_a_store_without_a_key(
    app, ctx, instance_keys, monkeypatch, caplog
):
    from sqlalchemy import select

    from shop.provenance.models import Batch
    from tests.conftest import client_as

    w = f.workshop()
    p = f.product(w)
    with monkeypatch.context() as before_upgrade:  # nothing to sign yet
        before_upgrade.setattr("shop.passports.tracking.has_table", lambda _c, _n: False)
        db.session.commit()
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # the 500 page, as deployed
    admin = client_as(app, "admin")
    answer = admin.post("/admin/batches/new", data={
        "code": "NK-1", "workshop": str(w.id), "sku": p.variants[0].sku, "quantity": "5",
        "produced_month": "2026-04", "materials": "", "makers": "",
    })  # fmt: skip
    assert answer.status_code == 500
    assert db.session.scalar(select(Batch.id).where(Batch.code == "NK-1")) is None
    assert any(r.exc_info and r.exc_info[0] is keys.NoSigningKey for r in caplog.records)
    assert not instance_keys.exists()  # and no key was made on the way
