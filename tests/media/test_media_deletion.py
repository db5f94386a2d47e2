"""Deleting an image's objects from a real S3 bucket (SeaweedFS) is a job, never the
request's: a store that is down leaves a job that retries, and dies visibly on
/admin/jobs, and deletes them once the store answers; a picture uploaded again before
the job runs keeps its objects; the sweep deletes what no row references once it is
older than the grace period, and nothing else."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from shop.catalog.image_objects import DELETE_OBJECTS, SWEEP, enqueue_sweep_when_due, sweep
from shop.catalog.images import attach_image, reencode, stored_keys
from shop.catalog.models import Product
from shop.extensions import db
from shop.jobs.models import DEAD, DONE, PENDING, Job
from shop.jobs.outbox import drain
from shop.media import CONTENT_KEY
from shop.unit_of_work import unit_of_work
from tests.confirming import confirmed
from tests.conftest import client_as, jobs_held
from tests.media.conftest import make_store
from tests.media.test_object_storage import (
    fetch,
    new_product,
    photo,
    socket_closed,
    the_image,
    upload,
)


def status_of(url: str) -> int:
    try:
        return fetch(url)[0]
    except urllib.error.HTTPError as answer:
        return answer.code


def uploaded(app, s3, colour=(30, 90, 140)) -> tuple[int, int, set[str]]:
    """A product with one picture in the bucket: (product id, image id, its keys)."""
    product_id, _ = new_product(app)
    with app.app_context():
        admin = client_as(app, "admin")
    assert "Image added" in upload(admin, product_id, photo(700, 500, colour)).get_data(
        as_text=True
    )
    image = the_image(app, product_id)
    keys = set(stored_keys(image))
    assert len(keys) == 1 + 3 * 2  # the original; WebP and JPEG at 320, 640 and 700 px
    assert keys <= s3.objects()
    return product_id, image.id, keys


def deletion_jobs(app) -> list[Job]:
    with app.app_context():
        found = db.session.scalars(select(Job).where(Job.kind == DELETE_OBJECTS)).all()
        db.session.expunge_all()
        return found


def store_that_is_down(store_database, s3, folder, **settings):
    """The same database and bucket, but the store's address answers nothing."""
    with socket_closed() as port:
        endpoint = f"http://127.0.0.1:{port}"
    return make_store(store_database, folder, **s3.settings(S3_ENDPOINT_URL=endpoint, **settings))


def test_an_image_deleted_while_the_store_is_down_is_deleted_by_its_job_once_it_answers(
    s3_store, s3, store_database, tmp_path
):
    _, image_id, keys = uploaded(s3_store, s3)
    urls = [f"{s3.public_url}/{key}" for key in sorted(keys)]
    assert all(status_of(url) == 200 for url in urls)

    down = store_that_is_down(store_database, s3, tmp_path / "down")
    with down.app_context():
        admin = client_as(down, "admin")
    answer = confirmed(admin, f"/admin/images/{image_id}/delete", follow_redirects=True)
    assert answer.status_code == 200 and "Image removed" in answer.get_data(as_text=True)

    # The row is gone, the objects are not: a job is waiting to try again.
    assert keys <= s3.objects()
    assert status_of(urls[0]) == 200
    [job] = deletion_jobs(down)
    assert job.status == PENDING and job.attempts == 1 and job.last_error == "MediaUnavailable"
    assert sorted(job.payload["keys"]) == sorted(keys)
    page = client_as_admin(s3_store).get("/admin/jobs").get_data(as_text=True)
    assert "media.delete" in page and "MediaUnavailable" in page

    # The store answers again (here: a worker that reaches it) and the job runs.
    with s3_store.app_context():
        assert drain() == 1
    [job] = deletion_jobs(s3_store)
    assert job.status == DONE
    assert not keys & s3.objects()
    assert all(status_of(url) == 404 for url in urls)


def client_as_admin(app):
    with app.app_context():
        return client_as(app, "admin")


