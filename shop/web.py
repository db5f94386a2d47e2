"""Store-wide web pieces: health check, media files, errors, headers, filters."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
    session,
    stream_with_context,
)
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from shop.extensions import db
from shop.money import format_money
from shop.provenance.services import country_name

log = logging.getLogger("shop")
bp = Blueprint("web", __name__)

ERROR_COPY = {
    400: (
        "That request did not make sense",
        "Something in the request was missing or malformed. Please go back and try again.",
    ),
    403: ("This page is not for you", "Your account does not have access to this page."),
    404: (
        "We could not find that page",
        "The link may be old, or the item may no longer be in the shop.",
    ),
    405: ("That action is not allowed here", "This page cannot be used that way."),
    413: ("That file is too large", "Files may be at most 8 MB. Nothing was saved."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: (
        "Something went wrong on our side",
        "Nothing you did caused this, and nothing was charged. Please try again in a moment.",
    ),
}


def content_security_policy(stripe_js_url: str | None = None) -> str:
    """The store's CSP; with Stripe, its script, frames and API are allowed too."""
    script, frame, connect = ["'self'"], ["'none'"], ["'self'"]
    if stripe_js_url:
        parts = urlsplit(stripe_js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        script.append(origin)
        frame = [origin, "https://hooks.stripe.com"]
        connect += [origin, "https://api.stripe.com"]
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data: https:",
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


@bp.get("/media/<path:filename>")
def media(filename: str):
    # send_from_directory refuses paths that leave MEDIA_ROOT.
    response = send_from_directory(current_app.config["MEDIA_ROOT"], filename, max_age=86_400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def render_error(code: int):
    title, message = ERROR_COPY.get(code, ERROR_COPY[500])
    return render_template("error.html", code=code, title=title, message=message), code


def register_error_handlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError):
        db.session.rollback()
        return render_template(
            "error.html", code=400, title="This form has expired",
            message="The form was open too long, or was sent from another site. Nothing was "
            "changed: please go back, reload the page and try again.",
        ), 400  # fmt: skip

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None:  # it carries its own page (e.g. a rate limit's on_breach)
            return exc.response
        return render_error(exc.code)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        if app.testing and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return render_error(500)


def register_security_headers(app: Flask) -> None:
    stripe_js = (
        app.config.get("STRIPE_JS_URL") if app.config.get("PAYMENT_GATEWAY") == "stripe" else None
    )
    policy = content_security_policy(stripe_js)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


def template_helpers(app: Flask) -> None:
    def locale() -> str:
        return current_app.config["STORE_LOCALE"]

    @app.template_filter("money")
    def money_filter(amount: int | None, currency: str | None = None) -> str:
        if amount is None:
            return ""
        return format_money(amount, currency or current_app.config["STORE_CURRENCY"], locale())

    @app.template_filter("month")
    def month_filter(value: date | str | None) -> str:
        if isinstance(value, str):  # 'YYYY-MM', as the ledger reports group by
            value = date.fromisoformat(f"{value}-01") if len(value) == 7 else None
        return format_date(value, "MMMM y", locale=locale()) if value else ""

    @app.template_filter("short_month")
    def short_month_filter(value: str) -> str:
        """'2026-03' -> 'Mar'."""
        return format_date(date.fromisoformat(f"{value}-01"), "MMM", locale=locale())

    @app.template_filter("day")
    def day_filter(value: date | None) -> str:
        return format_date(value, "d MMM y", locale=locale()) if value else ""

    @app.template_filter("country")
    def country_filter(code: str | None) -> str:
        return country_name(code, locale()) or "Location withheld"

    @app.template_filter("percent_bps")
    def percent_bps(bps: int) -> str:
        """1000 -> '10', 1250 -> '12.5'."""
        return format_decimal(Decimal(bps).scaleb(-2), locale=locale())

    @app.context_processor
    def store_globals():
        from shop.orders.cart import read

        return {
            "store_name": current_app.config["STORE_NAME"],
            "cart_count": sum(read(session).values()),
        }


# --- CSV downloads ----------------------------------------------------------------------


def _cell(value):
    """Spreadsheet-safe: a leading = + - @ would run as a formula."""
    if not isinstance(value, str):
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


def page_number() -> int:
    """The ?page= of a paginated list: a whole number from 1, anything else is page 1."""
    return max(request.args.get("page", 1, type=int) or 1, 1)
