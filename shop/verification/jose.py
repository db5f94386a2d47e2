"""A compact JWS, the did:web DID document that publishes its key, and the signature
check (joserfc), as a verifier outside the store does them."""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings
from urllib.parse import unquote

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from shop.verification.fetch import VerifyInputError, fetch, is_url, read_file, text_of

# The algorithms an Ed25519 signature is named by: "EdDSA" (RFC 8037, what the store
# writes) and "Ed25519" (RFC 9864's fully specified name).
ALGORITHMS = ("EdDSA", "Ed25519")
CREDENTIAL_TYPES = ("vc+jwt",)  # VC-JOSE-COSE: the `typ` of a JOSE-secured credential
DID_JSON = "application/did+json, application/json;q=0.9"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")


def b64url_decode(text: str) -> bytes:
    if not _SEGMENT.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_compact(token: str) -> tuple[dict, dict]:
    """The protected header and the payload of a compact JWS (header.payload.signature),
    both JSON objects; VerifyInputError saying what is not, otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]) or not parts[2]:
        raise VerifyInputError(
            "not a compact JWS: expected three base64url parts separated by dots "
            "(header.payload.signature)"
        )
    decoded = []
    for name, part in zip(("header", "payload"), parts[:2], strict=True):
        try:
            value = json.loads(b64url_decode(part))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise VerifyInputError(f"not a compact JWS: its {name} is not base64url JSON") from None
        except RecursionError:  # nesting no credential has, sent to crash the reader
            raise VerifyInputError(
                f"not a readable JWS: its {name} is JSON nested too deeply to read"
            ) from None
        if not isinstance(value, dict):
            raise VerifyInputError(f"not a compact JWS: its {name} is not a JSON object")
        decoded.append(value)
    return decoded[0], decoded[1]


def issuer_of(payload: dict) -> str | None:
    """The credential's issuer: `issuer` (a string or an object with `id`), else `iss`."""
    issuer = payload.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str):
        issuer = payload.get("iss")
    return issuer if isinstance(issuer, str) else None


def credential_issuer(payload: dict) -> str:
    """The DID in the credential's `issuer` (VC 2.0: required, a URL or an object whose
    `id` is one); VerifyInputError saying what is wrong otherwise."""
    issuer = payload.get("issuer")
    if issuer is None:
        raise VerifyInputError(
            "the credential names no issuer: a verifiable credential must say who issued it"
        )
    if isinstance(issuer, dict):
        if not isinstance(issuer.get("id"), str) or not issuer["id"]:
            raise VerifyInputError("the credential's issuer has no id (the issuer's DID)")
        return issuer["id"]
    if not isinstance(issuer, str) or not issuer:
        raise VerifyInputError(
            f"the credential's issuer is {_json_kind(issuer)}: it must be one DID "
            "(a string, or an object with an id)"
        )
    return issuer


def _json_kind(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "an empty string" if value == "" else "not a string"


def did_web_url(did: str, *, allow_http: bool) -> str:
    """Where a did:web DID's document is (W3C CCG did:web): did:web:example.com is
    https://example.com/.well-known/did.json; a port is written %3A; `:a:b` is /a/b/did.json.
    Plain http only when allowed (--http: a store in development)."""
    if not did.startswith("did:web:"):
        raise VerifyInputError(f"{did} is not a did:web DID: this tool resolves did:web only")
    host, *path = did[len("did:web:") :].split(":")
    host = unquote(host)
    if not _HOST.match(host) or not all(path):
        raise VerifyInputError(f"{did} is not a did:web DID (did:web:<host>[:<path>])")
    scheme = "http" if allow_http else "https"
    if path:
        return f"{scheme}://{host}/{'/'.join(unquote(p) for p in path)}/did.json"
    return f"{scheme}://{host}/.well-known/did.json"


def load_json(source: str, *, allow_http: bool, accept: str) -> tuple[dict, str]:
    """A JSON object from a file or URL, and where it came from."""
    if is_url(source):
        fetched = fetch(source, allow_http=allow_http, accept=accept)
        data, where = fetched.body, fetched.url
    else:
        data, where = read_file(source), source
    try:
        value = json.loads(text_of(data, where))
    except ValueError:
        raise VerifyInputError(f"{where} is not JSON") from None
    except RecursionError:
        raise VerifyInputError(f"{where} is JSON nested too deeply to read") from None
    if not isinstance(value, dict):
        raise VerifyInputError(f"{where} is not a JSON object")
    return value, where


def did_document(did: str, *, allow_http: bool, override: str | None) -> tuple[dict, str]:
    """The DID document of `did` (from `override`, a file or URL, when given) and where it
    was read; it must be the document of that very DID."""
    source = override or did_web_url(did, allow_http=allow_http)
    document, where = load_json(source, allow_http=allow_http, accept=DID_JSON)
    if document.get("id") != did:
        raise VerifyInputError(
            f"the DID document at {where} is the document of {document.get('id')!r}, not {did}"
        )
    return document, where


def _absolute(reference: str, did: str) -> str:
    return f"{did}{reference}" if reference.startswith("#") else reference


def public_key(document: dict, kid: str) -> OKPKey:
    """The Ed25519 public key the DID document publishes as `kid`, for assertions."""
    did = document["id"]
    methods = document.get("verificationMethod") or []
    found = next(
        (m for m in methods if isinstance(m, dict) and _absolute(str(m.get("id", "")), did) == kid),
        None,
    )
    if found is None:
        known = ", ".join(_absolute(str(m.get("id")), did) for m in methods if isinstance(m, dict))
        raise VerifyInputError(
            f"unknown key id {kid}: the DID document has no such key (it has: {known or 'none'})"
        )
    assertion = {
        _absolute(m if isinstance(m, str) else str(m.get("id", "")), did)
        for m in document.get("assertionMethod") or []
    }
    if kid not in assertion:
        raise VerifyInputError(
            f"key {kid} is in the DID document but not listed for signing credentials "
            "(assertionMethod)"
        )
    jwk = found.get("publicKeyJwk")
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise VerifyInputError(f"key {kid} is not an Ed25519 public key (publicKeyJwk OKP/Ed25519)")
    try:
        # The public parts only, whatever else a document carries.
        return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": jwk.get("x", "")})
    except (JoseError, ValueError, TypeError):
        raise VerifyInputError(f"key {kid} in the DID document cannot be read") from None


def signature_valid(token: str, key: OKPKey) -> bool:
    with warnings.catch_warnings():
        # joserfc flags "EdDSA" as superseded by "Ed25519" (RFC 9864): still what VCs use.
        warnings.simplefilter("ignore")
        try:
            jws.deserialize_compact(token, key, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError):
            return False
    return True
