"""Where rendered pages are kept: in this process, and in Redis when CACHE_URL names one.

Two levels: a bounded in-process cache answers most views with no network round trip,
and with CACHE_URL a shared Redis lets every worker and host reuse a page once any of
them has rendered it.

A shared cache that does not answer costs nothing but the render: its server's breaker
(shop.breaker) opens on the first timeout, and until its cool-down ends the pages are
rendered and kept in process without calling it (no second or so of timeouts per page).

Each page has one *slot* (the release, the page's name and its canonical key), and a slot
holds one copy: the page and the *tag* it was rendered for (the storefront version and
the day). A read whose tag differs is a miss, and the render that follows overwrites the
slot. So nothing is ever invalidated by deleting, a copy is never served for another
version, and the number of keys is bounded by the number of pages the catalog has (the
views only ask for slots of pages that exist: see shop.catalog.views), not by how often
the version changes nor by what visitors type. A page larger than MAX_PAGE_CHARS is
served but kept nowhere.

The shared level is cachelib's RedisCache (the backend library Flask-Caching wraps: one
small pinned dependency on the redis client the store already ships). Its keys expire
after SHARED_SECONDS, so the slots of an older release (the code and templates deployed
before) go too. The in-process level is a plain dict of strings, not cachelib's
SimpleCache, which takes a lock and unpickles the page on every read: a warm page view
pays for neither.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from cachelib import BaseCache, NullCache, RedisCache

from shop.breaker import Breaker, DependencyDown, redis_down_errors

log = logging.getLogger(__name__)

LOCAL_ENTRIES = 500  # pages per process; a page is some 5-30 kB
# Slots of a release no longer deployed are never read again; Redis lets them go after this.
SHARED_SECONDS = 3600
MAX_PAGE_CHARS = 512 * 1024  # a page larger than this is served, not kept
# What Redis does when full: only these drop pages (the least used) to take new ones.
DROPS_PAGES = ("allkeys-lru", "allkeys-lfu")
T = TypeVar("T")


class PageStore:
    def __init__(self, url: str = "", prefix: str = "shop:", local_entries: int = LOCAL_ENTRIES,
                 guard: Breaker | None = None):  # fmt: skip
        self.local: dict[str, tuple[str, str]] = {}
        self.local_entries = local_entries
        self._writing = threading.Lock()
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

    def get(self, slot: str, tag: str) -> str | None:
        """The page kept in `slot` if it was rendered for `tag`, else None."""
        kept = self.local.get(slot)  # one dict read: atomic, no lock needed
        if kept is not None and kept[0] == tag:
            return kept[1]
        if not self.url:
            return None
        kept = self._shared(lambda: self.shared.get(slot), None)
        if not (isinstance(kept, tuple) and len(kept) == 2 and kept[0] == tag):
            return None
        self._keep_here(slot, kept)
        return kept[1]

    def set(self, slot: str, tag: str, page: str) -> None:
        if len(page) > MAX_PAGE_CHARS:
            log.warning("page cache: a page of %d characters was not kept", len(page))
            return
        self._keep_here(slot, (tag, page))
        if not self.url:
            return
        self._shared(lambda: self.shared.set(slot, (tag, page)), None)

    def _keep_here(self, slot: str, kept: tuple[str, str]) -> None:
        with self._writing:  # writes only (misses): reads never wait
            # Written last goes last: dicts keep insertion order, so when the process
            # holds its share of pages, the slot written longest ago goes.
            self.local.pop(slot, None)
            if len(self.local) >= self.local_entries:
                del self.local[next(iter(self.local))]
            self.local[slot] = kept

    def local_keys(self) -> list[str]:
        """The slots this process holds (for tests and the benchmark's checks)."""
        return list(self.local)

    def local_page(self, slot: str) -> str | None:
        """The page this process holds in `slot`, whatever its tag (for tests)."""
        kept = self.local.get(slot)
        return kept[1] if kept else None

    def clear(self) -> None:
        """Forget every page (both levels): for the benchmark's cold runs and tests."""
        with self._writing:
            self.local.clear()
        self.shared.clear()

    def sharing_warnings(self, others: dict[str, str]) -> list[str]:
        """What an operator should hear about the shared cache's Redis: a server shared
        with other settings' data (`others`: setting name to URL), or one that does not
        drop pages when full. Memory limits are a server's, not a database number's: a
        cache sharing a server with the queue and the rate limits can push their keys
        out when it fills up (allkeys-lru), make their writes fail (noeviction), or take
        the server down (no maxmemory)."""
        if not self.url:
            return []
        warnings = [
            f"CACHE_URL names the same Redis server as {setting}: when memory runs short "
            "pages can push its keys out or make its writes fail; give the page cache a "
            "Redis server of its own"
            for setting, url in others.items()
            if url and redis_server(url) == redis_server(self.url)
        ]
        # The readiness check's ping says whether it answers.
        memory = self._shared(lambda: self.shared._read_client.info("memory"), None)
        if memory is None:
            return warnings
        policy = memory.get("maxmemory_policy")
        if not int(memory.get("maxmemory") or 0):
            warnings.append(
                "the page cache's Redis has no maxmemory: set one, with "
                "maxmemory-policy allkeys-lru, so a full cache drops its least used pages"
            )
        elif policy not in DROPS_PAGES:
            warnings.append(
                f"the page cache's Redis has maxmemory-policy {policy}: with allkeys-lru "
                "a full cache drops its least used pages"
            )
        return warnings

    def ping(self) -> bool:
        """True when the shared cache answers (always, without one)."""
        if not self.url:
            return True
        return self._shared(lambda: bool(self.shared._read_client.ping()), False)


def redis_server(url: str) -> str | None:
    """The Redis server a URL names (host and port, or socket), without its database
    number or password; None for a URL that names no Redis."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    if parts.scheme not in ("redis", "rediss"):
        return None
    try:
        return f"{parts.hostname}:{parts.port or 6379}"
    except ValueError:  # not a port number: a URL Redis itself refuses
        return None
