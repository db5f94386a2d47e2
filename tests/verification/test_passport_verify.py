"""`flask --app app passport verify FILE-or-URL` checks a passport as anyone outside the
store would, over real HTTP: a tiny web server on 127.0.0.1 publishes a DID document, a
passport signed here with joserfc, its status list and a tag's linkset (the issuing code
is another part of issue 12). A valid passport passes; a one-byte change to its payload
or signature, a revoked status bit, an unknown key, a broken schema and bad input fail
with a line that says why, and exit 1."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import threading
import warnings
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jws
from joserfc.jwk import OKPKey

from shop import ROOT
from shop.resolver.links import UNTP_DPP
from shop.verification.status_list import bit_at, decode_bitstring, encode_bitstring

UNTP = ROOT.parent / "shared" / "untp"  # ../shared/untp from the project's root
PASSPORT_PATH, STATUS_PATH, TAG_PATH = "/p/T-1/passport", "/credentials/status/1", "/p/T-1"
REVOKED_INDEX, OUR_INDEX = 3, 7
VC = "application/vc+jwt"


class Site:
    """What the tiny server publishes: path -> (content type, body)."""

    def __init__(self):
        self.documents: dict[str, tuple[str, bytes]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.did = f"did:web:127.0.0.1%3A{self.port}"

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                found = site.documents.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                kind, body = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def publish(self, path: str, kind: str, body: str | bytes | dict) -> str:
        if isinstance(body, dict):
            body = json.dumps(body)
        self.documents[path] = (kind, body.encode() if isinstance(body, str) else body)
        return self.base + path


def sign(payload: dict, key: OKPKey, kid: str, typ: str = "vc+jwt") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc: "EdDSA" superseded by "Ed25519"
        return jws.serialize_compact(
            {"alg": "EdDSA", "typ": typ, "kid": kid}, json.dumps(payload), key, algorithms=["EdDSA"]
        )


def _instant(delta_days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=delta_days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def passport_payload(site: Site, index: int = OUR_INDEX) -> dict:
    if (UNTP / "DigitalProductPassport-instance.json").is_file():
        payload = json.loads((UNTP / "DigitalProductPassport-instance.json").read_text())
    else:
        payload = {
            "type": ["DigitalProductPassport", "VerifiableCredential"],
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://test.uncefact.org/vocabulary/untp/dpp/0.6.0/",
            ],
            "credentialSubject": {"type": ["ProductPassport"]},
        }
    payload["id"] = f"{site.base}/credentials/dpp/1"
    payload["issuer"] = {"type": ["CredentialIssuer"], "id": site.did, "name": "Made Known"}
    payload["validFrom"], payload["validUntil"] = _instant(-1), _instant(3650)
    payload["credentialStatus"] = {
        "id": f"{site.base}{STATUS_PATH}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": f"{site.base}{STATUS_PATH}",
    }
    return payload


@contextlib.contextmanager
def serving():
    """A store's published documents, served, and the means to change them."""
    site = Site()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        publish_a_store(site)
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def store():
    """The store whose passports are checked, served on 127.0.0.1."""
    with serving() as site:
        yield site


