"""Rate limits counted inside the request, before its work, atomically.

Flask-Limiter's `deduct_when` counts a request only after its response: requests sent
at once are all tested against the same count and all pass (15 checkouts at once
against a limit of 10; 11 password checks against 10). Here a request takes its slot
first, with the storage's atomic increment (memory or Redis, RATELIMIT_STORAGE_URI),
and is refused when that takes the count over the limit; a request that turns out not
to count (a right password, an order not placed) gives its slot back afterwards. So
"failures are counted" and "orders placed are counted" still hold, and requests in
flight never outnumber the slots left. The one cost: while a request that will give its
slot back is running, a request sent at the same moment may be refused for a slot that
is about to come free.

Keys are digests made with the secret key: the counters never hold an email or an
address in clear.

When the counters' storage (Redis) does not answer, a request that needs a limit is
refused with 503 and Retry-After, before its work and changing nothing: letting it
through uncounted would open sign-in to guessing at any speed, and counters kept in each
process (Flask-Limiter's in_memory_fallback) would multiply every limit by the number of
processes. The storage's breaker (shop.breaker) makes the refusal immediate while it is
known down. Flask-Limiter's own decorators are not used for the same reason: they raise
(500) or, with swallow_errors, let the request through unlimited.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable

from flask import Flask, abort, current_app, g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from limits import parse
from limits.errors import StorageError
from werkzeug.exceptions import ServiceUnavailable

from shop.breaker import DependencyDown, is_redis_url, redis_breaker, redis_down_errors
from shop.extensions import limiter

log = logging.getLogger("shop.rate_limits")

Counter = tuple[str, str]  # (a limit such as "10 per hour", a key)
GUARD = "shop_rate_limit_breaker"
# A counter is one round trip: a storage slower than this is as good as down.
STORAGE_TIMEOUT_SECONDS = 1


class LimitsUnavailable(ServiceUnavailable):
    """The counters' storage did not answer: the request is refused, changing nothing."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after=retry_after)


def init_rate_limits(app: Flask) -> None:
    """Before `limiter.init_app`: bounded storage calls whose failures are recognisable,
    the storage's breaker, and the page a refused request gets."""
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    options = {"wrap_exceptions": True}  # any storage failure raises limits' StorageError
    if is_redis_url(uri):
        options |= {"socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
                    "socket_timeout": STORAGE_TIMEOUT_SECONDS}  # fmt: skip
        app.extensions[GUARD] = redis_breaker(app, uri)
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {
        **options, **(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    }  # fmt: skip

    @app.errorhandler(LimitsUnavailable)
    def limits_unavailable(exc: LimitsUnavailable):
        from shop.web import error_answer

        what = g.get("shop_limited_action") or _("requests like this one")
        body, status = error_answer(
            503, _("Please try again in a minute"),
            _("We can't take %(what)s for a moment. Nothing was changed: please try again "
              "in a minute.", what=str(what)),
        )  # fmt: skip
        return body, status, {"Retry-After": str(exc.retry_after)}


def storage_call(action):
    """`action()` on the counters' storage; LimitsUnavailable when it does not answer or
    is known down (memory storage, in this process, always answers)."""
    guard = current_app.extensions.get(GUARD)
    try:
        if guard is None:
            return action()
        return guard.call(action, (StorageError, *redis_down_errors()))
    except DependencyDown as exc:
        raise LimitsUnavailable(exc.retry_after) from exc


def digest(value: str) -> str:
    """A keyed digest of `value` (an address, an email): stable, not reversible."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def client_digest() -> str:
    """The client's address (as the trusted proxies report it), digested."""
    return digest("address|" + (get_remote_address() or ""))


def _storage_key(key: str) -> str:
    return f"{current_app.config.get('RATELIMIT_KEY_PREFIX', '')}{key}"


def take(limit: str, key: str) -> bool:
    """Count one against `limit` for `key`; False, with nothing counted, when over."""
    if not limiter.enabled:
        return True
    item = parse(limit)
    if storage_call(lambda: limiter.limiter.hit(item, _storage_key(key))):
        return True
    give_back(limit, key)
    return False


def seconds_until_free(limit: str, key: str) -> int:
    """When the next slot of `limit` for `key` frees up, in whole seconds (at least 1):
    a refusal's Retry-After."""
    if not limiter.enabled:
        return 1
    stats = storage_call(lambda: limiter.limiter.get_window_stats(parse(limit), _storage_key(key)))
    return max(1, math.ceil(stats.reset_time - time.time()))


def give_back(limit: str, key: str) -> None:
    """Undo one `take` that turned out not to count. When the storage has gone away
    meanwhile, the slot stays taken: a limit a little stricter, never looser."""
    if limiter.enabled:
        try:
            storage_call(lambda: limiter.limiter.hit(parse(limit), _storage_key(key), cost=-1))
        except LimitsUnavailable:
            log.warning("a rate-limit slot was not given back: the storage is not answering")


def counted(
    counters: Callable[[], list[Counter]],
    *,
    counts: Callable[[object], bool],
    action: str,
    refused: Callable[[], object] | None = None,
):
    """A POST to the view first takes a slot of each of `counters()`; when one is full it
    is refused (`refused()`, else 429) before the view runs. Afterwards the slots are
    given back unless `counts(response)`; an error gives them back too. When the counters
    cannot be reached it is refused with 503, saying "we can't take <action> for a moment"
    (`action` as "sign-ins", marked with lazy_gettext: it is translated when shown)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "POST" or not limiter.enabled:
                return view(*args, **kwargs)
            g.shop_limited_action = action
            taken: list[Counter] = []
            try:
                for limit, key in counters():
                    if not take(limit, key):
                        for slot in taken:
                            give_back(*slot)
                        log.info("rate limit %s exceeded at endpoint %s", limit, request.endpoint)
                        return refused() if refused else abort(429)
                    taken.append((limit, key))
            except LimitsUnavailable:
                for slot in taken:
                    give_back(*slot)
                raise
            response = None
            try:
                response = current_app.make_response(view(*args, **kwargs))
            finally:
                if response is None or not counts(response):
                    for slot in taken:
                        give_back(*slot)
            return response

        return wrapped

    return decorate


def always(_response) -> bool:
    return True


def limited_per_address(limit: str, name: str, action: str):
    """Every POST to the view counts against `limit` per client address (`name` keeps
    the view's counters apart)."""
    return counted(
        lambda: [(limit, f"{name}-address:{client_digest()}")], counts=always, action=action
    )
