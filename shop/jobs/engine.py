"""The queue engine: Huey, chosen by QUEUE_URL.

- empty: SQLite in the instance folder (no server; `make run` starts a worker on it);
- `redis://…` (or `rediss://`, `unix://`): Redis, for several app machines and workers;
- `sqlite:///path`: SQLite at that path;
- `memory://`: in this process only (tests; with QUEUE_IMMEDIATE a job runs as soon as
  it is handed over, deterministically).

The engine only carries job ids and wakes workers; what to run, retries and dead letters
are the outbox's (shop.jobs.outbox), so a message lost by the engine loses no job. So a
request never waits for a Redis queue that does not answer: it is given a second, and
then the server's breaker (shop.breaker) skips it until its cool-down ends; the job
waits in the outbox for the worker's relay.
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

from shop.breaker import DependencyDown, is_redis_url, redis_breaker, redis_down_errors
from shop.config import ConfigError
from shop.jobs import outbox
from shop.unit_of_work import unit_of_work

log = logging.getLogger("shop.jobs")

EXTENSION = "huey"
GUARD = "huey_breaker"
# (connect, answer) seconds. A web process only pushes a job id and reads the queue's
# length: a second is plenty, and a request must not wait longer for a job the relay will
# hand over anyway. The worker's blocking read lasts a second, well inside its 10.
REQUEST_TIMEOUTS = (1, 1)
WORKER_TIMEOUTS = (2, 10)


def make_huey(app: Flask, timeouts: tuple[float, float] = REQUEST_TIMEOUTS) -> Huey:
    url = (app.config.get("QUEUE_URL") or "").strip()
    name = app.config.get("QUEUE_NAME") or "madeknown"
    options = {"results": False, "utc": True}
    if is_redis_url(url):
        connect, answer = timeouts
        pool = ConnectionPool.from_url(url, socket_connect_timeout=connect, socket_timeout=answer)
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


def init_engine(app: Flask, timeouts: tuple[float, float] = REQUEST_TIMEOUTS) -> Huey:
    """Build the app's engine and its tasks: `run_job`, the relay and each periodic job."""
    huey = make_huey(app, timeouts)
    url = (app.config.get("QUEUE_URL") or "").strip()
    # Only a queue on another server can be down while this process runs.
    app.extensions[GUARD] = redis_breaker(app, url) if is_redis_url(url) else None

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


def _guarded(action):
    """`action()` on the engine; DependencyDown when its server does not answer or is
    known down."""
    guard = current_app.extensions.get(GUARD)
    return action() if guard is None else guard.call(action, redis_down_errors())


def submit(job_id: int, delay: float = 0) -> None:
    run_job = current_app.extensions["huey_run_job"]
    if delay > 0:
        _guarded(lambda: run_job.schedule(args=(job_id,), delay=delay))
    else:
        _guarded(lambda: run_job(job_id))


def queue_depth() -> int | None:
    """Messages waiting in the engine (None when it cannot be reached)."""
    try:
        huey = huey_of()
        return _guarded(lambda: huey.pending_count() + huey.scheduled_count())
    except DependencyDown:
        return None  # its breaker said so once
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
        huey = init_engine(app, WORKER_TIMEOUTS)  # long enough for the blocking reads
        if huey.immediate:
            raise click.ClickException("QUEUE_IMMEDIATE runs jobs in the web process; no worker")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        click.echo(f"Worker on {type(huey.storage).__name__} queue {huey.name!r}")
        consumer(app, workers).run()
