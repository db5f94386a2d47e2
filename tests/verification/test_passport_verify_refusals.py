"""What `passport verify` refuses, beyond a broken signature: a credential another DID
issued (even one naming the store), a credential without one issuer, a passport or
facility record that names no status the store could revoke it by, JSON nested to crash
the reader, and a schema check asked for with --schemas that cannot be made. Each fails
in one line that says why, and the command exits 1. The stores are the tiny servers of
test_passport_verify; the command runs inside the first one."""

# ruff: noqa: F811  (app, store, other_store: fixtures imported from test_passport_verify)
from __future__ import annotations

import base64
import json

import pytest

from tests.verification.test_passport_verify import (  # noqa: F401  (fixtures)
    PASSPORT_PATH,
    STATUS_PATH,
    VC,
    app,
    line,
    other_store,
    passport_payload,
    run,
    sign,
    store,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_another_stores_passport_is_checked_only_when_asked_for(app, store, other_store):
    elsewhere = other_store.base + PASSPORT_PATH
    code, lines = run(app, elsewhere, "--http")
    assert code == 1, lines
    issuer = line(lines, "issuer")
    assert issuer.startswith("✗")
    assert f"issued by {other_store.did}, not by this store ({store.did})" in issuer
    assert "give --issuer DID" in issuer
    assert lines[-1] == "NOT VALID: 1 of 3 checks failed: issuer."

    code, lines = run(app, elsewhere, "--http", "--issuer", other_store.did)
    assert code == 0, lines
    assert line(lines, "issuer") == f"✓ issuer: {other_store.did}, as --issuer asks"
    code, lines = run(app, store.base + PASSPORT_PATH, "--http", "--issuer", other_store.did)
    assert code == 1
    assert f"issued by {store.did}, not by {other_store.did} (--issuer)" in line(lines, "issuer")

    code, lines = run(app, elsewhere, "--http", "--issuer", "made-known")
    assert code == 2 and "'made-known' is not a DID" in "\n".join(lines)


def test_a_look_alike_naming_the_store_but_signed_by_another_did_fails(app, store, other_store):
    payload = passport_payload(store)
    payload["issuer"] = {"type": ["CredentialIssuer"], "id": other_store.did, "name": "Made Known"}
    del payload["credentialStatus"]
    store.publish(PASSPORT_PATH, VC, sign(payload, other_store.key, other_store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1, lines
    assert f"issued by {other_store.did}, not by this store" in line(lines, "issuer")


@pytest.mark.parametrize(
    ("issuer", "said"),
    [
        (None, "the credential names no issuer"),
        ([], "the credential's issuer is a list"),
        ("LIST", "the credential's issuer is a list"),
        (7, "the credential's issuer is a number"),
        ({"name": "Made Known"}, "the credential's issuer has no id"),
        ("", "the credential's issuer is an empty string"),
    ],
)
def test_an_issuer_missing_or_not_one_did_fails(app, store, issuer, said):
    payload = passport_payload(store)
    if issuer is None:
        del payload["issuer"]
    else:
        payload["issuer"] = [store.did, store.did] if issuer == "LIST" else issuer
    store.publish(PASSPORT_PATH, VC, sign(payload, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1, lines
    assert line(lines, "issuer").startswith(f"✗ issuer: {said}"), lines
    assert lines[-1] == "NOT VALID: 1 of 3 checks failed: issuer."


def test_an_issuer_that_is_not_the_signers_did_fails(app, store):
    payload = passport_payload(store)
    payload["issuer"] = {"id": "did:web:elsewhere.example", "name": "Made Known"}
    store.publish(PASSPORT_PATH, VC, sign(payload, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert f"signed with a key of {store.did} but issued by did:web:elsewhere.example" in line(
        lines, "issuer"
    )


@pytest.mark.parametrize(
    ("kind", "status", "said"),
    [
        ("DigitalProductPassport", None, "this one names none"),
        ("DigitalProductPassport", [1, None, "x"], "this one names no usable one"),
        ("DigitalProductPassport", {"type": "BitstringStatusListEntry"}, "no usable one"),
        ("DigitalFacilityRecord", None, "this one names none"),
        ("DigitalFacilityRecord", [{"type": "StatusList2021Entry"}], "no usable one"),
    ],
)
def test_a_passport_or_facility_record_without_a_usable_status_fails(
    app, store, kind, status, said
):
    payload = passport_payload(store)
    payload["type"] = [kind, "VerifiableCredential"]
    if status is None:
        del payload["credentialStatus"]
    else:
        payload["credentialStatus"] = status
    store.publish(PASSPORT_PATH, VC, sign(payload, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1, lines
    assert [text for text in lines if text[2:].startswith("status:")] == [line(lines, "status")]
    status_line = line(lines, "status")
    assert (
        status_line.startswith(f"✗ status: a {kind} must name its status") and said in status_line
    )
    assert lines[-1].endswith("failed: status.")


def test_a_credential_the_store_does_not_revoke_may_name_no_status(app, store):
    payload = passport_payload(store)
    payload["type"] = ["DigitalConformityCredential", "VerifiableCredential"]
    del payload["credentialStatus"]
    store.publish(PASSPORT_PATH, VC, sign(payload, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 0, lines
    assert line(lines, "status").startswith("– status: not checked")


def test_deeply_nested_json_is_not_a_readable_jws(app, store, tmp_path):
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    header = _b64(json.dumps({"alg": "EdDSA", "typ": "vc+jwt", "kid": store.kid}).encode())
    payload = _b64(json.dumps(passport_payload(store)).encode())
    for token, part in ((f"{_b64(deep)}.{payload}.AAAA", "header"),
                        (f"{header}.{_b64(deep)}.AAAA", "payload")):  # fmt: skip
        path = tmp_path / "deep.jwt"
        path.write_text(token)
        code, lines = run(app, str(path), "--http")
        assert code == 1, lines
        assert lines == [
            f"✗ read: not a readable JWS: its {part} is JSON nested too deeply to read",
            "NOT VALID: 1 of 1 checks failed: read.",
        ]
    store.publish("/.well-known/did.json", "application/did+json", deep)
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert "is JSON nested too deeply to read" in line(lines, "DID document")


def test_schemas_asked_for_that_cannot_be_checked_fail_the_verdict(app, store, tmp_path):
    folder = tmp_path / "schemas"
    folder.mkdir()
    (folder / "unrelated.json").write_text('{"$schema": "x", "properties": {}}')
    (folder / "a-list.json").write_text('[{"$schema": "x"}]')  # not a schema: passed over
    (folder / "odd-type.json").write_text('{"$schema": "x", "properties": {"type": 3}}')
    code, lines = run(app, store.base + PASSPORT_PATH, "--http", "--schemas", str(folder))
    assert code == 1, lines
    schema = line(lines, "schema")
    assert schema.startswith("✗ schema: cannot be checked as asked")
    assert f"{folder} holds no DigitalProductPassport schema" in schema
    assert lines[-1] == "NOT VALID: 1 of 10 checks failed: schema."
    # The status list is signed by the store too, but no UNTP schema is for it.
    code, lines = run(app, store.base + STATUS_PATH, "--http", "--schemas", str(folder))
    assert code == 1, lines
    assert "no UNTP schema is for the types of this credential" in line(lines, "schema")
    assert line(lines, "signature").startswith("✓")


def test_a_refusal_in_plain_text_is_passed_on_in_one_printable_line():
    """`passport verify` on a withdrawn version says why, as the store said it (410)."""
    from werkzeug.wrappers import Response as WsgiResponse

    from shop.verification.fetch import VerifyInputError, fetch
    from tests.conftest import serving

    said = "This version is withdrawn:\x1b[31m it named where the workshop is.\nMore."

    def gone(environ, start_response):
        return WsgiResponse(said, status=410, mimetype="text/plain")(environ, start_response)

    with serving(gone) as base, pytest.raises(VerifyInputError) as refused:
        fetch(f"{base}/p/X/passport/1", allow_http=True, accept="application/vc+jwt")
    message = str(refused.value)
    assert "answered 410 GONE: This version is withdrawn:[31m it named where" in message
    assert "\x1b" not in message and "More." not in message
