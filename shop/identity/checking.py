"""Checking a signature the store made, against the public keys it publishes (the
`signing_keys` table, which the DID document lists): what any verifier does with
/.well-known/did.json, done in process. Never needs a private key."""

from __future__ import annotations

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from shop.identity.signing import ALGORITHM


def kid_of(token: str) -> str:
    """The key id a compact JWS names: the fragment of its header's DID URL `kid`."""
    header = jws.extract_compact(token.encode()).protected
    return str(header.get("kid", "")).rpartition("#")[2]


def payload_text(token: str) -> str:
    """What a compact JWS says, unverified (to read it, not to trust it)."""
    return jws.extract_compact(token.encode()).payload.decode("utf-8")


def signature_holds(token: str, public_jwk: dict | None) -> bool:
    """Whether `token` is a compact JWS signed (EdDSA) by the key `public_jwk`."""
    if not public_jwk:
        return False
    try:
        jws.deserialize_compact(token, OKPKey.import_key(public_jwk), algorithms=[ALGORITHM])
    except (JoseError, ValueError):
        return False
    return True
