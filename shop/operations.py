"""What an operator's tools talk to: /readyz, /metrics, request ids and JSON logs."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, request_started

from shop import metrics, readiness
from shop.config import DEVELOPMENT
from shop.request_log import ROUTE_KEY, RequestLogMiddleware, use_json_logs

bp = Blueprint("operations", __name__)


@bp.get("/readyz")
def readyz():
    """200 when every backend answers; with `?need=database` (names, comma-separated),
    when those do: a load balancer must not take every machine out of service together
    because a cache or queue that visitors can do without is down (status "degraded")."""
    checks = readiness.run_checks()
    needed = {name.strip() for name in request.args.get("need", "").split(",") if name.strip()}
    if needed - checks.keys():
        known = ", ".join(sorted(checks))
        return jsonify(error=f"need names what /readyz checks: {known}"), 400
    all_ok = all(result == "ok" for result in checks.values())
    ready = all(checks[name] == "ok" for name in needed or checks)
    status = "ok" if all_ok else "degraded" if ready else "unavailable"
    response = jsonify(status=status, checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def prometheus_metrics():
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        # Counts per route tell a stranger what the store is doing: without a token,
        # only a development store shows them.
        if current_app.config.get("ENV_NAME", DEVELOPMENT) != DEVELOPMENT:
            abort(404)
    elif not hmac.compare_digest(
        request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
    ):
        return Response(
            "A bearer token is needed (METRICS_TOKEN).\n", status=401, mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )  # fmt: skip
    response = Response(metrics.exposition(), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def _note_route(sender: Flask, **_) -> None:
    # The URL rule, for the access line and the metrics: never the path it was called with.
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def register_operations(app: Flask) -> None:
    if app.config.get("LOG_FORMAT") == "json":
        use_json_logs()
    app.register_blueprint(bp)
    request_started.connect(_note_route, app)
    app.wsgi_app = RequestLogMiddleware(app.wsgi_app, observe=metrics.observe_request)
