"""Jobs: work done after the commit, by a worker, once (see outbox for the rules).

Callers use `enqueue(kind, **ids)` inside their unit of work; each kind's handler is
registered with `handler(kind)` by the module that owns the work (emails by orders and
accounts, webhook events by orders)."""

from __future__ import annotations

from flask import Flask

from shop.jobs.outbox import JobError, enqueue, handler, kinds, message_id, periodic

__all__ = ["JobError", "enqueue", "handler", "init_jobs", "message_id", "periodic"]


def init_jobs(app: Flask) -> None:
    """Build the queue engine, the `worker` command, and what the jobs report to /readyz
    and /metrics; call after every module that registers handlers or periodic jobs is
    imported."""
    from shop.jobs.engine import init_engine, register_worker_command
    from shop.jobs.monitoring import init_monitoring

    init_engine(app)
    register_worker_command(app)
    init_monitoring(app, kinds)
