"""What the QR code's address answers: a browser gets the batch's page, a machine that
asks for `application/linkset+json` (HTTP content negotiation, q-values and all) or sends
`?linkType=linkset` gets an RFC 9264 linkset of what the store publishes about the batch,
and `?linkType=<a link type>` is redirected to that one target, as a GS1 or UNTP identity
resolver does.

Relation types: RFC 9264 (§4.2.2, after RFC 8288) writes an extension relation type as
a URI, so the short names the standards use are written out in full. GS1's link types
are in its Web Vocabulary (`gs1:pip` = https://gs1.org/voc/pip); UNTP's (`untp:dpp`,
`untp:dfr`) in the namespace UNTP's reference identity resolver publishes for the
`untp:` prefix (its /.well-known/resolver: https://vocabulary.uncefact.org/untp/linkType#),
the one the credentials' own links use (shop.passports.content.UNTP_LINK_TYPES).
The status list is linked with the Verifiable Credentials vocabulary's own term for a
credential's status (what `credentialStatus` means in the VC 2.0 context). A
`?linkType=` may use either the short name or the URI.

Every address is absolute and on PUBLIC_BASE_URL (shop.web.public_url): the passport,
the facility record and the status list are shop.passports' routes. Nothing here reads
more than the batch's code and its workshop's address name, so nothing private can leak.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask import Response, redirect, request
from werkzeug.datastructures import MIMEAccept

from shop.passports.content import GS1_PIP, UNTP_LINK_TYPES
from shop.resolver import services
from shop.resolver.services import BatchLinks
from shop.sessions import same_for_everyone
from shop.web import public_url

LINKSET_TYPE = "application/linkset+json"
HTML_TYPE = "text/html"
CREDENTIAL_TYPE = "application/vc+jwt"  # a compact JWS (VC-JOSE-COSE)

GS1_DEFAULT_LINK = "https://gs1.org/voc/defaultLink"
UNTP_DPP = UNTP_LINK_TYPES + "dpp"
UNTP_DFR = UNTP_LINK_TYPES + "dfr"
CREDENTIAL_STATUS = "https://www.w3.org/2018/credentials#credentialStatus"

# ?linkType= values: the short names GS1 and UNTP write, and the URIs themselves.
SHORT_NAMES = {
    "gs1:defaultLink": GS1_DEFAULT_LINK,
    "gs1:pip": GS1_PIP,
    "untp:dpp": UNTP_DPP,
    "untp:dfr": UNTP_DFR,
}
LINKSET_REQUESTS = ("linkset", "all")  # GS1 Resolver 1.1 and 1.0 (UNTP's examples) alike
LANGUAGES = ["en"]
# Short, as for every current version (PLAN): a batch withdrawn from view leaves caches soon.
CACHE_CONTROL = "public, max-age=60"


def _target(href: str, media_type: str, title: str) -> list[dict]:
    return [{"href": href, "type": media_type, "hreflang": LANGUAGES, "title": title}]


def targets(batch: BatchLinks) -> dict[str, list[dict]]:
    """Each relation type and its target, for one batch."""
    page = public_url("provenance.batch", code=batch.code)
    passport = public_url("passports.passport", code=batch.code)
    facility = public_url("passports.facility_record", slug=batch.workshop_slug)
    status_list = public_url("passports.status_list")
    title = f"Batch {batch.code}"
    return {
        GS1_DEFAULT_LINK: _target(page, HTML_TYPE, f"{title}: its production record"),
        GS1_PIP: _target(page, HTML_TYPE, f"{title}: its production record"),
        UNTP_DPP: _target(passport, CREDENTIAL_TYPE, f"{title}: digital product passport (signed)"),
        UNTP_DFR: _target(
            facility,
            CREDENTIAL_TYPE,
            "The workshop that made it: digital facility record (signed)",
        ),
        CREDENTIAL_STATUS: _target(
            status_list, CREDENTIAL_TYPE, "Revocation status of the store's passports (signed)"
        ),
    }


def linkset(batch: BatchLinks, anchor: str | None = None) -> dict:
    """The RFC 9264 JSON linkset: one link context, the address that was asked (the
    batch's /p/ address, or its GS1 Digital Link one)."""
    anchor = anchor or public_url("provenance.batch", code=batch.code)
    return {"linkset": [{"anchor": anchor, **targets(batch)}]}


def linkset_url(code: str) -> str:
    return public_url("provenance.batch", code=code, linkType="linkset")


def link_header(code: str) -> str:
    """The HTML page's pointer to its linkset (RFC 9264 §6)."""
    return f'<{linkset_url(code)}>; rel="linkset"; type="{LINKSET_TYPE}"'


# --- Negotiation ------------------------------------------------------------------------

HTML, LINKSET = "html", "linkset"


def negotiate() -> str:
    """HTML, LINKSET, or the relation type a `?linkType=` asks to be redirected to.

    `?linkType=` decides when it names the linkset or one of the batch's relation types;
    otherwise the Accept header does, with its q-values: the linkset only when the client
    prefers it to HTML (a browser, `*/*` or no Accept at all get the page)."""
    asked = (request.args.get("linkType") or "").strip()
    if asked in LINKSET_REQUESTS:
        return LINKSET
    relation = SHORT_NAMES.get(asked, asked)
    if relation in (UNTP_DPP, UNTP_DFR, CREDENTIAL_STATUS):
        return relation
    # Parameters set aside: RFC 9264 gives the linkset type a `profile` parameter, which
    # Werkzeug would otherwise have to match exactly (there is one linkset, whatever it is).
    accepted = MIMEAccept(
        [(value.split(";", 1)[0].strip(), q) for value, q in request.accept_mimetypes]
    )
    best = accepted.best_match([HTML_TYPE, LINKSET_TYPE], default=HTML_TYPE)
    return LINKSET if best == LINKSET_TYPE else HTML


def linkset_response(batch: BatchLinks, anchor: str | None = None) -> Response:
    body = json.dumps(linkset(batch, anchor), indent=2, ensure_ascii=False) + "\n"
    response = Response(body, mimetype=LINKSET_TYPE)
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"  # a checker in a retailer's browser
    response.vary.add("Accept")
    return same_for_everyone(response.make_conditional(request))


def not_found(code: str) -> Response:
    """What a machine asking for an unknown batch's links gets: a 404 in RFC 9457's
    problem JSON, which a client that asked for JSON can read (not the HTML page)."""
    body = {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": f"No published batch has the code {code[:40]!r}: check the code on the tag.",
    }
    response = Response(json.dumps(body) + "\n", status=404, mimetype="application/problem+json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return same_for_everyone(response)


def answer(
    code: str,
    html: Callable[[], Response],
    found: BatchLinks | None = None,
    anchor: str | None = None,
) -> Response:
    """What a batch's address answers (`found`: the batch, when the caller looked it up
    already; `anchor`: the address asked, when it is not the batch's /p/ one). The page
    is `html()` (which answers 404 for a batch nobody may see); the linkset and redirects
    look the batch up (one statement) and answer a JSON 404."""
    choice = negotiate()
    if choice == HTML:
        response = html()
        response.vary.add("Accept")
        if response.status_code < 400:  # the page, or the Digital Link's way to it
            response.headers["Link"] = link_header(code if found is None else found.code)
        return response
    batch = found or services.public_batch(code)
    if batch is None:
        return not_found(code)
    if choice == LINKSET:
        return linkset_response(batch, anchor)
    response = redirect(targets(batch)[choice][0]["href"], 307)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return same_for_everyone(response)
