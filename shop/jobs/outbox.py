"""The transactional outbox and the rules every job runs by.

`enqueue` adds a job row in the caller's transaction and, once that commits, hands its
id to the queue engine. The row, not the engine's message, is the truth: a message lost
(the process died between commit and hand-over, the queue was down, a worker was killed
mid-job) is made good by `relay_due`, which the engine runs periodically and which hands
over again every job that is due and not held by a live claim. A job is therefore handed
over at least once; `run` makes it take effect once:

- a worker claims the row first (one conditional UPDATE, committed), so two workers
  never run one job at once, and a done job is skipped;
- the handler's writes and the row's `done` commit together, and only while the claim is
  still this worker's (a worker that outlived its lease writes nothing);
- a failure puts the job back with an exponential delay, and after its last try leaves
  it `dead`, shown on /admin/jobs until an admin retries it.

An email cannot be taken back once the SMTP server accepted it: a worker killed after that
and before its commit would send it again. Its Message-ID is made from the job id
(`message_id`), so the copy is the same message to every mail system that deduplicates.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update

from shop import unit_of_work as uow
from shop.extensions import db
from shop.jobs.models import DEAD, DONE, PENDING, RUNNING, Job
from shop.jobs.monitoring import count_failed_try
from shop.timeutil import utcnow

log = logging.getLogger("shop.jobs")

Handler = Callable[["JobRun"], None]
_handlers: dict[str, Handler] = {}
_periodic: dict[str, Callable[[], object]] = {}


class JobError(ValueError):
    """A job request that makes no sense (an unknown kind, retrying a live job)."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`. It gets the job (ids in its
    payload), flushes and never commits; raising means: try again later."""

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def periodic(name: str, function: Callable[[], object]) -> None:
    """Run `function` (a service call) in its own unit of work on every periodic tick of
    the worker (each minute by default, JOB_PERIODIC_SECONDS)."""
    _periodic[name] = function


def kinds() -> list[str]:
    """The kinds of job this store runs (those with a handler)."""
    return sorted(_handlers)


def periodic_tasks() -> dict[str, Callable[[], object]]:
    return dict(_periodic)


def enqueue(kind: str, *, after_seconds: float = 0, **ids: object) -> Job:
    """Record a job in the current transaction; it is handed to the worker after the
    commit (to run `after_seconds` later), and never if the transaction rolls back. Pass
    ids (JSON values), never addresses or names: the handler reads what it needs when it
    runs."""
    if kind not in _handlers:
        raise JobError(f"no handler for jobs of kind {kind!r}")  # not shown: a programming error
    run_after = utcnow() + timedelta(seconds=max(after_seconds, 0))
    job = Job(
        kind=kind, payload=ids, status=PENDING, attempts=0, run_after=run_after, last_error=""
    )
    db.session.add(job)
    db.session.flush()
    job_id = job.id
    uow.after_commit(lambda: hand_over([job_id], after_seconds))
    return job


def hand_over(job_ids: list[int], delay: float = 0) -> None:
    """Give job ids to the engine. A failure here loses nothing (the rows wait for
    `relay_due`), so it is logged, not raised. While the queue is known down (its
    breaker, shop.breaker) nothing waits for it."""
    from shop.breaker import DependencyDown
    from shop.jobs.engine import submit

    refused: list[int] = []
    for job_id in job_ids:
        try:
            submit(job_id, delay)
        except DependencyDown:
            log.info("job %s waits for the relay: the queue is not answering", job_id)
            refused.append(job_id)
        except Exception:  # the queue failed otherwise: the periodic relay sends it later
            log.warning("job %s not handed to the queue yet; the relay will", job_id)
            refused.append(job_id)
    if refused and delay <= 0:
        _relay_at_next_tick(refused)


def _relay_at_next_tick(job_ids: list[int]) -> None:
    """Mark jobs the queue did not take as lost, so the relay's next tick after the queue
    answers again sends them, not a whole lease later (JOB_LEASE_SECONDS, minutes: a
    few seconds of Redis trouble would hold confirmations that long). Their cause is
    committed already; this is its own small transaction, and if even it fails the
    jobs are still relayed, a lease later."""
    lost = utcnow() - timedelta(seconds=_config("JOB_LEASE_SECONDS") + 1)
    try:
        db.session.execute(
            _update().where(Job.id.in_(job_ids), Job.status == PENDING).values(run_after=lost)
        )
        uow.commit()
    except Exception:
        uow.rollback()
        log.warning("jobs %s will be relayed a lease from now", job_ids, exc_info=True)


def _update():
    # Core-style: the rows are matched in SQL only (SQLite hands back naive datetimes,
    # which Python could not compare with the aware ones in the WHERE clause).
    return update(Job).execution_options(synchronize_session=False)


def _due(now):
    return or_(
        and_(Job.status == PENDING, Job.run_after <= now),
        and_(Job.status == RUNNING, Job.lease_until < now),
    )


def relay_due(limit: int = 500) -> int:
    """Hand over again the jobs presumed lost: pending ones due for longer than a lease
    (their message never reached a worker), and claimed ones whose worker let its lease
    run out (it died, or was killed). Each is made due now, so it is sent again once per
    lease, not on every tick, however long the queue's backlog."""
    now = utcnow()
    lease = timedelta(seconds=_config("JOB_LEASE_SECONDS"))
    lost = or_(
        and_(Job.status == PENDING, Job.run_after <= now - lease),
        and_(Job.status == RUNNING, Job.lease_until < now),
    )
    ids = list(db.session.scalars(select(Job.id).where(lost).order_by(Job.id).limit(limit)))
    if not ids:
        uow.rollback()
        return 0
    # A worker that comes back from the dead finds its claim gone (see `_still_ours`).
    db.session.execute(
        _update()
        .where(Job.id.in_(ids), lost)
        .values(status=PENDING, run_after=now, lease_until=None)
    )
    uow.commit()
    hand_over(ids)
    return len(ids)