@pytest.fixture
def app(app, store, monkeypatch):
    """The command runs inside the store: here, the one the tiny server publishes."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", store.base)
    return app


@pytest.fixture
def other_store():
    """Another store, with its own DID, key, status list and passport."""
    with serving() as site:
        yield site


def publish_a_store(site: Site) -> None:
    key = OKPKey.generate_key("Ed25519")
    site.key, site.kid = key, f"{site.did}#{key.thumbprint()}"
    site.publish(
        "/.well-known/did.json",
        "application/did+json",
        {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": site.did,
            "verificationMethod": [
                {
                    "id": site.kid,
                    "type": "JsonWebKey",
                    "controller": site.did,
                    "publicKeyJwk": key.as_dict(private=False),
                }
            ],
            "assertionMethod": [site.kid],
        },
    )
    bits = bytearray(16 * 1024)  # 131,072 bits, the spec's minimum
    bits[REVOKED_INDEX // 8] |= 0x80 >> (REVOKED_INDEX % 8)
    status_list = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"{site.base}{STATUS_PATH}",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": site.did,
        "validFrom": _instant(-1),
        "credentialSubject": {
            "id": f"{site.base}{STATUS_PATH}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_bitstring(bytes(bits)),
        },
    }
    site.status_list = status_list
    site.publish(STATUS_PATH, VC, sign(status_list, key, site.kid))
    site.passport = sign(passport_payload(site), key, site.kid)
    site.publish(PASSPORT_PATH, VC, site.passport)
    site.publish(
        TAG_PATH,
        "application/linkset+json",
        {
            "linkset": [
                {
                    "anchor": f"{site.base}{TAG_PATH}",
                    UNTP_DPP: [{"href": f"{site.base}{PASSPORT_PATH}", "type": VC}],
                }
            ]
        },
    )


def run(app, *args: str):
    result = app.test_cli_runner().invoke(args=["passport", "verify", *args])
    lines = result.output.strip().splitlines()
    return result.exit_code, lines


def line(lines: list[str], name: str) -> str:
    found = [text for text in lines if text[2:].startswith(f"{name}:")]
    assert found, (name, lines)
    return found[0]


def need_schemas():
    if not (UNTP / "DigitalProductPassport-schema.json").is_file():
        pytest.skip(f"the UNTP schemas are not at {UNTP} (../shared/untp): schema checks skipped")


def test_a_valid_passport_passes_every_check(app, store):
    need_schemas()
    code, lines = run(app, store.base + PASSPORT_PATH, "--http", "--schemas", str(UNTP))
    assert code == 0, lines
    for name in ("read", "typ", "issuer", "DID document", "key", "signature", "validity",
                 "status list", "status", "schema"):  # fmt: skip
        assert line(lines, name).startswith("✓"), lines
    assert f"bit {OUR_INDEX} of {store.base}{STATUS_PATH} is 0" in line(lines, "status")
    assert "DigitalProductPassport-schema.json" in line(lines, "schema")
    assert lines[-1] == "Valid: all 10 checks passed."


def test_the_tag_address_leads_to_the_passport_and_a_file_reads_too(app, store, tmp_path):
    code, lines = run(app, store.base + TAG_PATH, "--http")
    assert code == 0, lines
    assert f"{store.base}{PASSPORT_PATH}" in line(lines, "read")
    assert line(lines, "schema").startswith("–") and "not checked" in line(lines, "schema")
    assert lines[-1] == "Valid: all 9 checks passed (not checked: schema)."
    saved = tmp_path / "passport.jwt"
    saved.write_text(store.passport + "\n")
    did = tmp_path / "did.json"
    did.write_bytes(store.documents["/.well-known/did.json"][1])
    code, lines = run(app, str(saved), "--http", "--did-document", str(did))
    assert code == 0, lines
    assert f"read from {did}" in line(lines, "DID document")


def test_a_one_byte_change_to_the_payload_or_the_signature_fails(app, store, tmp_path):
    header, payload, signature = store.passport.split(".")
    body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    changed = body.replace(b"Made Known", b"Made Knowm", 1)  # one byte, still JSON
    assert changed != body and len(changed) == len(body)
    forged = base64.urlsafe_b64encode(changed).decode().rstrip("=")
    other = "A" if signature[10] != "A" else "B"
    for token in (f"{header}.{forged}.{signature}",
                  f"{header}.{payload}.{signature[:10]}{other}{signature[11:]}"):  # fmt: skip
        path = tmp_path / "changed.jwt"
        path.write_text(token)
        code, lines = run(app, str(path), "--http")
        assert code == 1, lines
        assert line(lines, "signature").startswith("✗")
        assert "does not match" in line(lines, "signature")
        assert lines[-1].startswith("NOT VALID: 1 of") and lines[-1].endswith("failed: signature.")


def test_a_revoked_passport_fails_on_its_status_bit(app, store):
    store.publish(
        PASSPORT_PATH, VC, sign(passport_payload(store, REVOKED_INDEX), store.key, store.kid)
    )
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert line(lines, "signature").startswith("✓")
    status = line(lines, "status")
    assert status.startswith("✗") and f"revoked: bit {REVOKED_INDEX} of" in status
    # A status list whose signature does not match is not believed.
    tampered = copy.deepcopy(store.status_list)
    tampered["credentialSubject"]["encodedList"] = encode_bitstring(bytes(16 * 1024))
    forged = sign(tampered, OKPKey.generate_key("Ed25519"), store.kid)
    store.publish(STATUS_PATH, VC, forged)
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert "its signature does not match" in line(lines, "status list")
    # Nor one another issuer lists.
    tampered["issuer"] = "did:web:elsewhere.example"
    store.publish(STATUS_PATH, VC, sign(tampered, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert f"is issued by did:web:elsewhere.example, not by {store.did}" in line(
        lines, "status list"
    )


def test_an_unknown_key_fails(app, store):
    stranger = OKPKey.generate_key("Ed25519")
    kid = f"{store.did}#{stranger.thumbprint()}"
    store.publish(PASSPORT_PATH, VC, sign(passport_payload(store), stranger, kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1
    assert line(lines, "key").startswith("✗")
    assert f"unknown key id {kid}" in line(lines, "key")
    assert lines[-1] == "NOT VALID: 1 of 5 checks failed: key."


def test_a_passport_that_breaks_its_schema_fails(app, store):
    need_schemas()
    payload = passport_payload(store)
    payload["@context"] = ["https://www.w3.org/ns/credentials/v2"]  # not UNTP's DPP context
    store.publish(PASSPORT_PATH, VC, sign(payload, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http", "--schemas", str(UNTP))
    assert code == 1
    schema = line(lines, "schema")
    assert (
        schema.startswith("✗") and "breaks DigitalProductPassport-schema.json: /@context" in schema
    )
    assert line(lines, "signature").startswith("✓")


def test_dates_and_typ_are_checked(app, store):
    expired = passport_payload(store)
    expired["validUntil"] = _instant(-1)
    store.publish(PASSPORT_PATH, VC, sign(expired, store.key, store.kid))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1 and "expired on" in line(lines, "validity")
    store.publish(PASSPORT_PATH, VC, sign(passport_payload(store), store.key, store.kid, typ="JWT"))
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1 and line(lines, "typ").startswith("✗")


def test_bad_input_is_named(app, store, tmp_path):
    not_jws = tmp_path / "note.txt"
    not_jws.write_text("hello, this is not a passport")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nobody listens there now
    cases = [
        ([str(not_jws)], "not a compact JWS: expected three base64url parts"),
        ([str(tmp_path / "missing.jwt")], "no such file"),
        ([f"http://127.0.0.1:{port}/p/X/passport", "--http"], "cannot reach"),
        ([store.base + PASSPORT_PATH], "is plain HTTP"),  # without --http
        ([store.base + "/p/NOPE/passport", "--http"], "answered 404"),
    ]
    for args, message in cases:
        code, lines = run(app, *args)
        assert code == 1, args
        assert lines[0].startswith("✗ read:") and message in lines[0], lines
        assert lines[-1].startswith("NOT VALID"), lines
    store.publish("/page", "text/html", "<!doctype html><p>a page</p>")
    code, lines = run(app, store.base + "/page", "--http")
    assert code == 1 and "answered a web page, not a credential" in lines[0]
    # The DID document names another DID, or cannot be reached.
    store.publish("/.well-known/did.json", "application/did+json", {"id": "did:web:elsewhere"})
    code, lines = run(app, store.base + PASSPORT_PATH, "--http")
    assert code == 1 and "is the document of 'did:web:elsewhere'" in line(lines, "DID document")


def test_the_status_bitstring_is_read_left_to_right():
    bits = bytearray(16)
    bits[0] = 0b0100_0000  # index 1
    bits[2] = 0b0000_0001  # index 23
    decoded = decode_bitstring(encode_bitstring(bytes(bits)))
    assert [i for i in range(128) if bit_at(decoded, i)] == [1, 23]


def test_the_command_is_documented(app):
    result = app.test_cli_runner().invoke(args=["passport", "verify", "--help"])
    assert result.exit_code == 0
    for option in ("--http", "--did-document", "--schemas", "--issuer"):
        assert option in result.output
