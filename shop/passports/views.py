"""The signed credentials, served as stored (a GET never signs): `application/vc+jwt`,
a compact JWS, with an ETag. A version's URL never changes what it serves (cached a
year, immutable); the current version's URL is cached a minute; the status list is
revalidated on every use, so a revocation is seen at once."""

from __future__ import annotations

import hashlib
import json
import re

from flask import Blueprint, Response, redirect, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.passports.content import names_a_location, store_context
from shop.passports.models import Credential, CredentialKind, StatusList
from shop.passports.status import STATUS_LIST_ID
from shop.provenance.models import Batch, Workshop
from shop.provenance.services import batch_is_public
from shop.sessions import same_for_everyone

bp = Blueprint("passports", __name__)

VC_JWT = "application/vc+jwt"
IMMUTABLE = "public, max-age=31536000, immutable"
CURRENT = "public, max-age=60"
# A version never changes, but one naming a place is withdrawn (410) once the workshop's
# country is withheld: no cache may keep serving it for long.
WITHDRAWABLE = "public, max-age=300"
REVALIDATE = "public, max-age=0, must-revalidate"


def credential_response(jws: str, cache: str) -> Response:
    response = Response(jws, mimetype=VC_JWT)
    response.set_etag(hashlib.sha256(jws.encode("ascii")).hexdigest()[:32])
    response.headers["Cache-Control"] = cache
    response.headers["Access-Control-Allow-Origin"] = "*"  # verifiers in a browser
    return same_for_everyone(response.make_conditional(request))


def shown(text: str, most: int) -> str:
    """Part of an address, as a refusal repeats it: printable characters, cut short."""
    return "".join(c if c.isprintable() else "?" for c in text[:most])


def not_found(message: str) -> Response:
    response = Response(f"{message}\n", status=404, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return same_for_everyone(response)


# The addresses of credentials: their refusals (a 405 to a POST, say) are plain text a
# verifier can read, as their 404s are, never the store's HTML error page.
CREDENTIAL_ADDRESSES = re.compile(
    r"^/(p/[^/]+/passport|workshops/[^/]+/facility-record|credentials)(/|$)"
)


def plain_refusal(code: int, message: str, exc: HTTPException | None):
    response = Response(f"{message}\n", status=code, mimetype="text/plain")
    if exc is not None:  # Allow (405), Retry-After (429)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return same_for_everyone(response)


@bp.after_request
def _readable_from_any_page(response: Response) -> Response:
    """A verifier in a retailer's browser may read every answer here, its refusals and
    preflights included (a 404 or 410 must reach it as one, not as a CORS failure)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _latest_or(query, version: int | None):
    """The current version's JWS (or version `version`'s). A version that names where a
    workshop is, once its country is withheld, is not served: a survivor's safety comes
    before a credential's permanence (it is still stored; the current version, issued as
    the country was withheld, names no place)."""
    query = query.add_columns(Workshop.country_public).where(Credential.jws.is_not(None))
    if version is None:
        query = query.order_by(Credential.version.desc()).limit(1)
    else:
        query = query.where(Credential.version == version)
    found = db.session.execute(query).first()
    if found is None:
        return None
    jws, country_public = found
    if not country_public and names_a_location(jws):
        return WITHDRAWN
    return jws


WITHDRAWN = ""  # a version withheld from view (see _latest_or)


def _answer(jws: str | None, missing: str, cache: str) -> Response:
    if jws is None:
        return not_found(missing)
    if jws == WITHDRAWN:
        response = Response(
            "This version is withdrawn: it named where the workshop is, which is no longer "
            "published. The current version is at the address without a version number.\n",
            status=410, mimetype="text/plain",
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return same_for_everyone(response)
    return credential_response(jws, cache)


def _passport(code: str, version: int | None) -> str | None:
    query = (
        select(Credential.jws)
        .join(Batch, Credential.batch_id == Batch.id)
        .join(Variant, Batch.variant_id == Variant.id)
        .join(Product, Variant.product_id == Product.id)
        .join(Workshop, Batch.workshop_id == Workshop.id)
        .where(Batch.code == code, batch_is_public())
    )
    return _latest_or(query, version)


@bp.get("/p/<code>/passport")
def passport(code: str):
    missing = f"No passport for batch {shown(code, 40)}: check the code on the tag."
    return _answer(_passport(code, None), missing, CURRENT)


def _version_number(written: str) -> int | None:
    """A version as the address writes it: ASCII digits only, at most 9 of them."""
    if written.isascii() and written.isdigit() and len(written) <= 9:
        return int(written)
    return None


def _version_answer(written: str, lookup, missing: str, subject: dict) -> Response:
    """A version's answer: its stored JWS (`lookup(number)`), or a plain 404. A version
    number written with leading zeros ("/passport/01") is sent to its one address, so
    each version has exactly one (a cache or a verifier keys on it); the address is
    built, never copied from the path, and only for a version that exists."""
    number = _version_number(written)
    if number is None:
        return not_found(missing)
    jws = lookup(number)
    if jws is not None and written != str(number):
        canonical = url_for(request.endpoint, **subject, version=number)
        return same_for_everyone(redirect(canonical, 308))
    return _answer(jws, missing, WITHDRAWABLE)


@bp.get("/p/<code>/passport/<version>")
def passport_version(code: str, version: str):
    missing = f"Batch {shown(code, 40)} has no passport version {shown(version, 20)}."
    return _version_answer(version, lambda n: _passport(code, n), missing, {"code": code})


def _facility_record(slug: str, version: int | None) -> str | None:
    query = (
        select(Credential.jws)
        .join(Workshop, Credential.workshop_id == Workshop.id)
        .where(Workshop.slug == slug)
    )
    return _latest_or(query, version)


@bp.get("/workshops/<slug>/facility-record")
def facility_record(slug: str):
    missing = f"No facility record for workshop {shown(slug, 80)}."
    return _answer(_facility_record(slug, None), missing, CURRENT)


@bp.get("/workshops/<slug>/facility-record/<version>")
def facility_record_version(slug: str, version: str):
    missing = f"Workshop {shown(slug, 80)} has no facility record version {shown(version, 20)}."
    return _version_answer(version, lambda n: _facility_record(slug, n), missing, {"slug": slug})


@bp.get("/credentials/conformity/<public_id>")
def conformity(public_id: str):
    jws = db.session.scalar(
        select(Credential.jws).where(
            Credential.public_id == public_id,
            Credential.kind == CredentialKind.CONFORMITY,
            Credential.jws.is_not(None),
        )
    )
    if jws is None:
        return not_found("No conformity credential at this address.")
    return credential_response(jws, IMMUTABLE)


@bp.get("/credentials/status/1")
def status_list():
    jws = db.session.scalar(select(StatusList.jws).where(StatusList.id == STATUS_LIST_ID))
    if jws is None:
        return not_found("No status list has been issued yet (no passport has been).")
    return credential_response(jws, REVALIDATE)


@bp.get("/credentials/vocabulary")
def vocabulary():
    """The JSON-LD context of the terms the store adds to UNTP's (its credentials list it
    in their @context)."""
    body = json.dumps(store_context(), indent=2) + "\n"
    response = Response(body, mimetype="application/ld+json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return same_for_everyone(response)
