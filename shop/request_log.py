"""Log lines as JSON objects, one a line, each tied to its request by a request id.

What a line may hold is decided here, once, for every logger: the message, the logger,
the level, the request id, the fields a caller passed as `extra={"fields": {...}}`, and
for an exception its type and where it was raised, never its message (a database error's
DETAIL, an SMTP refusal or a validation error can quote an address, a name or a token).
The access line of each request names its route (the URL rule, `/orders/<token>`), never
the path or query it was called with: guests' order links and verification links carry
their tokens in the path, and `?next=` can carry one in the query.

This module imports no part of the store, so gunicorn's config can use it in the master.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from time import perf_counter

from werkzeug.wsgi import ClosingIterator

ACCESS_LOGGER = "shop.access"
REQUEST_ID_HEADER = "X-Request-ID"
ROUTE_KEY = "shop.route"  # the WSGI environ key where the app leaves the matched URL rule
UNMATCHED_ROUTE = "<unmatched>"

# A proxy's or client's id is kept when it is one (a UUID, or a hex string such as a
# trace id); anything else is replaced. Letters and dots would let a client write an
# address or a name ("203.0.113.7", "jane.doe.example.org") into every log line.
_WELL_FORMED_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,64}"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

_request_id: ContextVar[str | None] = ContextVar("shop_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def request_id_from(header: str | None) -> str:
    if header and _WELL_FORMED_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which gunicorn worker
            # Defence in depth: no message of ours names an address, but a library's might.
            "message": _EMAIL.sub("[email withheld]", record.getMessage()),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__module__}.{type(error).__qualname__}"
            entry["stack"] = [
                f"{_short(frame.filename)}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(error.__traceback__)
            ]
        return json.dumps(entry, default=str)


def _short(filename: str) -> str:
    return "/".join(filename.replace("\\", "/").split("/")[-3:])


class PrivacyFilter(logging.Filter):
    """Libraries' lines that would name a visitor: gunicorn's about a bad request (the
    client's address, the raw URI with any token in it) and Flask-Limiter's breaches
    (the limit's key: an address, or a hash of the email tried). What happened stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.name.startswith("gunicorn"):
            if message.startswith("Invalid request from ip="):
                record.msg, record.args = "invalid request refused", ()
            elif message.startswith("Error handling request"):
                record.msg, record.args = "error handling request", ()
        elif (
            record.name == "flask-limiter"
            and message.startswith("ratelimit %s (%s) exceeded")
            and isinstance(record.args, tuple)
            and len(record.args) == 3
        ):
            limit, _key, endpoint = record.args
            record.msg, record.args = "ratelimit %s exceeded at endpoint: %s", (limit, endpoint)
        return True


def logging_config(level: str = "INFO") -> dict:
    """dictConfig for a server process: every logger, gunicorn's included, writes JSON
    lines to stdout; gunicorn's access log is off (the store writes its own)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"privacy": {"()": PrivacyFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["privacy"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "alembic": {"level": "WARNING"},  # each worker's start would log its plugins
        },
    }


def use_json_logs(level: int = logging.INFO) -> None:
    """JSON lines on stdout for a process that has no log handler of its own (the
    worker, a command); a no-op where one is set up already (gunicorn's config)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PrivacyFilter())
    root.addHandler(handler)
    root.setLevel(level)


Observer = Callable[[str, str, int, float], None]  # method, route, status, seconds


class RequestLogMiddleware:
    """Gives each request its id (echoed in X-Request-ID), times it until its body is
    sent, then writes its access line and tells `observe` (the metrics)."""

    def __init__(self, wsgi_app, observe: Observer | None = None):
        self.wsgi_app = wsgi_app
        self.observe = observe
        self.log = logging.getLogger(ACCESS_LOGGER)

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        token = _request_id.set(request_id)
        started = perf_counter()
        status = [500]  # what the server answers if the app raises before responding

        def start(status_line: str, headers: list, exc_info=None):
            status[0] = int(status_line[:3])
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        def finish() -> None:
            seconds = perf_counter() - started
            route = environ.get(ROUTE_KEY) or UNMATCHED_ROUTE
            method = environ.get("REQUEST_METHOD", "")
            try:
                self.log.info(
                    "request",
                    extra={"fields": {"method": method, "route": route, "status": status[0],
                                      "duration_ms": round(seconds * 1000, 2)}},
                )  # fmt: skip
                if self.observe is not None:
                    self.observe(method, route, status[0], seconds)
            finally:
                try:
                    _request_id.reset(token)
                except ValueError:  # the body was closed in another context than it began
                    _request_id.set(None)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            finish()
            raise
        return ClosingIterator(body, [finish])
