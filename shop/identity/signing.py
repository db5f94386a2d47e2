"""Signing: a compact JWS with the store's current key (joserfc, alg EdDSA).

`alg: EdDSA` is what the W3C VC-JOSE-COSE examples, UNTP and the issue name; RFC 9864
has since registered the fully specified `Ed25519` for the same signature, and joserfc
warns that `EdDSA` is deprecated on every use. The signature is the same Ed25519 one,
so that warning is silenced here rather than printed with each credential.
"""

from __future__ import annotations

import json
import warnings

from flask import current_app
from joserfc import jws
from joserfc.errors import SecurityWarning

from shop.identity import did, keys

ALGORITHM = "EdDSA"
warnings.filterwarnings(
    "ignore", message="EdDSA is deprecated", category=SecurityWarning
)  # not shown: a warning filter's pattern


def payload_bytes(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_jws(payload: dict, typ: str) -> str:
    """`payload` signed as a compact JWS: `alg` EdDSA, `typ`, and `kid` the key's DID
    URL. Publishes the key in this transaction if it was not yet. Raises
    keys.NoSigningKey when this machine has no key."""
    if not current_app.config.get("PUBLIC_BASE_URL"):
        # A credential is signed once and names the store's DID and addresses for good:
        # never under a guessed one (development's 127.0.0.1:5000).
        raise keys.NoSigningKey(
            "PUBLIC_BASE_URL is not set: set it to the address the store is served at "
            "(make run sets it), since a signed credential names it for good"
        )
    key = keys.current_key()
    keys.publish(key)
    header = {"alg": ALGORITHM, "typ": typ, "kid": did.did_url(key.kid)}
    return jws.serialize_compact(header, payload_bytes(payload), key.key, algorithms=[ALGORITHM])