def _config(name: str) -> int:
    return int(current_app.config[name])


@dataclass(frozen=True)
class JobRun:
    """A claimed job as its handler sees it: read before the claim's commit, so the
    handler starts with no transaction open (it may call out first, as the webhook
    job asks Stripe, without holding a lock)."""

    id: int
    kind: str
    payload: dict
    created_at: datetime
    attempt: int


def _claim(job_id: int) -> JobRun | None:
    """Take the job for this worker; None when it is done, dead, not due yet, or held
    by another worker's live claim."""
    now = utcnow()
    lease = timedelta(seconds=_config("JOB_LEASE_SECONDS"))
    claimed = db.session.execute(
        _update()
        .where(Job.id == job_id, _due(now))
        .values(status=RUNNING, attempts=Job.attempts + 1, lease_until=now + lease)
    ).rowcount
    if claimed != 1:
        uow.rollback()
        return None
    kind, payload, created_at, attempt = db.session.execute(
        select(Job.kind, Job.payload, Job.created_at, Job.attempts).where(Job.id == job_id)
    ).one()
    uow.commit()
    return JobRun(job_id, kind, dict(payload or {}), created_at, attempt)


def _still_ours(job_id: int, attempt: int):
    return and_(Job.id == job_id, Job.status == RUNNING, Job.attempts == attempt)


def run(job_id: int) -> str:
    """Run one job, if it is due and nobody else holds it. Returns what happened."""
    job = _claim(job_id)
    if job is None:
        return "skipped"
    try:
        _handlers[job.kind](job)
        finished = db.session.execute(
            _update()
            .where(_still_ours(job.id, job.attempt))
            .values(status=DONE, finished_at=utcnow(), lease_until=None)
        ).rowcount
        if finished != 1:  # our lease ran out and another worker took the job over
            uow.rollback()
            return "lost its claim"
        uow.commit()
        return "done"
    except Exception as exc:  # any failure is retried; the error is kept on the row
        uow.rollback()
        return _failed(job, exc)


def backoff_seconds(attempt: int) -> int:
    """The wait before try `attempt + 1`: doubling from JOB_RETRY_SECONDS, capped."""
    base, cap = _config("JOB_RETRY_SECONDS"), _config("JOB_RETRY_MAX_SECONDS")
    return min(cap, base * 2 ** max(0, attempt - 1))


def _failed(job: JobRun, exc: Exception) -> str:
    job_id, attempt = job.id, job.attempt
    error = error_text(exc)
    now = utcnow()
    if attempt >= _config("JOB_MAX_ATTEMPTS"):
        values = {"status": DEAD, "finished_at": now}
        outcome, delay = "dead", None
    else:
        delay = backoff_seconds(attempt)
        values = {"status": PENDING, "run_after": now + timedelta(seconds=delay)}
        outcome = f"retry in {delay}s"
    db.session.execute(
        _update()
        .where(_still_ours(job_id, attempt))
        .values(lease_until=None, last_error=error, **values)
    )
    count_failed_try(job.kind)  # shop_job_failures_total, in the same commit
    uow.commit()
    log.warning("job %s (try %s) failed: %s; %s", job_id, attempt, error, outcome)
    if delay is not None:
        hand_over([job_id], delay)
    return outcome


def error_text(exc: BaseException) -> str:
    """What went wrong, short and with nothing personal: the exception's class and a
    code, never its message (an SMTP refusal quotes the address it refused)."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{name}: SMTP code {exc.smtp_code}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{name}: errno {exc.errno}"
    return name[:200]


def retry_dead(job_id: int) -> Job:
    """Give a dead job a fresh set of tries, now. Flushes; the caller audits and commits."""
    job = db.session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != DEAD:
        raise JobError(_("Only a job that failed its last try can be retried."))
    job.status, job.attempts, job.run_after, job.finished_at = PENDING, 0, utcnow(), None
    db.session.flush()
    uow.after_commit(lambda: hand_over([job_id]))
    return job


def message_id(job: JobRun) -> str:
    """The same Message-ID every time this job's email is sent (see the module's note)."""
    host = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").hostname or "madeknown"
    return f"<job-{job.id}.{job.created_at:%Y%m%d}@{host}>"


def end_reading() -> None:
    """End a handler's read-only transaction before it calls out (SMTP, an API): on
    SQLite a worker's transaction holds the write lock, and no lock may wait on a mail
    server."""
    db.session.rollback()


def counts() -> dict[str, int]:
    found = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    return {status: found.get(status, 0) for status in (PENDING, RUNNING, DONE, DEAD)}


def drain(*, ignore_delays: bool = True) -> int:
    """Run the due jobs in this process, each once, then the jobs those jobs made, until
    none is left (tests, one-off scripts). With `ignore_delays`, jobs waiting out a retry
    delay are run now too (once: a job that fails again waits for the next drain)."""
    seen: set[int] = set()
    while True:
        now = utcnow()
        where = or_(Job.status == PENDING, _due(now)) if ignore_delays else _due(now)
        ids = [
            i
            for i in db.session.scalars(select(Job.id).where(where).order_by(Job.id))
            if i not in seen
        ]
        if not ids:
            uow.rollback()
            return len(seen)
        if ignore_delays:
            db.session.execute(
                _update().where(Job.id.in_(ids), Job.status == PENDING).values(run_after=now)
            )
            uow.commit()
        for job_id in ids:
            run(job_id)
        seen.update(ids)
