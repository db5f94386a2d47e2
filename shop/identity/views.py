"""/.well-known/did.json: the store's DID document, read from `signing_keys` (a GET
never signs or writes anything)."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, request

from shop.identity import did
from shop.sessions import same_for_everyone

bp = Blueprint("identity", __name__)

# Short: after a rotation, verifiers must see the new key within a minute.
DID_CACHE = "public, max-age=60"


def _document() -> Response:
    body = json.dumps(did.did_document(), ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, mimetype="application/did+json")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = DID_CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"  # resolvers in a browser
    return same_for_everyone(response.make_conditional(request))


@bp.get("/.well-known/did.json")
def did_document():
    return _document()


@bp.get("/did.json")
def did_document_at_path():
    """Where did:web looks when PUBLIC_BASE_URL has a path (did:web:host:path → /path/did.json)."""
    return _document()
