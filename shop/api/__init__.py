"""The partner API (issue 12): read-only JSON under /api/v1/, described by an OpenAPI
3.1 document generated from the code, with a reference page.

Why flask-smorest: it plugs into the store as it is. Its `Api` is an extension bound to
the app the factory builds (`create_app`, a plain `flask.Flask`), its `Blueprint` is a
Flask blueprint, and its schemas are marshmallow's, so the API's views sit beside the
store's own with the same unit of work, error handling, headers and rate limits.
APIFlask would replace the `Flask` class itself (`APIFlask(__name__)`) and bring its own
error and auth handling, i.e. a second way of building the whole app for the sake of one
blueprint. flask-smorest is maintained (0.47.0 is pinned) and writes OpenAPI 3.1
through apispec.

`init_api(app)` wires it: the `api_v1` blueprint (shop.api.views), what every answer
shares (shop.api.http), and the document and its reference page (shop.api.reference).
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from shop.api.http import PREFIX, REFUSAL_HEADERS, init_http
from shop.api.schemas import ErrorSchema
from shop.config import DEFAULT_API_RATE_LIMIT

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

DESCRIPTION = f"""\
Read-only access to what the store sells and where it was made: products on sale
with their variants, prices, availability and the share of each sale that goes to the
makers' training accounts; the workshops that make them, with their vetting summary;
and every production batch, with a link to its signed digital product passport and a
check anyone can ask: *is this batch made by a vetted workshop that is not suspended,
and is its passport valid?*

No key is needed. Nothing here ever names a maker, a trainee, an address, coordinates
or a withheld country.

**Pagination.** Listings answer `{{"items": [...], "next": URL or null}}`, in a fixed
order (slugs, batch codes). Follow `next` (also sent as `Link: <URL>; rel="next"`)
until it is null: a walk meets every item once. `limit` is 1 to 100 (20 by default).
The cursor is opaque and signed: one this API did not give out is refused with 400.

**Caching.** Every 200 carries an `ETag` (a hash of the body): send it back as
`If-None-Match` to get `304 Not Modified` with no body. `Cache-Control: public,
max-age=60` (a check: `max-age=0, must-revalidate`, so a suspension or a revoked
passport shows at once). Every refusal: `Cache-Control: no-store`.

**Limits.** {DEFAULT_API_RATE_LIMIT} per client address by default. Over it: `429` with
`Retry-After` (seconds). Errors are JSON: `{{"error": {{"status": 404, "message": "…"}}}}`.

**CORS.** Any origin may read (`Access-Control-Allow-Origin: *`); only GET, HEAD and
OPTIONS exist.

This document: [{PREFIX}/openapi.json]({PREFIX}/openapi.json) (OpenAPI {OPENAPI_VERSION}).
"""

TAGS = [
    {"name": "Products", "description": "What the store sells, while it is on sale."},
    {"name": "Workshops", "description": "Who makes it: public records and vetting."},
    {
        "name": "Batches",
        "description": "Production batches: the record behind the QR code on each tag, "
        "its passport, and its check.",
    },
]


class PartnerApi(Api):
    """flask-smorest's Api without its app-wide error handler: the store answers every
    error itself (shop.web.error_answer), in JSON under /api/v1 only (shop.api.http)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass

    def _register_responses(self) -> None:
        super()._register_responses()
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {
                "description": "Any other refusal, in the same shape: 405 for a method other "
                "than GET, HEAD or OPTIONS, 500 when something fails on the store's side.",
                "content": {"application/json": {"schema": ErrorSchema}},
                "headers": REFUSAL_HEADERS,
            },
            lazy=True,
        )

    def _register_pagination_header(self) -> None:
        pass  # its page-number pagination is not used: listings are paginated by cursor


def init_api(app: Flask) -> None:
    from shop.api import reference
    from shop.api.views import blp

    servers = [{"url": app.config["PUBLIC_BASE_URL"]}] if app.config.get("PUBLIC_BASE_URL") else []
    api = PartnerApi(
        app,
        spec_kwargs={
            "title": f"{app.config.get('STORE_NAME') or 'Made Known'} partner API",
            "version": API_VERSION,
            "openapi_version": OPENAPI_VERSION,
            "info": {
                "summary": "Products, workshops and production batches, with a check anyone "
                "can ask of a batch.",
                "description": DESCRIPTION,
            },
            "tags": TAGS,
            **({"servers": servers} if servers else {}),
        },
    )
    api.register_blueprint(blp)
    app.register_blueprint(reference.bp)
    init_http(app)
    reference.keep_document(app, api.spec.to_dict())
    app.extensions["shop_api"] = api
