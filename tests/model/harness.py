"""Plumbing for the model's driver: the store's clock, its settings for the model, and
running a call as a separate request or process would."""

from __future__ import annotations

import contextvars
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta

import shop.timeutil


class Clock:
    """Moves the store's clock: every `utcnow` the shop imported reads real time + offset."""

    def __init__(self):
        self.offset = timedelta()
        self.original = shop.timeutil.utcnow
        self.patched: list[tuple[object, str]] = []
        for name, module in list(sys.modules.items()):
            if (name == "shop" or name.startswith("shop.")) and getattr(
                module, "utcnow", None
            ) is self.original:
                module.utcnow = self.now
                self.patched.append((module, "utcnow"))

    def now(self) -> datetime:
        return self.original() + self.offset

    def restore(self) -> None:
        for module, name in self.patched:
            setattr(module, name, self.original)


@contextmanager
def store_settings(app):
    """What the model needs of the store's configuration, for the length of the test:
    no rate limits (the model checks out many times a minute), and the checkout caps and
    hold lengths the model expects (see model.MAX_UNITS_PER_ORDER, model.PAYMENT)."""
    from shop.extensions import limiter
    from tests.model.model import (
        MAX_HELD_UNITS_PER_ADDRESS,
        MAX_HELD_UNITS_PER_SESSION,
        MAX_UNITS_PER_ORDER,
        PAYMENT,
        RESERVATION,
    )

    wanted = {
        "RATELIMIT_ENABLED": False,
        "MAX_UNITS_PER_ORDER": MAX_UNITS_PER_ORDER,
        "MAX_HELD_UNITS_PER_SESSION": MAX_HELD_UNITS_PER_SESSION,
        "MAX_HELD_UNITS_PER_ADDRESS": MAX_HELD_UNITS_PER_ADDRESS,
        "RESERVATION_MINUTES": RESERVATION // timedelta(minutes=1),
        "PAYMENT_MINUTES": PAYMENT // timedelta(minutes=1),
    }
    saved = {k: app.config.get(k) for k in wanted}
    enabled = limiter.enabled
    app.config.update(wanted)
    limiter.enabled = False
    try:
        yield
    finally:
        app.config.update(saved)
        limiter.enabled = enabled


def fresh(call):
    """Run `call` in a context of its own, as a separate request or process would."""
    return contextvars.Context().run(call)


class Interleaving:
    """The store's gateway, with something else happening while a refund is on its way."""

    def __init__(self, inner, meanwhile):
        self.inner, self.meanwhile, self.name = inner, meanwhile, inner.name

    def refund(self, **kwargs):
        meanwhile, self.meanwhile = self.meanwhile, None  # once: the other refund uses it too
        if meanwhile is not None:
            fresh(meanwhile)
        return self.inner.refund(**kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _json(value) -> bytes:
    import json

    return json.dumps(value).encode()
