"""Readiness: may this process be sent traffic? Only if every backend it needs answers.

/healthz says the process is alive; /readyz (shop/operations.py) runs every check
registered here and answers 503, naming the ones that failed, when any does. Each
backend registers its own check with `register_check(name, check)`: the database and
the cache below (a Redis ping when CACHE_URL is Redis; and a warning in the log, once,
when that Redis is shared with the queue or the rate limits or has no memory limit);
the queue by shop.jobs, the media store by shop.media.

A check runs inside the app context, returns when the backend answered, and raises
when it did not. Its exception is never shown (it may quote a URL with a password)
and is logged by type only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from flask import current_app

log = logging.getLogger(__name__)

# A probe that waits longer than this is as good as a failure to the load balancer.
TIMEOUT_SECONDS = 2.0

Check = Callable[[], None]
_checks: dict[str, Check] = {}


def register_check(name: str, check: Check) -> None:
    """Make `check` part of /readyz under `name` (replacing any check of that name)."""
    _checks[name] = check


def run_checks() -> dict[str, str]:
    """{name: "ok" or "failed"} for every registered check, in registration order."""
    results = {}
    for name, check in list(_checks.items()):
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
        # Empty: the in-process (or embedded) default, which is up as long as we are.
        url = current_app.config.get(setting) or ""
        if url.startswith(("redis://", "rediss://", "unix://")):
            ping_redis(url)

    return check


def _cache() -> None:
    _redis_setting("CACHE_URL")()
    from shop.page_cache.pages import warn_about_sharing

    warn_about_sharing()  # once per process, and never a reason to be unready


register_check("database", _database)
register_check("cache", _cache)
