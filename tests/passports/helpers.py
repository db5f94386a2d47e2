"""Reading the store's credentials as an outside verifier would: the JWS checked with
jwcrypto (a different JOSE library from joserfc, which signs) against nothing but the
DID document the store serves; UNTP's JSON Schemas (v0.6.1, ../shared/untp/)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from jwcrypto import jwk, jws

from shop.passports.status import bit, decode

SCHEMAS = {
    "DigitalProductPassport": "DigitalProductPassport-schema.json",
    "DigitalFacilityRecord": "DigitalFacilityRecord-schema.json",
    "DigitalConformityCredential": "DigitalConformityCredential-schema.json",
}


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def header(token: str) -> dict:
    return json.loads(b64decode(token.split(".")[0]))


def payload(token: str) -> dict:
    """The credential inside a compact JWS, unverified (for searching it)."""
    return json.loads(b64decode(token.split(".")[1]))


def did_document(client) -> dict:
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200 and response.mimetype == "application/did+json"
    return response.get_json(force=True)


def verify(token: str, document: dict) -> dict:
    """The payload of `token`, verified with jwcrypto against the key the DID document
    lists under the JWS header's `kid`; raises when it does not verify."""
    kid = header(token)["kid"]
    assert kid in document["assertionMethod"], f"{kid} is not an assertion method"
    method = next(m for m in document["verificationMethod"] if m["id"] == kid)
    assert method["type"] == "JsonWebKey" and method["controller"] == document["id"]
    key = jwk.JWK(**method["publicKeyJwk"])
    checked = jws.JWS()
    checked.deserialize(token)
    checked.verify(key, alg="EdDSA")
    return json.loads(checked.payload)


def with_byte_changed(token: str, part: int, position: int = 0) -> str:
    """`token` with one byte of its payload (part 1) or signature (part 2) changed."""
    parts = token.split(".")
    data = bytearray(b64decode(parts[part]))
    data[position] ^= 0x01
    parts[part] = b64encode(bytes(data))
    return ".".join(parts)


def fetch_credential(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "application/vc+jwt"
    return response.get_data(as_text=True)


def status_bit(client, index: int) -> bool:
    """Is passport `index` revoked, as the status list served now says?"""
    listed = payload(fetch_credential(client, "/credentials/status/1"))
    return bit(decode(listed["credentialSubject"]["encodedList"]), index)


def status_index(credential: dict) -> int:
    return int(credential["credentialStatus"]["statusListIndex"])


# --- UNTP's schemas -------------------------------------------------------------------


def untp_folder() -> Path | None:
    """../shared/untp/ from the project's root (the schemas are data for the tests, not
    part of the project): the first `shared/untp` above this file, so it is found from
    /work/main and from a clone or worktree below /work alike."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "untp"
        if (candidate / SCHEMAS["DigitalProductPassport"]).is_file():
            return candidate
    return None


URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")


@cache
def _validators() -> dict:
    from jsonschema import Draft202012Validator, FormatChecker

    folder = untp_folder()
    if folder is None:
        pytest.skip("UNTP schemas not found: ../shared/untp/ (v0.6.1) is absent")
    checker = FormatChecker()  # every format jsonschema checks by itself, and these:

    @checker.checks("uri")
    def _uri(value) -> bool:
        return not isinstance(value, str) or bool(URI_RE.match(value))

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        return not isinstance(value, str) or bool(datetime.fromisoformat(value))

    found = {}
    for kind, name in SCHEMAS.items():
        schema = json.loads((folder / name).read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        found[kind] = Draft202012Validator(schema, format_checker=checker)
    return found


def schema_errors(credential: dict) -> list[str]:
    """What UNTP's schema for this credential's type finds wrong with it."""
    kind = next(t for t in credential["type"] if t in SCHEMAS)
    validator = _validators()[kind]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(credential)]  # fmt: skip
