"""/log/*: the public face of the transparency log (DESIGN.md, "The transparency log").

Answers that can never change (a proof for a size the log has reached, a full range of
entries) are cached for a year; the latest checkpoint only briefly. Bad parameters get
a 400 in JSON saying what to send; nothing here writes."""

from __future__ import annotations

import base64
from pathlib import Path

from flask import Blueprint, Response, jsonify, request

from shop.identity.keys import NoSigningKey
from shop.sessions import same_for_everyone
from shop.transparency import notes, proofs
from shop.transparency.proofs import ProofRefused

bp = Blueprint("transparency", __name__, url_prefix="/log")

IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=10"
SCRIPT = Path(__file__).with_name("verify_log.py")


def _public(response: Response, cache: str) -> Response:
    response.headers["Cache-Control"] = cache
    response.headers["Access-Control-Allow-Origin"] = "*"  # auditors' pages in a browser
    return same_for_everyone(response)


def _refused(message: str, status: int = 400) -> Response:
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return same_for_everyone(response)


def _number(name: str, *, default: int | None = None) -> int:
    """A parameter as a whole number written one way only (ASCII digits, no leading zero,
    given once): an answer cached for good has one address."""
    given = request.args.getlist(name)
    if len(given) > 1:
        raise ProofRefused(f"{name} is given more than once: give it once")
    text = given[0] if given else ""
    if text == "":
        if default is not None:
            return default
        raise ProofRefused(f"{name} is missing: send it as a whole number, like ?{name}=0")
    leading_zero = len(text) > 1 and text[0] == "0"
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or leading_zero:
        raise ProofRefused(
            f"{name} must be a whole number of at most 18 digits, without leading zeros; "
            f"it was {text[:40]!r}"
        )
    return int(text)


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(value).decode("ascii") for value in values]


def refusal(code: int, message: str, exc) -> Response:
    """Any refusal under /log (a NUL in the address, a wrong method) as JSON."""
    response = _refused(message, code)
    if exc is not None:  # Allow (405)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


@bp.errorhandler(ProofRefused)
def _refuse(exc: ProofRefused):
    return _refused(str(exc))


@bp.get("/checkpoint")
def checkpoint():
    latest = proofs.latest_checkpoint()
    if latest is None:
        return _refused("No checkpoint has been signed yet: the log is empty.", 404)
    response = Response(latest.note, mimetype="text/plain")
    return _public(response, LATEST)


@bp.get("/checkpoints")
def checkpoints():
    since = _number("since", default=0)
    kept = proofs.checkpoints_since(since)
    body = {"checkpoints": [{"size": c.size, "note": c.note} for c in kept]}
    if len(kept) == proofs.CHECKPOINTS_MAX:
        body["next"] = f"{request.path}?since={kept[-1].size}"
    return _public(jsonify(body), LATEST)


@bp.get("/key")
def key():
    """The key that signed the latest checkpoint (after a rotation, the new key is served
    from the first checkpoint it signs: the key and the checkpoint always go together)."""
    latest = proofs.latest_checkpoint()
    if latest is not None:
        line = latest.key_id
    else:
        try:
            line = notes.verifier_key()
        except NoSigningKey as exc:
            return _refused(f"The log has no signing key yet: {exc}", 503)
    return _public(Response(line + "\n", mimetype="text/plain"), LATEST)


@bp.get("/keys")
def keys():
    """Every key that has signed a checkpoint, oldest first: to read a checkpoint saved
    before the store rotated its key (verify_log.py --since-key)."""
    lines = proofs.checkpoint_keys()
    body = "".join(f"{line}\n" for line in lines)
    return _public(Response(body, mimetype="text/plain"), LATEST)


@bp.get("/entries")
def entries():
    start, end = _number("start"), _number("end")
    found = proofs.entries(start, end)
    body = {"entries": [{"index": index, "leaf": leaf} for index, leaf in found]}
    complete = len(found) == end - start
    return _public(jsonify(body), IMMUTABLE if complete else LATEST)


@bp.get("/proof/inclusion")
def inclusion():
    index, size = _number("index"), _number("size")
    hashes = proofs.inclusion(index, size)
    return _public(jsonify({"index": index, "size": size, "hashes": _b64(hashes)}), IMMUTABLE)


@bp.get("/proof/consistency")
def consistency():
    old, new = _number("from"), _number("to")
    hashes = proofs.consistency(old, new)
    return _public(jsonify({"from": old, "to": new, "hashes": _b64(hashes)}), IMMUTABLE)


@bp.get("/verify_log.py")
def script():
    response = Response(SCRIPT.read_text(encoding="utf-8"), mimetype="text/x-python")
    response.headers["Content-Disposition"] = 'attachment; filename="verify_log.py"'
    return _public(response, "public, max-age=3600")
