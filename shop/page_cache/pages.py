"""Public pages served from the page cache, with ETags and 304s.

A public page (home, the listing, a product, the workshops, a batch record, /impact) is
two kinds of HTML: what every visitor sees (the catalog, the workshop, the stock shown),
and what is this visitor's own (the header's cart count and account links, flashed
messages, the form token). The first is rendered once per storefront version and kept
in the page cache, with marks where the second goes; each view fills the marks in for
its visitor. So nothing personal is ever stored, and a hit costs one SQL statement (the
version) and a few string replacements.

Its ETag names the storefront version, the page, and what the visitor's parts show, so
it changes whenever anything on the page does: a browser that sends it back gets a 304
without any rendering. Responses say `Cache-Control: private, no-cache` and
`Vary: Cookie`: the header and the form token are personal, so no shared cache (a proxy,
a CDN) may keep them, and a browser must ask again each time (stock shown is never older
than the last sale). No Last-Modified: its one-second resolution cannot tell apart two
changes within a second, and the visitor's parts have no modification time.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Flask,
    Response,
    current_app,
    g,
    get_flashed_messages,
    render_template,
    request,
    session,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from shop.breaker import redis_breaker
from shop.extensions import db
from shop.page_cache import version
from shop.page_cache.store import PageStore
from shop.sessions import signed_in
from shop.timeutil import utcnow

# HTML comments: anything a user typed is escaped on the way into a page, so no product
# text can contain one of these marks.
MARKS = {
    "nav": Markup("<!--shop:visitor-nav-->"),
    "flashes": Markup("<!--shop:flashes-->"),
}
TOKEN_MARK = "<!--shop:form-token-->"  # noqa: S105 (a mark, not a secret)
PUBLIC_CACHE_CONTROL = "private, no-cache"
PRIVATE_CACHE_CONTROL = "no-store"
DEFAULT_TOKEN_SECONDS = 3600  # Flask-WTF's WTF_CSRF_TIME_LIMIT default
# Settings whose Redis data the page cache must not share a server with.
SHARES_WITH = ("QUEUE_URL", "RATELIMIT_STORAGE_URI")

log = logging.getLogger(__name__)


def init_page_cache(app: Flask, root: Path) -> None:
    url = app.config.get("CACHE_URL") or ""
    app.extensions["page_cache"] = PageStore(
        url, app.config.get("CACHE_KEY_PREFIX") or "shop:",
        guard=redis_breaker(app, url) if url else None,
    )  # fmt: skip
    app.extensions["page_cache_release"] = _release(app, root)
    app.extensions["page_cache_navs"] = {}
    version.track_changes(db.session.session_factory.class_)
    app.add_template_global(MARKS, "page_marks")

    @app.after_request
    def personal_pages_are_not_stored(response: Response) -> Response:
        # Every other HTML page (cart, checkout, account, admin, staff, forms) is
        # someone's own, or carries a form token: no cache anywhere keeps it.
        if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
        return response


def page_store(app: Flask | None = None) -> PageStore:
    return (app or current_app).extensions["page_cache"]


def warn_about_sharing() -> None:
    """Log, once per process, what is wrong with how the shared cache's Redis is set up
    (the readiness check calls it: see PageStore.sharing_warnings)."""
    app = current_app._get_current_object()
    if app.extensions.get("page_cache_warned"):
        return
    app.extensions["page_cache_warned"] = True
    others = {name: app.config.get(name) or "" for name in SHARES_WITH}
    for warning in page_store(app).sharing_warnings(others):
        log.warning("page cache: %s", warning)


def _release(app: Flask, root: Path) -> str:
    """What the HTML is made from besides the data: the templates, the code and the
    settings pages show. A new deployment changes it, so no ETag outlives one."""
    digest = hashlib.sha256()
    for folder, pattern in (
        (root / "templates", "**/*.html"), (root / "shop", "**/*.py"),
        (root / "translations", "*/LC_MESSAGES/*.po"),
    ):  # fmt: skip
        for path in sorted(folder.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for name in ("STORE_NAME", "STORE_LOCALE", "STORE_CURRENCY", "PUBLIC_BASE_URL"):
        digest.update(f"{name}={app.config.get(name)}".encode())
    digest.update(str(app.config.get("VETTING_VISIT_INTERVAL_DAYS")).encode())
    return digest.hexdigest()[:16]


def _roles() -> tuple | None:
    """The signed-in visitor's roles, or None (most visitors: anonymous)."""
    return tuple(sorted(current_user.role_names)) if signed_in() else None


def _visitor() -> tuple:
    """What this visitor's parts of a page show (never who they are), and in which
    language."""
    from shop.i18n import current_language
    from shop.orders.cart import read

    return sum(read(session).values()), _roles(), current_language().code


def _token_part() -> str:
    """The form token in a page: its session secret and its age. A page older than half
    the token's lifetime is not revalidated, so its form never turns up expired."""
    secret = session.get("csrf_token") or ""
    lifetime = current_app.config.get("WTF_CSRF_TIME_LIMIT") or DEFAULT_TOKEN_SECONDS
    return (
        f"{hashlib.sha256(secret.encode()).hexdigest()[:12]}.{int(time.time() // (lifetime / 2))}"
    )


