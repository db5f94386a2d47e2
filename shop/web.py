"""Store-wide web pieces: health check, media files, errors, headers, filters."""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.routing import IntegerConverter
from wtforms import IntegerField

from shop.extensions import db
from shop.media import MEDIA_PATH, serve_media
from shop.money import money_text
from shop.provenance.services import country_name

log = logging.getLogger("shop")
bp = Blueprint("web", __name__)

ERROR_COPY = {
    400: (
        _l("That request did not make sense"),
        _l("Something in the request was missing or malformed. Please go back and try again."),
    ),
    403: (_l("This page is not for you"), _l("Your account does not have access to this page.")),
    404: (
        _l("We could not find that page"),
        _l("The link may be old, or the item may no longer be in the shop."),
    ),
    405: (_l("That action is not allowed here"), _l("This page cannot be used that way.")),
    413: (_l("That file is too large"), _l("Files may be at most 8 MB. Nothing was saved.")),
    429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
    500: (
        _l("Something went wrong on our side"),
        _l("Nothing you did caused this, and nothing was charged. Please try again in a moment."),
    ),
}


def content_security_policy(stripe_js_url: str | None = None, media_base_url: str = "") -> str:
    """The store's CSP; with Stripe, its script, frames and API are allowed too; images
    may come from MEDIA_BASE_URL (any https: origin is allowed already)."""
    script, frame, connect = ["'self'"], ["'none'"], ["'self'"]
    images = ["'self'", "data:", "https:"]
    if media_base_url.startswith("http:"):
        parts = urlsplit(media_base_url)
        images.append(f"{parts.scheme}://{parts.netloc}")
    if stripe_js_url:
        parts = urlsplit(stripe_js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        script.append(origin)
        frame = [origin, "https://hooks.stripe.com"]
        connect += [origin, "https://api.stripe.com"]
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src {' '.join(images)}",
            "style-src 'self'",
            f"script-src {' '.join(script)}",
            f"frame-src {' '.join(frame)}",
            f"connect-src {' '.join(connect)}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # the check's whole point is to report any failure
        log.exception("health check: database unreachable")
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get(f"{MEDIA_PATH}<path:filename>")
def media(filename: str):
    return serve_media(filename)


ERROR_ANSWERS = "shop_error_answers"


def answer_errors_under(app: Flask, prefix: str | re.Pattern, answer) -> None:
    """Requests under the path `prefix` (or whose path the pattern matches) are refused
    with `answer(code, message, exc)` (a response) rather than the store's error page: the
    partner API answers JSON, a credential's address plain text. `message` is the one
    written for people; `exc`, when there is one, the HTTPException raised."""
    if isinstance(prefix, str):
        prefix = re.compile(re.escape(prefix.rstrip("/")) + r"(/|$)")
    app.extensions.setdefault(ERROR_ANSWERS, []).append((prefix, answer))


def error_answer(code: int, title: str, message: str, exc: HTTPException | None = None):
    """A refusal as the store answers it: the error page, or under a prefix registered
    with `answer_errors_under`, that part's own answer. Every refusal comes here."""
    if has_request_context():
        for where, answer in current_app.extensions.get(ERROR_ANSWERS, ()):
            if where.match(request.path):
                return answer(code, message, exc)
    return render_template("error.html", code=code, title=title, message=message), code


def render_error(code: int, exc: HTTPException | None = None):
    title, message = ERROR_COPY.get(code, ERROR_COPY[500])
    return error_answer(code, str(title), str(message), exc)


def register_error_handlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError):
        db.session.rollback()
        return render_template(
            "error.html", code=400, title=_("This form has expired"),
            message=_("The form was open too long, or was sent from another site. Nothing was "
                      "changed: please go back, reload the page and try again."),
        ), 400  # fmt: skip

    @app.errorhandler(SecurityError)
    def untrusted_host(_exc: SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page template.
        return Response("Unknown host.\n", status=400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None:  # it carries its own page (e.g. a rate limit's on_breach)
            return exc.response
        return render_error(exc.code, exc)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        if app.testing and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return render_error(500)


# Browsers reach a deployed store over HTTPS only, for a year after any visit.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def register_security_headers(app: Flask) -> None:
    stripe_js = (
        app.config.get("STRIPE_JS_URL") if app.config.get("PAYMENT_GATEWAY") == "stripe" else None
    )
    policy = content_security_policy(stripe_js, app.config.get("MEDIA_BASE_URL") or "")
    # Not in development: `make run` serves plain HTTP on 127.0.0.1.
    hsts = app.config.get("ENV_NAME", "development") != "development"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response


# --- absolute links ---------------------------------------------------------------------

# Where `make run` serves when a link is built outside any request in development.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def public_url(endpoint: str, **values) -> str:
    """The absolute link to `endpoint` for emails, QR codes and anything read off-site.

    Always on PUBLIC_BASE_URL, never on the Host header a request came with (which
    anyone can set: a reset link on evil.example would hand its token to the attacker).
    Only in development, where the store may run with nothing configured, does a
    missing PUBLIC_BASE_URL fall back to the address of the request being served;
    create_app refuses to start without it anywhere else.
    """
    app = current_app._get_current_object()
    base = app.config.get("PUBLIC_BASE_URL")
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    return _on_base(app, base or DEVELOPMENT_BASE_URL, endpoint, values)


def site_url(endpoint: str, **values) -> str:
    """The absolute link to `endpoint` a public page shows every visitor (its canonical
    link, social cards, structured data, the sitemap): on PUBLIC_BASE_URL, and never on
    the request's Host, not even in development, since the page cache keeps the page
    and serves it to the next visitor, whatever Host they asked for."""
    app = current_app._get_current_object()
    return _on_base(
        app, app.config.get("PUBLIC_BASE_URL") or DEVELOPMENT_BASE_URL, endpoint, values
    )


def _on_base(app: Flask, base: str, endpoint: str, values: dict) -> str:
    parts = urlsplit(base)
    adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    app.inject_url_defaults(endpoint, values)
    return adapter.build(endpoint, values, force_external=True)


@functools.cache
def _narrow_months_differ(locale: str) -> bool:
    """Whether a reader can tell the months apart by their one-letter names. English's
    J F M A M J J A S O N D is a convention its readers know; Khmer's ម ក ម ម ... and
    Hindi's three अ are not: those charts number their months on a small screen."""
    names = [format_date(date(2026, month, 1), "MMMMM", locale=locale) for month in range(1, 13)]
    return len(set(names)) == 12 or locale.startswith("en")


def template_helpers(app: Flask) -> None:
    from shop.typography import whole_words

    app.add_template_global(public_url)
    app.add_template_global(site_url)
    app.add_template_filter(whole_words, "whole_words")

    from shop.i18n import locale_code as locale

    @app.template_filter("money")
    def money_filter(amount: int | None, currency: str | None = None) -> str:
        if amount is None:
            return ""
        return money_text(amount, currency or current_app.config["STORE_CURRENCY"])

    @app.template_filter("month")
    def month_filter(value: date | str | None) -> str:
        if isinstance(value, str):  # 'YYYY-MM', as the ledger reports group by
            value = date.fromisoformat(f"{value}-01") if len(value) == 7 else None
        return format_date(value, "MMMM y", locale=locale()) if value else ""

    @app.template_filter("short_month")
    def short_month_filter(value: str, narrow: bool = False) -> str:
        """'2026-03' -> 'Mar' (narrow: 'M', for a chart on a small screen; the month's
        number where the language's one-letter names repeat, as Khmer's five "ម")."""
        code = locale()
        pattern = ("MMMMM" if _narrow_months_differ(code) else "M") if narrow else "MMM"
        return format_date(date.fromisoformat(f"{value}-01"), pattern, locale=code)

    @app.template_filter("day")
    def day_filter(value: date | None) -> str:
        return format_date(value, "d MMM y", locale=locale()) if value else ""

    @app.template_filter("utc_time")
    def utc_time_filter(value: datetime | None) -> str:
        """A moment's time of day in UTC, '14:05' (the page says "UTC" beside it)."""
        return format_time(value, "HH:mm", tzinfo=UTC, locale=locale()) if value else ""

    @app.template_filter("utc_moment")
    def utc_moment_filter(value: datetime | str | None) -> str:
        """A moment (a datetime, or the log's ISO text '2026-12-01T02:11:42Z') as the
        reader's locale writes a date and time, in UTC: 'Dec 1, 2026, 2:11:42 AM UTC'."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (
            f"{format_datetime(value, 'medium', tzinfo=UTC, locale=locale())} UTC" if value else ""
        )

    @app.template_filter("country")
    def country_filter(code: str | None) -> str:
        return country_name(code, locale()) or _("Location withheld")

    @app.template_filter("shipping_label")
    def shipping_label_filter(code: str) -> str:
        """'standard' -> 'Standard post (7 to 14 days)', as the buyer chose it."""
        from shop.orders.checkout import shipping_label

        return shipping_label(code)

    @app.template_filter("percent_bps")
    def percent_bps(bps: int) -> str:
        """1000 -> '10', 1250 -> '12.5'."""
        return format_decimal(Decimal(bps).scaleb(-2), locale=locale())

    @app.context_processor
    def store_globals():
        from shop.orders.cart import read

        return {
            "store_name": current_app.config["STORE_NAME"],
            # Emails are rendered by commands too, where there is no visitor and no cart.
            "cart_count": sum(read(session).values()) if has_request_context() else 0,
        }


# --- CSV downloads ----------------------------------------------------------------------


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _cell(value):
    """Spreadsheet-safe: a leading = + - @ would run as a formula. A plain number such as
    '-12.34' runs nothing and stays a number, so amounts can still be added up."""
    if not isinstance(value, str) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_response(filename: str, header: list[str], rows) -> Response:
    """Stream rows as a CSV download, a chunk at a time."""

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def major(amount: int, currency: str | None = None) -> str:
    """Minor units as a plain decimal for spreadsheets: -1234 USD -> '-12.34'."""
    from shop.money import minor_digits

    digits = minor_digits(currency or current_app.config["STORE_CURRENCY"])
    return str(Decimal(amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


# --- Where to go back to --------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects): sign-in's
    `next` and the language menu's. A control character or space anywhere refuses it:
    browsers drop tabs and line breaks, so `/<TAB>/evil.example` would lead away."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
    ):
        return None
    if "\\" in target or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    return target


# --- Numbers and characters from the address bar -------------------------------------

# Ids and counts live in 32-bit integer columns (PostgreSQL's `integer`); a larger number
# in a path or query string names nothing, and must never reach the database.
MAX_DB_INT = 2**31 - 1


def whole_number(text: str | None, *, minimum: int = 0, maximum: int = MAX_DB_INT) -> int | None:
    """'42' -> 42. Only ASCII digits ('²', '٣', '1e3', '+1', '-1' are not numbers here) and
    only within [minimum, maximum]; anything else is None."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


_SIGNED_WHOLE = re.compile(r"[+-]?[0-9]+")  # [0-9], not \d: '٣' and '３' are not digits here


def signed_whole_number(text: str | None) -> int | None:
    """'-3' -> -3, '+2' -> 2. Only ASCII digits 0-9 with an optional sign, within what an
    integer column holds; anything else is None."""
    text = (text or "").strip()
    if not _SIGNED_WHOLE.fullmatch(text) or len(text.lstrip("+-")) > len(str(MAX_DB_INT)):
        return None
    number = int(text)
    return number if -MAX_DB_INT <= number <= MAX_DB_INT else None


class WholeNumberField(IntegerField):
    """A form's whole number: ASCII digits 0-9 and a sign only. (WTForms' IntegerField
    calls int(), which also reads '٣' and '３' as 3; a stock count or quantity typed
    that way is refused with a message instead.)"""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = signed_whole_number(valuelist[0] if isinstance(valuelist[0], str) else None)
        if self.data is None:
            from shop.i18n import locale_code

            largest = format_decimal(MAX_DB_INT, locale=locale_code())
            raise ValueError(
                _("Enter a whole number with the digits 0-9 (at most %(largest)s), like 3 or -2.",
                  largest=largest)
            )  # fmt: skip


def int_arg(name: str, *, minimum: int = 1) -> int | None:
    """A query-string id or count (?workshop=3): a whole number in range, else None."""
    return whole_number(request.args.get(name), minimum=minimum)


def page_number() -> int:
    """The ?page= of a paginated list: a whole number from 1, anything else is page 1."""
    return int_arg("page") or 1


class DatabaseIntConverter(IntegerConverter):
    """`<int:id>` in routes, bounded to what an id column can hold: a larger number is a
    404 like any other id that does not exist, not a database error."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(url_map, *args, **kwargs)


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def register_request_guards(app: Flask) -> None:
    """Input no page can use, refused once for every request before any view runs. Call
    before the blueprints are registered, so their routes use the bounded converter."""
    app.url_map.converters["int"] = DatabaseIntConverter

    @app.before_request
    def refuse_nul_bytes():
        # No text the store keeps or looks up contains a NUL, and PostgreSQL refuses it in
        # any string, so a request carrying one is malformed: 400, and nothing is written.
        in_form = request.method not in ("GET", "HEAD", "OPTIONS") and _has_nul(request.form)
        if "\x00" in request.path or _has_nul(request.args) or in_form:
            return error_answer(
                400, _("That request held a character we cannot keep"),
                _("Something sent held a NUL character, which no name, address or search "
                  "can contain. Nothing was changed: please retype it and try again."),
            )  # fmt: skip
        return None
