"""Readiness: may this process be sent traffic? Only if every backend it needs answers.

/healthz says the process is alive; /readyz (shop/operations.py) runs every check
registered for its app and answers 503, naming the ones that failed, when any does. Each
backend registers its own check with `register_check(app, name, check)`: the database,
the cache (a Redis ping when CACHE_URL is Redis; and a warning in the log, once, when that
Redis is shared with the queue or the rate limits or has no memory limit) and the
rate-limit counters (a Redis ping when RATELIMIT_STORAGE_URI is Redis) in `init_app`; the
queue by shop.jobs, the media store by shop.media. The checks are the app's
(app.extensions), so two apps in one process (tests) never see each other's.

Checks go through their server's breaker (shop.breaker): a server known down is reported
failed at once, and the first check to find one down spares the others (often the same
Redis) their timeouts, so /readyz answers within about a second even then.

A check runs inside the app context, returns when the backend answered, and raises
when it did not. Its exception is never shown (it may quote a URL with a password)
and is logged by type only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from flask import Flask, current_app

log = logging.getLogger(__name__)

# A Redis that takes longer than this to answer a ping is as good as down.
TIMEOUT_SECONDS = 1.0

EXTENSION = "readiness_checks"

Check = Callable[[], None]


def init_app(app: Flask) -> None:
    """Give `app` its checks, the database's and the cache's first; call before any
    other part registers its own."""
    app.extensions[EXTENSION] = {}
    register_check(app, "database", _database)
    register_check(app, "cache", _cache)
    register_check(app, "rate_limits", _redis_setting("RATELIMIT_STORAGE_URI"))


def register_check(app: Flask, name: str, check: Check) -> None:
    """Make `check` part of app's /readyz under `name` (replacing any check of that name)."""
    app.extensions[EXTENSION][name] = check


def run_checks() -> dict[str, str]:
    """{name: "ok" or "failed"} for every check of the current app, in registration order."""
    results = {}
    for name, check in list(current_app.extensions[EXTENSION].items()):
        started = perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means not ready; the reason stays in the log
            log.warning(
                "readiness check %s failed after %.2fs: %s",
                name, perf_counter() - started, type(exc).__name__,
            )  # fmt: skip
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results


def _database() -> None:
    from sqlalchemy import text

    from shop.extensions import db

    db.session.execute(text("SELECT 1"))


def ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _redis_setting(setting: str) -> Check:
    def check() -> None:
        from shop.breaker import is_redis_url, redis_breaker, redis_down_errors

        # Empty or memory://: in this process (or embedded), up as long as we are.
        url = current_app.config.get(setting) or ""
        if is_redis_url(url):
            redis_breaker(current_app, url).call(lambda: ping_redis(url), redis_down_errors())

    return check


def _cache() -> None:
    _redis_setting("CACHE_URL")()
    from shop.page_cache.pages import warn_about_sharing

    warn_about_sharing()  # once per process, and never a reason to be unready
