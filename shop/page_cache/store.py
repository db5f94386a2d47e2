"""Where rendered pages are kept: in this process, and in Redis when CACHE_URL names one.

cachelib (not Flask-Caching): the pages are stored under keys this package builds from
the storefront version, so Flask-Caching's view decorators and memoize (keyed on the
path and arguments, invalidated by deleting keys) have nothing to add, while cachelib is
the backend library Flask-Caching itself wraps: the same SimpleCache and RedisCache,
one small pinned dependency, on the redis client the store already ships.

Two levels: a bounded in-process cache answers most views with no network round trip,
and with CACHE_URL a shared Redis lets every worker and host reuse a page once any of
them has rendered it. Neither is ever invalidated by deleting: a key holds the version
it was rendered for, so a key is right forever or never read again, and old ones age out.

A shared cache that does not answer costs nothing but the render: its server's breaker
(shop.breaker) opens on the first timeout, and until its cool-down ends the pages are
rendered and kept in process without calling it (no second or so of timeouts per page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from cachelib import BaseCache, NullCache, RedisCache, SimpleCache

from shop.breaker import Breaker, DependencyDown, redis_down_errors

log = logging.getLogger(__name__)

LOCAL_ENTRIES = 500  # pages per process; a page is some 10-30 kB
# Keys of older versions are never read again; Redis lets them go after this long.
SHARED_SECONDS = 3600
T = TypeVar("T")


class PageStore:
    def __init__(self, url: str = "", prefix: str = "shop:", local_entries: int = LOCAL_ENTRIES,
                 guard: Breaker | None = None):  # fmt: skip
        self.local: BaseCache = SimpleCache(threshold=local_entries, default_timeout=0)
        self.shared: BaseCache = NullCache()
        self.url = url
        self.guard = guard  # the shared cache's server's breaker (none without one)
        if url:
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"CACHE_URL must be a redis:// URL or empty, got {url!r}")
            import redis

            self.shared = RedisCache(
                host=redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1),
                key_prefix=prefix,
                default_timeout=SHARED_SECONDS,
            )

    def _shared(self, action: Callable[[], T], default: T) -> T:
        """`action()` on the shared cache, or `default` when it is down or known down
        (the breaker logs the outage once) or fails otherwise."""
        try:
            if self.guard is None:
                return action()
            return self.guard.call(action, redis_down_errors())
        except DependencyDown:
            return default
        except Exception:  # a cache that fails costs a render, never the page
            log.warning("page cache: the shared cache failed", exc_info=True)
            return default

    def get(self, key: str) -> str | None:
        value = self.local.get(key)
        if value is not None:
            return value
        value = self._shared(lambda: self.shared.get(key), None)
        if value is not None:
            self.local.set(key, value)
        return value

    def set(self, key: str, value: str) -> None:
        self.local.set(key, value)
        self._shared(lambda: self.shared.set(key, value), None)

    def local_keys(self) -> list[str]:
        """The keys this process holds (for tests and the benchmark's checks)."""
        return list(self.local._cache)

    def clear(self) -> None:
        """Forget every page (both levels): for the benchmark's cold runs and tests."""
        self.local.clear()
        self.shared.clear()

    def ping(self) -> bool:
        """True when the shared cache answers (always, without one)."""
        if not self.url:
            return True
        return self._shared(lambda: bool(self.shared._read_client.ping()), False)