def test_a_deletion_that_fails_for_good_is_dead_on_admin_jobs_until_retried(
    s3_store, s3, store_database, tmp_path
):
    _, image_id, keys = uploaded(s3_store, s3, colour=(150, 40, 40))
    down = store_that_is_down(store_database, s3, tmp_path / "down", JOB_MAX_ATTEMPTS=2)
    down_admin = client_as_admin(down)
    confirmed(down_admin, f"/admin/images/{image_id}/delete")
    with down.app_context():
        drain()  # its second and last try, with the store still down
    [job] = deletion_jobs(down)
    assert job.status == DEAD and job.attempts == 2
    assert keys <= s3.objects()

    admin = client_as_admin(s3_store)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "media.delete" in page and f"/admin/jobs/{job.id}/retry" in page
    assert admin.post(f"/admin/jobs/{job.id}/retry").status_code == 302
    assert deletion_jobs(s3_store)[0].status == DONE
    assert not keys & s3.objects()


def test_a_picture_uploaded_again_before_its_deletion_runs_keeps_its_objects(s3_store, s3):
    """Keys are the content's hash: removed from one product and uploaded to another
    before the worker got to the deletion, the picture is the same objects."""
    _, image_id, keys = uploaded(s3_store, s3, colour=(40, 150, 40))
    other_id, other_slug = new_product(s3_store)
    admin = client_as_admin(s3_store)
    with s3_store.app_context(), jobs_held(s3_store) as run_jobs:
        confirmed(admin, f"/admin/images/{image_id}/delete")
        assert keys <= s3.objects()  # the request itself deleted nothing
        assert [j.status for j in deletion_jobs(s3_store)] == [PENDING]
        again = upload(admin, other_id, photo(700, 500, (40, 150, 40)))
        assert "Image added" in again.get_data(as_text=True)
        assert the_image(s3_store, other_id).filename in keys
        run_jobs()
    assert [j.status for j in deletion_jobs(s3_store)] == [DONE]
    assert keys <= s3.objects()
    page = s3_store.test_client().get(f"/products/{other_slug}").get_data(as_text=True)
    shown = [key for key in keys if f"{s3.public_url}/{key}" in page]
    assert shown and all(status_of(f"{s3.public_url}/{key}") == 200 for key in shown)


def test_a_deletion_waits_for_an_upload_of_the_same_picture_still_in_flight(s3_store, s3):
    """The upload has written its objects and not yet committed its row: the deletion
    waits for the commit (the picture's lock), then finds the row and deletes nothing."""
    product_id, _ = new_product(s3_store)
    data, ext, width, height = reencode(photo(500, 400, (200, 200, 30)))
    written, commit_now, failures = threading.Event(), threading.Event(), []

    def upload_in_flight():
        try:
            with s3_store.app_context(), unit_of_work():
                product = db.session.get(Product, product_id)
                image = attach_image(product, data, ext, width, height, "A yellow tote")
                keys.update(stored_keys(image))
                written.set()
                commit_now.wait(30)
        except Exception as exc:
            failures.append(exc)
            written.set()

    keys: set[str] = set()
    deleted: list[str] = []

    def delete_the_same_picture():
        from shop.catalog.image_objects import delete_unreferenced

        with s3_store.app_context(), unit_of_work():
            deleted.extend(delete_unreferenced(keys))

    uploader = threading.Thread(target=upload_in_flight)
    deleter = threading.Thread(target=delete_the_same_picture)
    uploader.start()
    try:
        assert written.wait(30) and not failures, failures
        original = next(k for k in keys if CONTENT_KEY.fullmatch(k) and "-" not in k[9:])
        assert original in s3.objects()
        deleter.start()
        time.sleep(1.5)
        waited = deleter.is_alive()
    finally:
        commit_now.set()
        uploader.join(30)
        if deleter.ident:
            deleter.join(30)
    assert waited, "the deletion did not wait for the upload's commit"
    assert not failures and not deleter.is_alive()
    assert original not in deleted and original in s3.objects()


