"""What every answer under /api/v1 shares: the rate limit, JSON errors, ETags and 304s,
Cache-Control and CORS.

- Rate limit: every GET or HEAD counts against API_RATE_LIMIT ("120 per minute" by
  default) per client address (a keyed digest, as the store's other limits: the
  counters never hold an address), through the store's counters (shop.rate_limits:
  memory, or Redis where several processes serve). Over it: 429 with Retry-After.
  When the counters cannot be reached: 503 with Retry-After, never an answer uncounted.
- JSON with `<`, `>` and `&` written as \\u escapes (the same values to any parser),
  so no answer holds markup a browser could sniff into a page.
- Errors: {"error": {"status": <code>, "message": "…"}} for every refusal under the
  prefix (400, 404, 405, 429, 500, 503), never the store's HTML error page.
- ETag: a hash of the body of every 200; If-None-Match naming it gets 304 without one.
- Cache-Control: `public, max-age=60` unless the view says otherwise (a check says
  max-age=0); `no-store` on every refusal, so that no shared cache keeps a 404 for a
  batch published a moment later (a 404 is cacheable by default).
- CORS: `Access-Control-Allow-Origin: *` on the answers to GET, HEAD and OPTIONS, and
  a preflight answered for those methods only. Nothing here reads a cookie, and a
  browser sends none cross-origin to a `*` answer, so opening reads to every origin
  hands out nothing but public records. No method that changes anything exists here,
  so no form is exempted from CSRF (CSRFProtect checks POST, PUT, PATCH and DELETE only).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, TooManyRequests

from shop.config import DEFAULT_API_RATE_LIMIT
from shop.rate_limits import client_digest, seconds_until_free, take
from shop.sessions import same_for_everyone
from shop.web import answer_errors_under

PREFIX = "/api/v1"
DEFAULT_CACHE_CONTROL = "public, max-age=60"
REFUSAL_CACHE_CONTROL = "no-store"
# How the OpenAPI document states it, on every refusal it describes.
REFUSAL_HEADERS = {
    "Cache-Control": {
        "schema": {"type": "string", "const": REFUSAL_CACHE_CONTROL},
        "required": True,
        "description": f"`{REFUSAL_CACHE_CONTROL}`: a refusal is never kept by a cache.",
    }
}
READ_METHODS = ("GET", "HEAD")
CORS_METHODS = "GET, HEAD, OPTIONS"
# What a browser's script may read besides the safelisted headers (Cache-Control and
# Content-Type are safelisted already).
EXPOSED_HEADERS = "ETag, Link, Retry-After"
PREFLIGHT_MAX_AGE = "86400"

MESSAGES = {
    400: "The request cannot be read.",
    404: f"Nothing here. The endpoints are listed at {PREFIX}/docs.",
    405: "This API only reads: it answers GET, HEAD and OPTIONS.",
}


def under_api(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_API_RATE_LIMIT


def _take_a_slot() -> None:
    """Count this request against the client address's limit; 429 when over it."""
    limit, key = rate_limit(), f"api-address:{client_digest()}"
    g.shop_limited_action = "API requests"  # the 503 when the counters cannot be reached
    if take(limit, key):
        return
    wait = seconds_until_free(limit, key)
    refusal = TooManyRequests(retry_after=wait)
    refusal.data = {
        "message": f"Too many requests from your address: at most {limit}. "
        f"Try again in {wait} seconds."
    }
    raise refusal


def _validation_message(messages) -> str:
    """webargs' errors ({"query": {"limit": ["…"]}}) as one sentence."""
    found = []
    for fields in (messages or {}).values():
        for name, problems in (fields or {}).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = str(problem)
                found.append(text if text.startswith(name) else f"{name}: {text}")
    return "; ".join(found) or MESSAGES[400]


def _message(code: int, message: str, exc: HTTPException | None) -> str:
    """What the refusal says: the view's own words, else webargs' about the query, else
    the API's words for a bare HTTP error (the store's pages' copy speaks of pages),
    else what the store said (a NUL character, counters down)."""
    if exc is None:
        return message
    data = getattr(exc, "data", None) or {}
    if "message" in data:
        return str(data["message"])
    if "messages" in data:
        return _validation_message(data["messages"])
    return MESSAGES.get(code, message)


def json_error(code: int, message: str, exc: HTTPException | None):
    """A refusal under /api/v1, as JSON (shop.web.error_answer calls it)."""
    response = jsonify({"error": {"status": code, "message": _message(code, message, exc)}})
    if exc is not None:  # Allow (405), Retry-After (429)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response, code


# In JSON these characters occur only inside strings, where their \u escapes read the
# same to every parser: no answer then holds markup a browser could take for a page.
_HTML_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _html_safe(response: Response) -> None:
    if response.mimetype == "application/json" and not response.direct_passthrough:
        text = response.get_data(as_text=True)
        safe = text.translate(_HTML_SAFE)
        if safe != text:
            response.set_data(safe)


def _shared_headers(response: Response) -> Response:
    if not under_api(request.path):
        return response
    same_for_everyone(response)  # no answer under /api/ reads a cookie
    _html_safe(response)
    if request.method in (*READ_METHODS, "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    if request.method in READ_METHODS and response.status_code == 200:
        response.headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)
        if "ETag" not in response.headers:  # the reference page's own (page cache) stays
            response.add_etag()  # a hash of the body
            response.make_conditional(request)  # 304 when If-None-Match names it
    if response.status_code >= 400:
        response.headers["Cache-Control"] = REFUSAL_CACHE_CONTROL
    return response


def init_http(app: Flask) -> None:
    answer_errors_under(app, PREFIX, json_error)

    @app.before_request
    def limit_api_reads():
        if request.method in READ_METHODS and under_api(request.path):
            _take_a_slot()

    app.after_request(_shared_headers)
