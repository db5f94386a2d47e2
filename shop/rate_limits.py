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
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable

from flask import abort, current_app, request
from flask_limiter.util import get_remote_address
from limits import parse

from shop.extensions import limiter

log = logging.getLogger("shop.rate_limits")

Counter = tuple[str, str]  # (a limit such as "10 per hour", a key)


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
    if limiter.limiter.hit(item, _storage_key(key)):
        return True
    give_back(limit, key)
    return False


def give_back(limit: str, key: str) -> None:
    """Undo one `take` that turned out not to count."""
    if limiter.enabled:
        limiter.limiter.hit(parse(limit), _storage_key(key), cost=-1)


def counted(
    counters: Callable[[], list[Counter]],
    *,
    counts: Callable[[object], bool],
    refused: Callable[[], object] | None = None,
):
    """A POST to the view first takes a slot of each of `counters()`; when one is full it
    is refused (`refused()`, else 429) before the view runs. Afterwards the slots are
    given back unless `counts(response)`; an error gives them back too."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "POST" or not limiter.enabled:
                return view(*args, **kwargs)
            taken: list[Counter] = []
            for limit, key in counters():
                if not take(limit, key):
                    for slot in taken:
                        give_back(*slot)
                    log.info("rate limit %s exceeded at endpoint %s", limit, request.endpoint)
                    return refused() if refused else abort(429)
                taken.append((limit, key))
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
