"""The queue engine: Huey, chosen by QUEUE_URL.

- empty: SQLite in the instance folder (no server; `make run` starts a worker on it);
- `redis://…` (or `rediss://`, `unix://`): Redis, for several app machines and workers;
- `sqlite:///path`: SQLite at that path;
- `memory://`: in this process only (tests; with QUEUE_IMMEDIATE a job runs as soon as
  it is handed over, deterministically).

The engine only carries job ids and wakes workers; what to run, retries and dead letters
are the outbox's (shop.jobs.outbox), so a message lost by the engine loses no job.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer, Scheduler
from redis import ConnectionPool

from shop.config import ConfigError
from shop.jobs import outbox
from shop.unit_of_work import unit_of_work

log = logging.getLogger("shop.jobs")

EXTENSION = "huey"


def make_huey(app: Flask) -> Huey:
    url = (app.config.get("QUEUE_URL") or "").strip()
    name = app.config.get("QUEUE_NAME") or "madeknown"
    options = {"results": False, "utc": True}
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Bounded waits: a request handing a job over must not hang on an unreachable
        # Redis (the job waits in the outbox for the relay instead). The worker's blocking
        # read lasts a second, well inside the socket timeout.
        pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        return RedisHuey(name, connection_pool=pool, **options)
    if url == "memory://":
        return MemoryHuey(name, immediate=bool(app.config.get("QUEUE_IMMEDIATE")), **options)
    if url == "" or url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :] if url else str(Path(app.instance_path) / "queue.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, **options)
    raise ConfigError(
        "QUEUE_URL must be empty (the embedded queue), redis://host:port/db, sqlite:///path "
        f"or memory://; got {url.split(':', 1)[0]}:… (the queue engine, Huey, speaks no AMQP)"
    )


def _every_tick(_moment) -> bool:
    return True  # the scheduler's tick (JOB_PERIODIC_SECONDS) is the period


def init_engine(app: Flask) -> Huey:
    """Build the app's engine and its tasks: `run_job`, the relay and each periodic job."""
    huey = make_huey(app)

    @huey.task(name="run_job")
    def run_job(job_id: int) -> None:
        with app.app_context():
            outbox.run(job_id)

    @huey.periodic_task(_every_tick, name="relay_due_jobs")
    def relay_due_jobs() -> None:
        with app.app_context():
            outbox.relay_due()

    for name, function in outbox.periodic_tasks().items():
        huey.periodic_task(_every_tick, name=name)(_in_unit_of_work(app, name, function))

    app.extensions[EXTENSION] = huey
    app.extensions["huey_run_job"] = run_job
    return huey


def _in_unit_of_work(app: Flask, name: str, function):
    def periodic_job() -> None:
        with app.app_context():
            try:
                with unit_of_work():
                    function()
            except Exception:
                log.exception("periodic job %s failed; it runs again on the next tick", name)

    periodic_job.__name__ = name
    return periodic_job


def huey_of(app: Flask | None = None) -> Huey:
    return (app or current_app).extensions[EXTENSION]


def submit(job_id: int, delay: float = 0) -> None:
    run_job = current_app.extensions["huey_run_job"]
    if delay > 0:
        run_job.schedule(args=(job_id,), delay=delay)
    else:
        run_job(job_id)


def queue_depth() -> int | None:
    """Messages waiting in the engine (None when it cannot be reached)."""
    try:
        huey = huey_of()
        return huey.pending_count() + huey.scheduled_count()
    except Exception:
        log.warning("the queue engine did not answer")
        return None


def consumer(app: Flask, workers: int) -> Consumer:
    seconds = int(app.config["JOB_PERIODIC_SECONDS"])

    class TickingScheduler(Scheduler):
        periodic_task_seconds = seconds

    class StoreConsumer(Consumer):
        scheduler_class = TickingScheduler

    # A one-second scheduler: retries come due to the second, and the tick above is kept.
    return StoreConsumer(huey_of(app), workers=workers, worker_type="thread", scheduler_interval=1)


def register_worker_command(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Threads running jobs.")
    def worker_command(workers: int) -> None:
        """Run jobs (emails, webhook events, periodic work) until stopped."""
        huey = huey_of(app)
        if huey.immediate:
            raise click.ClickException("QUEUE_IMMEDIATE runs jobs in the web process; no worker")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        click.echo(f"Worker on {type(huey.storage).__name__} queue {huey.name!r}")
        consumer(app, workers).run()
