"""The outbox's rules, in process: a job exists exactly when its cause committed, runs
once, waits longer after each failure, and is dead-lettered visibly after its last try."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shop import jobs
from shop.audit.models import AuditEntry
from shop.config import ConfigError, config_for_tests
from shop.extensions import db
from shop.jobs import outbox
from shop.jobs.engine import huey_of, init_engine, make_huey
from shop.jobs.models import Job
from shop.timeutil import as_utc, utcnow
from shop.unit_of_work import AFTER_COMMIT_KEY, commit, unit_of_work
from tests.conftest import client_as
from tests.test_operations import _closed_port

RAN: list[tuple[int, dict]] = []
FAILURES: dict[str, BaseException] = {}


@jobs.handler("test_note")
def _note(job: outbox.JobRun) -> None:
    RAN.append((job.id, job.payload))
    failure = FAILURES.get("next")
    if failure is not None:
        raise failure


@jobs.handler("test_slow")
def _slow(job: outbox.JobRun) -> None:
    RAN.append((job.id, job.payload))
    time.sleep(0.5)


@pytest.fixture(autouse=True)
def _fresh_records():
    RAN.clear()
    FAILURES.clear()
    yield
    FAILURES.clear()


def _job(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_job_runs_after_its_unit_of_work_commits_and_never_if_it_rolls_back(app, ctx):
    with pytest.raises(RuntimeError), unit_of_work():
        jobs.enqueue("test_note", order_id=1)
        raise RuntimeError("the change failed")
    assert db.session.scalars(select(Job)).all() == []
    assert RAN == []

    job_id = jobs.enqueue("test_note", order_id=2).id
    assert RAN == []  # recorded, not run: the change is not committed yet
    commit()
    assert [(job_id, {"order_id": 2})] == RAN
    assert _job(job_id).status == "done"


def test_a_job_handed_over_again_is_not_run_again(app, ctx):
    job_id = jobs.enqueue("test_note", order_id=3).id
    commit()
    assert outbox.run(job_id) == "skipped"
    outbox.hand_over([job_id])
    assert outbox.relay_due() == 0
    assert len(RAN) == 1


def test_failures_wait_twice_as_long_each_time_then_the_job_is_dead(app, ctx):
    app.config.update(JOB_RETRY_SECONDS=10, JOB_RETRY_MAX_SECONDS=35, JOB_MAX_ATTEMPTS=4)
    try:
        FAILURES["next"] = ConnectionRefusedError(
            111, "refused by mail.example for ana@example.com"
        )
        job_id = jobs.enqueue("test_note", order_id=4).id
        commit()
        waits = []
        for _ in range(3):
            job = _job(job_id)
            assert job.status == "pending"
            waits.append(round((as_utc(job.run_after) - utcnow()).total_seconds()))
            assert outbox.run(job_id) == "skipped"  # not due yet: nothing runs early
            db.session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
            commit()
            outbox.run(job_id)
        job = _job(job_id)
    finally:
        app.config.update(JOB_RETRY_SECONDS=30, JOB_RETRY_MAX_SECONDS=3600, JOB_MAX_ATTEMPTS=10)
    assert [abs(w - e) <= 1 for w, e in zip(waits, [10, 20, 35], strict=True)] == [True] * 3, waits
    assert (job.status, job.attempts) == ("dead", 4)
    assert job.last_error == "ConnectionRefusedError: errno 111"  # no address, no host
    assert len(RAN) == 4
    assert outbox.relay_due() == 0  # a dead job waits for an admin


def test_a_claim_whose_worker_died_runs_again_and_the_late_worker_writes_nothing(app, ctx):
    job_id = jobs.enqueue("test_note", order_id=5).id
    db.session.commit()  # committed without the hand-over: as if the process died here
    claimed = outbox._claim(job_id)  # a worker takes it, then is killed
    assert claimed.attempt == 1
    assert outbox.run(job_id) == "skipped"  # its lease still holds
    db.session.execute(
        update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
    )
    commit()
    assert outbox.relay_due() == 1  # handed over again, and run (the tests' queue runs at once)
    assert (_job(job_id).status, _job(job_id).attempts) == ("done", 2)
    late = db.session.execute(
        update(Job).where(outbox._still_ours(job_id, claimed.attempt)).values(status="done")
    )
    assert late.rowcount == 0  # the first worker, back from the dead, finds its claim gone


def test_a_job_whose_hand_over_was_lost_is_sent_again_once_a_lease_has_passed(app, ctx):
    job_id = jobs.enqueue("test_note", order_id=8).id
    db.session.commit()  # committed, never handed over: the process died right here
    db.session.info.pop(AFTER_COMMIT_KEY)
    assert outbox.relay_due() == 0  # it may still be on its way to a worker
    lease = timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    db.session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - lease))
    commit()
    assert outbox.relay_due() == 1
    assert [(job_id, {"order_id": 8})] == RAN
    assert _job(job_id).status == "done"


def test_a_job_the_queue_refused_is_sent_at_the_relays_next_tick_once_it_answers(app, ctx):
    engine_before = {key: app.extensions[key] for key in ("huey", "huey_run_job", "huey_breaker")}
    settings_before = {key: app.config.get(key) for key in ("QUEUE_URL", "QUEUE_IMMEDIATE")}
    try:
        app.config["QUEUE_URL"] = f"redis://127.0.0.1:{_closed_port()}/0"  # Redis is down
        init_engine(app)
        job_id = jobs.enqueue("test_note", order_id=9).id
        commit()  # paid, say: the queue refuses the job, which waits in the outbox
        assert RAN == [] and _job(job_id).status == "pending"

        app.config.update(QUEUE_URL="memory://", QUEUE_IMMEDIATE=True)  # Redis is back
        init_engine(app)
        # The relay's next tick sends it, not one a whole lease (minutes) from now.
        assert outbox.relay_due() == 1
        assert [(job_id, {"order_id": 9})] == RAN and _job(job_id).status == "done"
    finally:
        app.config.update(settings_before)
        app.extensions.update(engine_before)


def test_two_workers_never_run_one_job_at_once(committed_app):
    with committed_app.app_context(), jobs_paused(committed_app), unit_of_work():
        job_id = jobs.enqueue("test_slow", order_id=6).id
    outcomes = []

    def worker():
        with committed_app.app_context():
            outcomes.append(outbox.run(job_id))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["done", "skipped", "skipped", "skipped"]
    assert len(RAN) == 1


class jobs_paused:
    def __init__(self, app):
        self.huey = huey_of(app)

    def __enter__(self):
        self.huey.immediate = False

    def __exit__(self, *exc):
        self.huey.immediate = True


def test_the_admin_sees_failures_without_personal_data_and_retries_a_dead_job(app, ctx):
    FAILURES["next"] = ConnectionRefusedError(111, "ana@example.com")
    app.config["JOB_MAX_ATTEMPTS"] = 1
    try:
        job_id = jobs.enqueue("test_note", order_id=7, email_hint="never shown").id
        commit()
    finally:
        app.config["JOB_MAX_ATTEMPTS"] = 10
    admin = client_as(app, "admin")
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "ConnectionRefusedError: errno 111" in page
    assert "Retry" in page and "ana@example.com" not in page and "never shown" not in page
    assert "Dead</dt><dd>1" in page

    FAILURES.clear()  # whatever failed is fixed
    retried = admin.post(f"/admin/jobs/{job_id}/retry")
    assert retried.status_code == 302
    assert _job(job_id).status == "done"  # retried now: the tests' queue runs it at once
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "job.retry"))
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("job", job_id, admin.person.id)

    again = admin.post(f"/admin/jobs/{job_id}/retry", follow_redirects=True)
    assert "Only a job that failed its last try can be retried." in again.get_data(as_text=True)
    assert (
        len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "job.retry")).all())
        == 1
    )


def test_email_jobs_carry_ids_not_addresses(app, ctx, client):
    from tests.orders.conftest import new_order, stocked_variant

    order = new_order([(stocked_variant(), 1)])
    db.session.commit()
    client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    client.post("/register", data={"name": "Ana", "email": "ana@example.org"})
    client.post("/password/forgot", data={"email": "ana@example.org"})
    payloads = {j.kind: j.payload for j in db.session.scalars(select(Job))}
    assert set(payloads) == {"order_confirmation", "registration_email", "password_reset"}
    assert "@" not in repr(payloads)
    assert payloads["order_confirmation"] == {"order_id": order.id}


def test_expired_holds_are_released_by_the_workers_periodic_job(app, ctx):
    from shop.orders.models import Order, OrderStatus
    from tests.orders.conftest import new_order, stocked_variant
    from tests.orders.test_holds import _run_out

    order = new_order([(stocked_variant(quantity=2), 2)])
    db.session.commit()
    _run_out([order.id])
    periodic = {t.__name__: t for t in huey_of(app)._registry._registry.values()}
    assert "release_expired_holds" in periodic and "relay_due_jobs" in periodic
    huey_of(app).execute(periodic["release_expired_holds"]())  # one tick of the worker
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED


def test_the_queue_url_chooses_the_engine_and_refuses_what_huey_cannot_speak(tmp_path):
    from flask import Flask

    def engine_for(url):
        app = Flask("t", instance_path=str(tmp_path / "instance"))
        app.config.update(config_for_tests("sqlite://", str(tmp_path), QUEUE_URL=url))
        return make_huey(app)

    embedded = engine_for("")
    assert type(embedded).__name__ == "SqliteHuey"
    assert embedded.storage.filename == str(tmp_path / "instance" / "queue.db")
    assert type(engine_for("redis://127.0.0.1:6379/0")).__name__ == "RedisHuey"
    with pytest.raises(ConfigError, match="QUEUE_URL must be"):
        engine_for("amqp://guest:secret@rabbit:5672//")
