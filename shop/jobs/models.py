"""The outbox: one row per job, written in the same transaction as the change that
calls for it, so a job exists exactly when its cause was committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
STATUSES = (PENDING, RUNNING, DONE, DEAD)


class Job(db.Model):
    """A job for the worker. Its payload holds ids only (never an address or a name):
    the worker reads what it needs when it runs, so the queue carries nothing personal.

    `attempts` counts claims; a claim is held until `lease_until`, after which a worker
    that died mid-job is presumed gone and the job may be claimed again."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="job_status"
        ),
        Index("ix_jobs_status_run_after", "status", "run_after"),
        # "When was a job of this kind last made?" (the periodic media sweep asks).
        Index("ix_jobs_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The exception's class and a code, never its message (which may quote an address).
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobFailureCount(db.Model):
    """Tries of jobs that failed, by kind: shop_job_failures_total (see shop.jobs.monitoring).

    Raised by one in the commit that records each failed try, and never lowered: an
    admin retrying a dead job, or old jobs being deleted, leave it as it was, as a
    Prometheus counter must. A row in the shared database, so every worker process on
    every machine adds to one count and every web process reports it."""

    __tablename__ = "job_failure_counts"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    tries: Mapped[int] = mapped_column(BigInteger, default=0)
