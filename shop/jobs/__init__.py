"""Jobs: work done after the commit, by a worker, once (see outbox for the rules).

Callers use `enqueue(kind, **ids)` inside their unit of work; each kind's handler is
registered with `handler(kind)` by the module that owns the work (emails by orders and
accounts, webhook events by orders)."""

from __future__ import annotations

from flask import Flask

from shop.jobs.outbox import JobError, enqueue, handler, message_id, periodic

__all__ = ["JobError", "enqueue", "handler", "init_jobs", "message_id", "periodic"]


def init_jobs(app: Flask) -> None:
    """Build the queue engine and the `worker` command; call after every module that
    registers handlers or periodic jobs is imported."""
    from shop.jobs.engine import init_engine, register_worker_command

    init_engine(app)
    register_worker_command(app)
    _report_to_operations()


def _report_to_operations() -> None:
    """/readyz fails while the queue engine does not answer; /metrics shows its depth
    and the jobs that failed for good (both read at scrape, the same in every process)."""
    from shop import metrics, readiness
    from shop.jobs.engine import queue_depth
    from shop.jobs.outbox import DEAD, counts

    def queue_answers() -> None:
        if queue_depth() is None:
            raise ConnectionError("the queue engine did not answer")

    readiness.register_check("queue", queue_answers)
    metrics.register_source(
        "shop_queue_depth", "Jobs waiting in the queue engine.", lambda: queue_depth() or 0
    )
    metrics.register_source(
        "shop_job_failures", "Jobs dead after their last try.", lambda: counts()[DEAD],
        kind="counter",
    )  # fmt: skip
