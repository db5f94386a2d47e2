"""Known-down dependencies: once a server fails to answer, stop calling it for a while.

Every call to Redis (page cache, rate-limit counters, the job queue) or to the object store
waits for its timeout when that server is down or hung, and a page may make several such
calls: each request would pay seconds, and hold a web thread all along. So each server
has a breaker (a circuit breaker): a call that fails because the server did not answer
(refused, timed out) opens it, and for the cool-down (DEPENDENCY_COOL_DOWN_SECONDS, 10 s
by default) every call is refused at once, without touching the network. Then one call
goes through as a probe: if it is answered the breaker closes, if not it opens again for
another cool-down. The caller decides what "refused" means for it: the page cache renders,
the queue leaves the job in the outbox, rate limits answer 503, media answers 503.

Breakers are per server, not per use: the page cache, the counters and the queue often
share one Redis, and the first of them to find it down spares the others their timeouts.
They live per app in `app.extensions` and per process: each process learns on its own,
after one failed call.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask

log = logging.getLogger("shop.breaker")

EXTENSION = "shop_breakers"
DEFAULT_COOL_DOWN_SECONDS = 10.0
T = TypeVar("T")


class DependencyDown(Exception):
    """`name` did not answer, or is known down: not called. Try again in `retry_after` s."""

    def __init__(self, name: str, retry_after: int):
        super().__init__(f"{name} is not answering")
        self.name = name
        self.retry_after = retry_after


class Breaker:
    """One server's state: closed (calls go through), open (refused until the cool-down
    ends), then half-open (one probe at a time goes through)."""

    def __init__(self, name: str, cool_down: float, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.cool_down = cool_down
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None  # None: closed
        self._probe_since: float | None = None

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """May a call go now? After the cool-down, yes for one probe at a time (a probe
        that never reported back is given up after another cool-down)."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now < self._opened_at + self.cool_down:
                return False
            if self._probe_since is not None and now < self._probe_since + self.cool_down:
                return False
            self._probe_since = now
            return True

    def succeeded(self, started: float) -> None:
        """A call that started at `started` was answered. A call that started before the
        breaker opened proves nothing about the server since: only a probe closes it."""
        with self._lock:
            if self._opened_at is None or started < self._opened_at:
                return
            self._opened_at = self._probe_since = None
        log.info("%s answers again", self.name)

    def failed(self) -> None:
        with self._lock:
            newly = self._opened_at is None
            self._opened_at = self._clock()
            self._probe_since = None
        if newly:  # once per outage, not once per request
            log.warning("%s is not answering: not called for %.0f s", self.name, self.cool_down)

    def retry_after(self) -> int:
        """Whole seconds until the next probe may go (at least 1)."""
        with self._lock:
            if self._opened_at is None:
                return max(1, math.ceil(self.cool_down))
            left = self._opened_at + self.cool_down - self._clock()
        return max(1, math.ceil(left))

    def call(self, action: Callable[[], T], down: tuple[type[BaseException], ...]) -> T:
        """`action()`, unless the server is known down. An exception of a type in `down`
        (refused, timed out) opens the breaker; both raise DependencyDown. Any other
        outcome, an error included, means the server answered."""
        if not self.allow():
            raise DependencyDown(self.name, self.retry_after())
        started = self._clock()
        try:
            result = action()
        except down as exc:
            self.failed()
            raise DependencyDown(self.name, self.retry_after()) from exc
        except BaseException:
            self.succeeded(started)
            raise
        self.succeeded(started)
        return result


def breaker(app: Flask, name: str) -> Breaker:
    """The app's breaker for server `name` (see `server_name`), made on first use."""
    breakers: dict[str, Breaker] = app.extensions.setdefault(EXTENSION, {})
    found = breakers.get(name)
    if found is None:
        seconds = float(app.config.get("DEPENDENCY_COOL_DOWN_SECONDS", DEFAULT_COOL_DOWN_SECONDS))
        # setdefault is atomic: two threads asking at once get the same breaker.
        found = breakers.setdefault(name, Breaker(name, seconds))
    return found


def server_name(kind: str, url: str, default_port: int | None = None) -> str:
    """What a breaker is named after: the kind of server and its address, never the
    URL's user, password, path or database number (`redis 10.0.0.5:6379`)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("unix") or parts.scheme.endswith("+unix"):
        return f"{kind} {parts.path}"
    port = parts.port or default_port
    return f"{kind} {parts.hostname}{f':{port}' if port else ''}"


def redis_down_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises when the server refuses, drops or does not answer."""
    import redis

    return (redis.ConnectionError, redis.TimeoutError, OSError)


def redis_breaker(app: Flask, url: str) -> Breaker:
    """The breaker of the Redis server at `url` (shared by every use of that server)."""
    return breaker(app, server_name("redis", url, 6379))


def is_redis_url(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://", "redis+unix://"))
