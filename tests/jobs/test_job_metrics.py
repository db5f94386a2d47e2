"""What /metrics says about jobs: every failed try counted by kind (a counter: it never
goes down), the jobs dead now (a gauge: an admin's retry takes one off), the queue's depth."""

from __future__ import annotations

import re
import threading

import pytest

from shop import jobs
from shop.extensions import db
from shop.jobs import outbox
from shop.jobs.models import Job
from shop.unit_of_work import commit, unit_of_work
from tests.conftest import client_as, jobs_held
from tests.test_operations import TOKEN, _sample, _scrape

KIND = "test_metered"
FAILING = threading.Event()


@jobs.handler(KIND)
def _metered(job: outbox.JobRun) -> None:
    if FAILING.is_set():
        raise ConnectionRefusedError(111, "refused by mail.example for ana@example.com")


@pytest.fixture(autouse=True)
def _failing():
    FAILING.set()
    yield
    FAILING.clear()


def _figures(app) -> tuple[str, float | None, float | None]:
    text = _scrape(app.test_client())
    return (
        text,
        _sample(text, "shop_job_failures_total", kind=KIND),
        _sample(text, "shop_jobs_dead", kind=KIND),
    )


def test_each_failed_try_counts_and_retrying_a_dead_job_lowers_only_the_dead_gauge(
    app, ctx, monkeypatch
):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 3)
    text, tries, dead = _figures(app)
    assert tries is not None and dead is not None  # every kind is reported before it fails
    assert _sample(text, "shop_queue_depth") is not None

    with jobs_held(app) as drain:
        job_id = jobs.enqueue(KIND, order_id=1).id
        commit()
        for tried in (1, 2, 3):  # the third try is its last
            drain()
            text, now_tries, now_dead = _figures(app)
            assert now_tries == tries + tried
            assert now_dead == dead + (1 if tried == 3 else 0)
    assert db.session.get(Job, job_id).status == "dead"
    # A failure is labelled with its kind, nothing else: no id, no address.
    labels = re.findall(r"^shop_job_failures_total\{(.*)\} ", text, re.MULTILINE)
    assert labels and all(re.fullmatch(r'kind="[\w.]+"', found) for found in labels)
    assert "ana@example.com" not in text and "mail.example" not in text

    FAILING.clear()  # whatever failed is fixed
    admin = client_as(app, "admin")
    assert admin.post(f"/admin/jobs/{job_id}/retry").status_code == 302
    db.session.expire_all()
    assert db.session.get(Job, job_id).status == "done"
    _, after_tries, after_dead = _figures(app)
    assert after_dead == dead  # no longer dead
    assert after_tries == tries + 3  # the tries that failed still did


def test_workers_failing_at_once_each_add_their_try(committed_app, monkeypatch):
    monkeypatch.setitem(committed_app.config, "METRICS_TOKEN", TOKEN)
    workers = 6
    with committed_app.app_context(), jobs_held(committed_app), unit_of_work():
        job_ids = [jobs.enqueue(KIND, order_id=i).id for i in range(workers)]
    start = threading.Barrier(workers)
    outcomes: list[str] = []

    def worker(job_id: int) -> None:
        start.wait()
        with committed_app.app_context():
            outcomes.append(outbox.run(job_id))

    threads = [threading.Thread(target=worker, args=(job_id,)) for job_id in job_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == workers and all(o.startswith("retry in") for o in outcomes), outcomes
    with committed_app.app_context():
        _, tries, dead = _figures(committed_app)
    assert (tries, dead) == (workers, 0)