def _etag(page: str, visitor: tuple) -> str:
    text = f"{page}|{visitor}|{_token_part()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _nav(visitor: tuple) -> str:
    """The header's links for this kind of visitor (kept per cart count and roles) on this
    view (its link to the page the visitor is on is marked as the current one)."""
    navs = current_app.extensions["page_cache_navs"]
    key = (visitor, request.endpoint)
    html = navs.get(key)
    if html is None:
        html = _without_token(render_template("_visitor_nav.html"))
        if len(navs) < 1000:
            navs[key] = html
    return html


def _without_token(html: str) -> str:
    token = g.get("csrf_token")
    return html.replace(token, TOKEN_MARK) if token else html


def _fill(html: str, visitor: tuple) -> str:
    html = html.replace(MARKS["nav"], _nav(visitor), 1)
    flashes = ""
    if "_flashes" in session:
        flashes = render_template("_flashes.html", messages=get_flashed_messages(True))
    html = html.replace(MARKS["flashes"], flashes, 1)
    if TOKEN_MARK in html:
        html = html.replace(TOKEN_MARK, generate_csrf())
    return html


@dataclass(frozen=True)
class NotKept:
    """What a render answers for this request only, kept nowhere and with no ETag: a
    page that is not one of the catalog's (a listing page past the last, a category
    the catalog does not have), so that no visitor can add pages to the cache."""

    html: str
    status: int = 404


Render = Callable[[], "str | NotKept"]


def _shell(render: Render) -> str | NotKept:
    """`render()` with marks where the visitor's parts go, and without its form token."""
    g.shop_page_shell = True
    try:
        page = render()
    finally:
        g.shop_page_shell = False
    if isinstance(page, NotKept):
        return NotKept(_without_token(page.html), page.status)
    return _without_token(page)


def public_page(name: str, key: object, render: Render, *, keep: bool = True) -> Response:
    """Answer a GET for a public page: a 304 when the browser's copy is current, the
    cached page when there is one, else `render()` (a render_template call) kept for
    the next visitor. `key` names the page among those of `name` (its slug, the
    listing's filters and page number): only pages the catalog has, so the number of
    pages kept is bounded by the catalog. `keep=False`: rendered for each request and
    kept nowhere (a search's results: anyone can type anything), though still with an
    ETag. `render()` may answer `NotKept(html, status)` for a page that is not one."""
    current = version.current()
    if not current or version.changed(db.session):
        # No version yet (an unmigrated database), or this very unit has written what
        # pages show and not committed it: its view of the data is nobody else's.
        page = render()
        if isinstance(page, NotKept):
            return Response(page.html, status=page.status, mimetype="text/html")
        return Response(page, mimetype="text/html")
    app = current_app._get_current_object()
    visitor = _visitor()
    slot = f"{app.extensions['page_cache_release']}:{name}:{key}:{visitor[2]}"
    # The day too: what is overdue, the months /impact charts, move with the calendar.
    tag = f"{current}:{utcnow().date()}"
    secret = session.get("csrf_token")
    etag = _etag(f"{slot}:{tag}", visitor)
    cold_header = app.config.get("PAGE_CACHE_COLD_HEADER")
    cold = bool(cold_header) and cold_header in request.headers
    if not (cold or "_flashes" in session) and request.if_none_match.contains_weak(etag):
        return _public(None, 304, etag)
    store: PageStore = app.extensions["page_cache"]
    html = store.get(slot, tag) if keep and not cold else None
    if html is None:
        page = _shell(render)
        if isinstance(page, NotKept):
            return Response(_fill(page.html, visitor), status=page.status, mimetype="text/html")
        html = page
        if keep:
            store.set(slot, tag, html)
    html = _fill(html, visitor)
    if session.get("csrf_token") != secret:
        # A first visit's form token: the ETag names the session it made.
        etag = _etag(f"{slot}:{tag}", visitor)
    return _public(html, 200, etag)


def _public(html: str | None, status: int, etag: str) -> Response:
    # The headers given to the constructor: each one set afterwards would be compared
    # with every header already there.
    headers = [
        ("ETag", f'"{etag}"'), ("Cache-Control", PUBLIC_CACHE_CONTROL),
        ("Vary", "Cookie, Accept-Language"),
    ]  # fmt: skip
    return Response(html, status=status, mimetype="text/html", headers=headers)


def public_document(name: str, render: Callable[[], str], mimetype: str) -> Response:
    """Answer a GET for a document with nothing of the visitor in it (the sitemap): kept
    in the page cache per storefront version like a public page, with an ETag, so a
    crawler's visits cost one statement, or nothing but a 304."""
    current = version.current()
    if not current or version.changed(db.session):
        return Response(render(), mimetype=mimetype)
    slot = f"{current_app.extensions['page_cache_release']}:{name}:"
    tag = f"{current}:{utcnow().date()}"
    etag = hashlib.sha256(f"{slot}:{tag}".encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        store: PageStore = current_app.extensions["page_cache"]
        text = store.get(slot, tag)
        if text is None:
            text = render()
            store.set(slot, tag, text)
        response = Response(text, mimetype=mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, no-cache"
    return response
