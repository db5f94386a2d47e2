"""The store's `did:web` identifier and its DID document.

The DID is made from PUBLIC_BASE_URL (in development without it, from the address
`make run` serves at, as canonical links are: never from a request's Host, since
credentials are signed once and kept): `https://shop.example` gives
`did:web:shop.example`, a port is written `%3A<port>` and a path adds `:<segment>`s,
per the did:web method. The document lists every key ever published, each as a
`JsonWebKey` verification method in `assertionMethod`.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import current_app

from shop.identity.keys import public_keys

DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"]


def base_url() -> str:
    from shop.web import DEVELOPMENT_BASE_URL

    return current_app.config.get("PUBLIC_BASE_URL") or DEVELOPMENT_BASE_URL


def did_for(base: str) -> str:
    parts = urlsplit(base)
    host = (parts.hostname or "").encode("idna").decode("ascii").lower()
    did = f"did:web:{quote(host, safe='')}"
    if parts.port is not None:
        did += f"%3A{parts.port}"
    for segment in parts.path.split("/"):
        if segment:
            did += f":{quote(segment, safe='')}"
    return did


def store_did() -> str:
    return did_for(base_url())


def did_url(kid: str) -> str:
    """The DID URL of a key, as a JWS header's `kid` names it."""
    return f"{store_did()}#{kid}"


def did_document() -> dict:
    did = store_did()
    methods = [
        {
            "id": f"{did}#{key.kid}",
            "type": "JsonWebKey",
            "controller": did,
            # The kid a JWS header names (the whole DID URL): a JOSE key set built from
            # these keys then finds the key by the header's kid, as libraries look it up.
            "publicKeyJwk": {**key.public_jwk, "kid": f"{did}#{key.kid}"},
        }
        for key in public_keys()
    ]
    return {
        "@context": DID_CONTEXT,
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }
