"""The partner API, version 1: read-only, under /api/v1/ (blueprint `api_v1`).

Views are thin: the query is parsed by its schema (flask-smorest/webargs), one function
of shop.api.records answers, and the answer's schema says what leaves the store. The
decorators also write the OpenAPI document (/api/v1/openapi.json): every answer an
operation can give, 304, 400, 404, 429 and 503 included. What every answer shares
(ETag and 304, Cache-Control, CORS, the rate limit, JSON errors) is in shop.api.http.
"""

from __future__ import annotations

from flask_smorest import Blueprint, abort

from shop.api import examples, records
from shop.api.cursors import MAX_LIMIT, BadCursor, make_cursor, read_cursor
from shop.api.http import REFUSAL_HEADERS
from shop.api.schemas import (
    BatchCheckSchema,
    BatchPageSchema,
    BatchSchema,
    ErrorSchema,
    PageArgsSchema,
    ProductPageSchema,
    ProductSchema,
    WorkshopPageSchema,
    WorkshopSchema,
)
from shop.csv_import import CODE_RE, SLUG_RE
from shop.provenance.services import BATCH_CODE_MAX
from shop.web import public_url

blp = Blueprint("api_v1", __name__, url_prefix="/api/v1", description="The partner API, version 1.")

CACHE_CONTROL = "public, max-age=60"
# A check must show a suspension or a revocation at once: caches revalidate every time.
CHECK_CACHE_CONTROL = "public, max-age=0, must-revalidate"

_string = {"schema": {"type": "string"}}
HEADERS = {
    "ETag": {
        **_string,
        "required": True,
        "description": "A hash of the body: send it back as If-None-Match to get 304 while "
        "the answer is unchanged.",
    },
    "Cache-Control": {
        **_string,
        "required": True,
        "description": f"`{CACHE_CONTROL}` (`{CHECK_CACHE_CONTROL}` for a check).",
    },
}
LINK_HEADER = {
    "Link": {
        **_string,
        "description": 'The next page, as `<URL>; rel="next"`; absent on the last page.',
    }
}
RETRY_AFTER = {
    **REFUSAL_HEADERS,
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
        "description": "Seconds to wait before asking again.",
    },
}
SLUG_PARAMETER = {
    "in": "path",
    "name": "slug",
    "description": "The slug, as the listing gives it.",
    "schema": {"type": "string", "pattern": SLUG_RE.pattern, "maxLength": 120},
}
CODE_PARAMETER = {
    "in": "path",
    "name": "code",
    "description": "The batch code, as printed on the tag.",
    "schema": {"type": "string", "pattern": CODE_RE.pattern, "maxLength": BATCH_CODE_MAX},
    "example": examples.BATCH_CODE,
}


def answers(not_found: tuple[str, str] | None = None, bad_request: str | None = None):
    """Document the answers every operation may give besides its 200; `not_found`: the
    404's description and an example of its message."""

    def decorate(view):
        view = blp.alt_response(
            304,
            description="Not Modified: the If-None-Match sent names the current answer. No body.",
            headers=HEADERS,
        )(view)
        view = blp.alt_response(
            400,
            schema=ErrorSchema,
            description=bad_request
            or "Bad Request: the request cannot be read (a NUL character in it, for instance).",
            headers=REFUSAL_HEADERS,
            example=examples.error(400, "limit must be a whole number from 1 to 100"),
        )(view)
        if not_found:
            view = blp.alt_response(
                404,
                schema=ErrorSchema,
                description=not_found[0],
                headers=REFUSAL_HEADERS,
                example=examples.error(404, not_found[1]),
            )(view)
        view = blp.alt_response(
            429,
            schema=ErrorSchema,
            description="Too Many Requests: more than API_RATE_LIMIT (120 a minute by "
            "default) from this address.",
            headers=RETRY_AFTER,
            example=examples.error(
                429,
                "Too many requests from your address: at most 120 per minute. Try again in "
                "42 seconds.",
            ),
        )(view)
        return blp.alt_response(
            503,
            schema=ErrorSchema,
            description="Service Unavailable: the rate-limit counters cannot be reached for "
            "a moment; nothing was answered uncounted.",
            headers=RETRY_AFTER,
        )(view)

    return decorate


ECHO_MAX = 40  # as the resolver: a path value echoed in a message is cut to this


def _echo(value: str) -> str:
    """A path value as a message repeats it: at most ECHO_MAX characters, then an ellipsis."""
    return value if len(value) <= ECHO_MAX else value[:ECHO_MAX] + "…"


def _page(listing: str, endpoint: str, args: dict, read):
    """One page of a listing: its items, the next page's link in the body and in a
    Link header."""
    try:
        after = read_cursor(listing, args.get("cursor"))
    except BadCursor as exc:
        abort(400, message=str(exc))
    page = read(after, args["limit"])
    next_url = None
    if page.next_after is not None:
        cursor = make_cursor(listing, page.next_after)
        next_url = public_url(endpoint, cursor=cursor, limit=args["limit"])
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return {"items": page.rows, "next": next_url}, headers


BAD_PAGE = (
    f"Bad Request: a cursor this API did not give out for this listing, or a limit that "
    f"is not a whole number from 1 to {MAX_LIMIT}."
)
PAGE_ARGS = {"location": "query", "error_status_code": 400}
NO_BATCH = ("Not Found: no batch with this code has a public record.", "No batch 'XX-1'.")


@blp.route("/products", tags=["Products"])
@blp.doc(operationId="listProducts")
@answers(bad_request=BAD_PAGE)
@blp.arguments(PageArgsSchema, **PAGE_ARGS)
@blp.response(
    200,
    ProductPageSchema,
    description="A page of products on sale, in the order of their slugs.",
    headers={**HEADERS, **LINK_HEADER},
    example=examples.page(examples.PRODUCT, "/api/v1/products"),
)
def list_products(args: dict):
    """Products on sale

    Every product on sale (never a draft or an archived one), with its variants, their
    prices and availability, and the share of each sale credited to the makers' training
    accounts. A product of a suspended workshop stays listed, with `available: false` and
    every variant `out_of_stock`. Paginated by cursor: follow `next`.
    """
    return _page("products", "api_v1.list_products", args, records.products_slice)


@blp.route(
    "/products/<slug>",
    tags=["Products"],
    parameters=[{**SLUG_PARAMETER, "example": examples.PRODUCT["slug"]}],
)
@blp.doc(operationId="getProduct")
@answers(
    not_found=(
        "Not Found: no product with this slug is on sale.",
        "No product 'silk-scarf' is on sale.",
    )
)
@blp.response(
    200, ProductSchema, description="The product.", headers=HEADERS, example=examples.PRODUCT
)
def get_product(slug: str):
    """One product on sale

    The same record as in the listing. A draft or an archived product is not found.
    """
    found = records.product_by_slug(slug)
    if found is None:
        abort(404, message=f"No product '{_echo(slug)}' is on sale.")
    return found


@blp.route("/workshops", tags=["Workshops"])
@blp.doc(operationId="listWorkshops")
@answers(bad_request=BAD_PAGE)
@blp.arguments(PageArgsSchema, **PAGE_ARGS)
@blp.response(
    200,
    WorkshopPageSchema,
    description="A page of workshops, in the order of their slugs.",
    headers={**HEADERS, **LINK_HEADER},
    example=examples.page(examples.WORKSHOP, "/api/v1/workshops"),
)
def list_workshops(args: dict):
    """Workshops

    The workshops that make what the store sells: their public record and vetting
    summary. Never an address, a contact, coordinates or a head count; where a workshop's
    country is withheld for the makers' safety, neither its country nor its region.
    """
    return _page("workshops", "api_v1.list_workshops", args, records.workshops_slice)


@blp.route(
    "/workshops/<slug>",
    tags=["Workshops"],
    parameters=[{**SLUG_PARAMETER, "example": examples.WORKSHOP["slug"]}],
)
@blp.doc(operationId="getWorkshop")
@answers(not_found=("Not Found: no workshop with this slug.", "No workshop 'loom-house'."))
@blp.response(
    200, WorkshopSchema, description="The workshop.", headers=HEADERS, example=examples.WORKSHOP
)
def get_workshop(slug: str):
    """One workshop

    The same record as in the listing: public fields and the vetting summary only.
    """
    found = records.workshop_by_slug(slug)
    if found is None:
        abort(404, message=f"No workshop '{_echo(slug)}'.")
    return found


@blp.route("/batches", tags=["Batches"])
@blp.doc(operationId="listBatches")
@answers(bad_request=BAD_PAGE)
@blp.arguments(PageArgsSchema, **PAGE_ARGS)
@blp.response(
    200,
    BatchPageSchema,
    description="A page of production batches, in the order of their codes.",
    headers={**HEADERS, **LINK_HEADER},
    example=examples.page(examples.BATCH, "/api/v1/batches"),
)
def list_batches(args: dict):
    """Production batches

    Every batch with a public record (as at /p/<code>): its product, variant, workshop,
    month and materials, and links to its page, passport and linkset. Never its makers.
    """
    return _page("batches", "api_v1.list_batches", args, records.batches_slice)


@blp.route("/batches/<code>", tags=["Batches"], parameters=[CODE_PARAMETER])
@blp.doc(operationId="getBatch")
@answers(not_found=NO_BATCH)
@blp.response(200, BatchSchema, description="The batch.", headers=HEADERS, example=examples.BATCH)
def get_batch(code: str):
    """One production batch

    The same record as in the listing, found by the code printed on the tag. A batch of
    a draft product has no public record.
    """
    found = records.batch_by_code(code)
    if found is None:
        abort(404, message=f"No batch '{_echo(code)}'.")
    return found


@blp.route("/batches/<code>/verify", tags=["Batches"], parameters=[CODE_PARAMETER])
@blp.doc(operationId="verifyBatch")
@answers(not_found=NO_BATCH)
@blp.response(
    200,
    BatchCheckSchema,
    description="The check and its verdict.",
    headers=HEADERS,
    example=examples.CHECK,
)
def verify_batch(code: str):
    """Check a batch

    Is this batch made by a vetted workshop that is not suspended, and is its passport
    valid? `verdict` is `ok` only when all of it holds; otherwise `reasons` says what
    does not. Cached for no time (`max-age=0`): a suspension or a revocation shows at
    once.
    """
    found = records.batch_check(code)
    if found is None:
        abort(404, message=f"No batch '{_echo(code)}'.")
    return found, {"Cache-Control": CHECK_CACHE_CONTROL}
