"""One unit of work per request and per command, committed in one place.

Services flush and never commit; views and commands never commit either. At the
end of a request the work is committed, or rolled back when the answer is an error
(4xx or 5xx, as pyramid_tm's commit veto does) or when the view gave up on it
(`abandon`). Only after the commit are the unit's after-commit actions run (an email
must never tell of an order the database then lost). A command wraps its work in
`unit_of_work()`, which does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, has_request_context

from shop.extensions import db

log = logging.getLogger(__name__)

AFTER_COMMIT_KEY = "shop_after_commit"


def after_commit(action: Callable[[], object]) -> None:
    """Run `action` once this unit of work has committed; never if it rolls back."""
    db.session.info.setdefault(AFTER_COMMIT_KEY, []).append(action)


def abandon() -> None:
    """Give up the unit's work now (a service refused part-way and may have flushed),
    and make sure nothing later in this request commits it after all. The view can
    still read the database to render its answer."""
    db.session.rollback()
    if has_request_context():
        g.shop_work_abandoned = True


def keep_on_refusal() -> None:
    """Commit this request's work although it answers with a 4xx: a declined card is
    answered 402 and its failed attempt must still be recorded."""
    g.shop_keep_on_refusal = True


def commit() -> None:
    """Commit and then run the after-commit actions. The single commit of the store;
    call it only from this module and from the few services that must end a
    transaction before calling out (see refunds and payments, which say why)."""
    db.session.commit()
    _run_after_commit()


def rollback() -> None:
    db.session.rollback()
    db.session.info.pop(AFTER_COMMIT_KEY, None)


def _run_after_commit() -> None:
    actions = db.session.info.pop(AFTER_COMMIT_KEY, [])
    for action in actions:
        try:
            action()
        except Exception:  # the work is committed; one failed follow-up must not hide it
            log.exception("an after-commit action failed")


@contextmanager
def unit_of_work() -> Iterator[None]:
    """For commands and scripts: commit what the block did, or roll it all back."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def _should_commit(response: Response) -> bool:
    if g.get("shop_work_abandoned"):
        return False
    if response.status_code >= 500:
        return False
    return response.status_code < 400 or bool(g.get("shop_keep_on_refusal"))


def register_unit_of_work(app: Flask) -> None:
    @app.after_request
    def finish_unit_of_work(response: Response) -> Response:
        if response.is_streamed:
            # An export streamed row by row still reads through the session; it writes
            # nothing, and its transaction ends with the request's context.
            return response
        # A failed commit raises here and becomes the 500 page, with nothing written.
        if _should_commit(response):
            commit()
        else:
            rollback()
        return response

    @app.teardown_request
    def forget_unfinished_work(_exc: BaseException | None) -> None:
        # An exception that skipped after_request: its actions must never run.
        db.session.info.pop(AFTER_COMMIT_KEY, None)