def test_the_sweep_deletes_old_orphans_and_keeps_fresh_and_used_objects(s3_store, s3):
    _, _, used = uploaded(s3_store, s3, colour=(90, 30, 160))
    client = s3.client()
    old = {f"products/{'a' * 32}.jpg", f"products/{'a' * 32}-320.webp", "products/.upload-x1"}
    for key in sorted(old):
        client.put_object(Bucket=s3.bucket, Key=key, Body=b"left behind")
    client.put_object(Bucket=s3.bucket, Key="backups/orders.csv", Body=b"not ours")
    time.sleep(1.2)  # the bucket's clock counts whole seconds
    fresh = f"products/{'b' * 32}.jpg"
    client.put_object(Bucket=s3.bucket, Key=fresh, Body=b"an upload not committed yet")
    written = {o["Key"]: o["LastModified"] for o in client.list_objects_v2(
        Bucket=s3.bucket)["Contents"]}  # fmt: skip
    grace = timedelta(hours=1)
    # As if an hour had passed since the orphans were written, and not since the fresh one.
    now = max(written[key] for key in old) + grace
    assert written[fresh] > max(written[key] for key in old)

    with s3_store.app_context(), unit_of_work():
        found, deleted = sweep(grace, now=now)
    assert (found.listed, found.in_use, found.too_recent) == (len(used) + 4, len(used), 1)
    assert sorted(deleted) == sorted(old)
    assert s3.objects() == used | {fresh, "backups/orders.csv"}
    assert status_of(f"{s3.public_url}/products/{'a' * 32}.jpg") == 404
    assert all(status_of(f"{s3.public_url}/{key}") == 200 for key in used)


def test_the_worker_makes_one_sweep_job_a_period_and_it_keeps_what_is_recent(s3_store, s3):
    _, _, used = uploaded(s3_store, s3, colour=(10, 10, 10))
    orphan = f"products/{'c' * 32}-640.jpg"
    s3.client().put_object(Bucket=s3.bucket, Key=orphan, Body=b"x")
    with s3_store.app_context():
        for _tick in range(3):
            with unit_of_work():
                enqueue_sweep_when_due()  # the first tick's job runs on its commit
        sweeps = db.session.scalars(select(Job).where(Job.kind == SWEEP)).all()
        assert [job.status for job in sweeps] == [DONE]
    assert s3.objects() == used | {orphan}  # younger than MEDIA_SWEEP_GRACE_HOURS
    with s3_store.app_context():
        s3_store.config["MEDIA_SWEEP_GRACE_HOURS"] = 0
        db.session.execute(update(Job).values(created_at=datetime(2020, 1, 1, tzinfo=UTC)))
        with unit_of_work():
            enqueue_sweep_when_due()
    assert s3.objects() == used


def test_media_sweep_command_lists_then_deletes_orphans_older_than_the_grace(
    store_database, tmp_path
):
    app = make_store(store_database, tmp_path / "local")
    media = tmp_path / "local" / "media"
    product_id, _ = new_product(app)
    upload(client_as_admin(app), product_id, photo(400, 300))
    used = {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}
    assert len(used) == 1 + 2 * 2
    old, fresh = media / "products" / f"{'d' * 32}.png", media / "products" / f"{'e' * 32}.png"
    for path in (old, fresh):
        path.write_bytes(b"orphan")
    two_days_ago = time.time() - 48 * 3600
    os.utime(old, (two_days_ago, two_days_ago))

    runner = app.test_cli_runner()
    dry = runner.invoke(args=["media", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "7 object(s) under products/: 5 in use, 1 unused but written less than 24 h ago" in (
        dry.output
    )
    assert f"would delete products/{old.name}" in dry.output and fresh.name not in dry.output
    assert old.exists()

    swept = runner.invoke(args=["media", "sweep"])
    assert swept.exit_code == 0, swept.output
    assert "Deleted 1 orphaned object(s)." in swept.output
    assert not old.exists() and fresh.exists()
    assert all((media / key).exists() for key in used)

    short = runner.invoke(args=["media", "sweep", "--grace-hours", "0"])
    assert "Deleted 1 orphaned object(s)." in short.output and not fresh.exists()


def test_media_sweep_command_deletes_nothing_when_the_store_does_not_answer(
    store_database, s3, tmp_path
):
    down = store_that_is_down(store_database, s3, tmp_path / "down")
    result = down.test_cli_runner().invoke(args=["media", "sweep"])
    assert result.exit_code == 1
    assert "Nothing was deleted: the image store is not answering." in result.output
