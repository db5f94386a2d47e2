"""What the jobs tell an operator: /readyz fails while the queue engine does not answer;
/metrics shows the queue's depth (gauge), the jobs dead now (gauge, by kind) and every
try that failed (counter, by kind).

The failed tries are counted in the database, not in a process: a try fails in a worker
(a process of its own, perhaps on another machine, and often more than one), while
/metrics is answered by the web processes. A row per kind that every worker adds to, in
the commit that records the failure, is one count all of them can report, the same
whichever process is scraped (aggregate with max(), not sum()), and it survives restarts.

The dead jobs are read from the jobs table, so an admin's retry takes one off the gauge
and nothing off the counter. Labels are job kinds (the handlers' names): never an id, an
address or anything else a job is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db
from shop.jobs.models import DEAD, Job, JobFailureCount

# The store runs on these two (shop.config.normalise_database_url); both speak upsert.
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def count_failed_try(kind: str) -> None:
    """One more failed try of a `kind` job, in the caller's transaction: one statement,
    so two workers failing at once each add theirs (the row is locked for the update)."""
    insert = _INSERT[db.session.get_bind().dialect.name]
    db.session.execute(
        insert(JobFailureCount)
        .values(kind=kind, tries=1)
        .on_conflict_do_update(
            index_elements=[JobFailureCount.kind], set_={"tries": JobFailureCount.tries + 1}
        )
    )


def _every_kind(found: dict[str, int], known: Iterable[str]) -> dict[tuple[str], int]:
    # Each kind the store runs is reported from the start, at 0 until it fails: a series
    # that appears only with its first failure would hide that failure from rate().
    return {(kind,): found.get(kind, 0) for kind in sorted(set(known) | set(found))}


def failed_tries(known: Iterable[str] = ()) -> dict[tuple[str], int]:
    rows = db.session.execute(select(JobFailureCount.kind, JobFailureCount.tries)).all()
    return _every_kind(dict(rows), known)


def dead_now(known: Iterable[str] = ()) -> dict[tuple[str], int]:
    rows = db.session.execute(
        select(Job.kind, func.count()).where(Job.status == DEAD).group_by(Job.kind)
    ).all()  # ix_jobs_status_run_after finds the dead ones
    return _every_kind(dict(rows), known)


def init_monitoring(app: Flask, kinds: Callable[[], Iterable[str]]) -> None:
    """Register the queue's readiness check and the jobs' metrics on `app`; `kinds`
    answers the job kinds the store runs."""
    from shop import metrics, readiness
    from shop.jobs.engine import queue_depth

    def queue_answers() -> None:
        if queue_depth() is None:
            raise ConnectionError(
                "the queue engine did not answer"
            )  # not shown: a readiness probe's reason, for operators

    readiness.register_check(app, "queue", queue_answers)
    metrics.register_source(
        app, "shop_queue_depth", "Jobs waiting in the queue engine.", lambda: queue_depth() or 0
    )
    metrics.register_source(
        app, "shop_jobs_dead", "Jobs dead after their last try, waiting for an admin, by kind.",
        lambda: dead_now(kinds()), labels=("kind",),
    )  # fmt: skip
    metrics.register_source(
        app, "shop_job_failures", "Tries of jobs that failed (the last one too), by kind.",
        lambda: failed_tries(kinds()), kind="counter", labels=("kind",),
    )  # fmt: skip
