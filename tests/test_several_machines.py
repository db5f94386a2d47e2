"""The store on several machines: two app processes, each with an instance folder of its
own (no shared disk), over one database (SQLite file, or PostgreSQL with
TEST_DATABASE_URL), Redis as page cache, queue and rate-limit storage, SeaweedFS as the
image store (MEDIA_STORAGE=s3), and a worker (`flask --app app worker`). All real
processes on 127.0.0.1 and free ports, started once for this module and stopped at its
end, whatever happened. Skipped, with the reason, only when Redis or SeaweedFS cannot run.

What an operator running two machines would notice: a picture uploaded on one is shown by
the other (its copies, made by the worker, too); stock changed on one shows on the
other's next page view; the sign-in limit counts wrong passwords on both together; both
say they are ready, naming every backend.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask_migrate import upgrade
from PIL import Image
from sqlalchemy import select

from shop import create_app
from shop.catalog.models import ProductImage
from shop.config import config_for_tests
from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from tests import factories as f
from tests.conftest import empty_database
from tests.orders.test_cart_and_checkout import CHECKOUT
from tests.seaweedfs import S3Server, seaweedfs, why_weed_cannot_run

ROOT = Path(__file__).resolve().parents[1]
SERVE_STORE = ROOT / "tests" / "accounts" / "serve_store.py"
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN_PASSWORD = "admin password for two machines"
RIGHT_PASSWORD = "the right password"
WAIT_SECONDS = 30


def _redis_reason() -> str | None:
    parts = urllib.parse.urlsplit(REDIS)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            pass
    except OSError as exc:
        return f"Redis is not reachable at {REDIS} ({exc}); set TEST_REDIS_URL"
    return None


def wait_for(check, what: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {what}")
        time.sleep(0.2)


# --- HTTP, as a browser speaks it -----------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    url: str = ""

    @property
    def text(self) -> str:
        return self.body.decode()


def browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def call(url: str, data=None, headers=None, opener=None) -> Answer:
    """GET (or POST `data`: a dict, or bytes with its Content-Type in `headers`)."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=15) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read(), answer.geturl())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read())


def multipart(fields: dict[str, str], name: str, filename: str, content: bytes):
    boundary = f"----several-machines-{secrets.token_hex(8)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def photo(width: int = 900, height: int = 700) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def image_urls(page: str) -> list[str]:
    urls = re.findall(r'<img[^>]* src="([^"]+)"', page)
    for srcset in re.findall(r'srcset="([^"]+)"', page):
        urls += [candidate.strip().split(" ")[0] for candidate in srcset.split(",")]
    return urls


# --- the machines ---------------------------------------------------------------------------


@dataclass
class Machine:
    name: str
    base: str
    folder: Path

    def get(self, path: str, **kwargs) -> Answer:
        return call(f"{self.base}{path}", **kwargs)

    def post(self, path: str, data, **kwargs) -> Answer:
        return call(f"{self.base}{path}", data=data, **kwargs)


@dataclass
class Cluster:
    a: Machine
    b: Machine
    s3: S3Server
    setup_app: object  # a store in this process, for seeding and reading the database
    admin: urllib.request.OpenerDirector
    folder: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )

    @contextmanager
    def explained(self):
        """On failure, show what the processes logged (and whether one stopped)."""
        try:
            yield
        except AssertionError as exc:
            stopped = [p.args[-1] for p in self.processes if p.poll() is not None]
            raise AssertionError(f"{exc}\nstopped: {stopped}\n{self.logs()}") from exc

    def seed(self, make):
        with self.setup_app.app_context():
            made = make()
            db.session.commit()
            return made


def _start_web(name: str, folder: Path, env: dict, processes: list) -> Machine:
    instance = folder / f"instance-{name}"
    instance.mkdir()
    with (folder / f"web-{name}.log").open("w") as log:  # the process keeps its own copy
        process = subprocess.Popen(
            [sys.executable, str(SERVE_STORE)],
            env={**env, "MEDIA_ROOT": str(instance / "media")},
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
    processes.append(process)
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.wait(timeout=10)
        raise RuntimeError(f"app {name} did not start:\n{(folder / f'web-{name}.log').read_text()}")
    return Machine(name, f"http://127.0.0.1:{port}", instance)


def _start_worker(folder: Path, env: dict, processes: list) -> None:
    instance = folder / "instance-worker"
    instance.mkdir()
    worker_env = {
        **env,
        # The worker reads its settings from the environment, as in production.
        "SHOP_ENV": "development",
        "SECRET_KEY": "several-machines-secret",
        "DATABASE_URL": env["DB_URL"],
        "MEDIA_ROOT": str(instance / "media"),
        "MAIL_OUTBOX": str(instance / "outbox"),
        **{
            key: str(value)
            for key, value in json.loads(env["STORE_SETTINGS"]).items()
            if key != "QUEUE_IMMEDIATE"  # a setting of the web processes only
        },
    }
    with (folder / "worker.log").open("w") as log:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "worker", "--workers", "2"],
                env=worker_env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _forget_redis_keys(tag: str) -> None:
    """Every key this module's processes wrote carries `tag` (cache and rate-limit prefixes,
    the queue's name)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        for key in client.scan_iter(match=f"*{tag}*", count=500):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    reason = _redis_reason() or why_weed_cannot_run()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("several-machines")
    # Huey keeps only letters, digits and _ of a queue's name: the tag is made of those.
    tag = f"machines_{secrets.token_hex(6)}"
    with ExitStack() as stack:
        s3 = stack.enter_context(seaweedfs(folder / "seaweedfs", bucket=tag.replace("_", "-")))
        url = stack.enter_context(empty_database(folder, "store.db"))
        setup_app = create_app(
            config_for_tests(url, str(folder / "setup" / "media"), **s3.settings())
        )
        with setup_app.app_context():
            upgrade()
            f.user("admin", email=f"admin-{tag}@example.org", password=ADMIN_PASSWORD)
            db.session.commit()

        def close_setup_app() -> None:
            with setup_app.app_context():
                db.session.remove()
                db.engine.dispose()

        stack.callback(close_setup_app)
        stack.callback(_forget_redis_keys, tag)
        shared = {
            "CACHE_URL": REDIS,
            "CACHE_KEY_PREFIX": f"{tag}:page:",
            "QUEUE_URL": REDIS,
            "QUEUE_NAME": tag,
            "QUEUE_IMMEDIATE": False,
            # Short ticks: the relay and retries come round within the test's waits.
            "JOB_PERIODIC_SECONDS": 1,
            "JOB_RETRY_SECONDS": 1,
            "JOB_RETRY_MAX_SECONDS": 2,
        }
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DB_URL": url,
            "RATELIMIT_STORAGE_URI": REDIS,
            "RATELIMIT_KEY_PREFIX": f"{tag}:limits:",
            # One proxy in front of both, as a load balancer: visitors' addresses are its header.
            "TRUSTED_PROXIES": "1",
            "STORE_SETTINGS": json.dumps(shared),
            **{key: str(value) for key, value in s3.settings().items()},
        }
        processes: list[subprocess.Popen] = []
        stack.callback(_stop, processes)
        _start_worker(folder, env, processes)
        a = _start_web("a", folder, env, processes)
        b = _start_web("b", folder, env, processes)
        admin = browser()
        signed_in = a.post(
            "/login",
            {"email": f"admin-{tag}@example.org", "password": ADMIN_PASSWORD},
            opener=admin,
        )
        assert signed_in.status == 200 and "You are signed in" in signed_in.text
        yield Cluster(a, b, s3, setup_app, admin, folder, processes)


def _stocked_product(units: int) -> tuple[int, str, int]:
    workshop = f.workshop()
    f.vet(workshop)
    product = f.product(workshop, images=0)
    variant = product.variants[0]
    f.batch(variant, quantity=units, makers=[(f.trainee(workshop), 1)])
    return product.id, product.slug, variant.id


# --- what must hold -------------------------------------------------------------------------


def test_a_picture_uploaded_on_one_machine_is_served_by_the_other_with_the_workers_copies(
    cluster,
):
    a, b, s3 = cluster.a, cluster.b, cluster.s3
    product_id, slug, _ = cluster.seed(lambda: _stocked_product(4))
    with cluster.explained():
        before = b.get(f"/products/{slug}")  # B has this page cached, picture-less
        assert before.status == 200 and s3.public_url not in before.text

        body, headers = multipart({"alt_text": "An orange tote bag"}, "image", "tote.png", photo())
        added = a.post(
            f"/admin/products/{product_id}/images", body, headers=headers, opener=cluster.admin
        )
        assert added.status == 200 and "Image added" in added.text
        with cluster.setup_app.app_context():
            key = db.session.scalars(
                select(ProductImage.filename).where(ProductImage.product_id == product_id)
            ).one()

        original = f"{s3.public_url}/{key}"
        page = b.get(f"/products/{slug}")
        assert page.status == 200 and original in image_urls(page.text)
        # The link works for a browser (no credentials), and B serves the same bytes.
        from_bucket = call(original)
        assert from_bucket.status == 200 and from_bucket.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(from_bucket.body)).size == (900, 700)
        assert b.get(f"/media/{key}").body == from_bucket.body

        # The responsive copies are the worker's job; B's page links them once they exist.
        stem = key.rsplit(".", 1)[0]
        shown = wait_for(
            lambda: f"{stem}-320.webp" in (text := b.get(f"/products/{slug}").text) and text,
            "the worker's copies on B's page",
        )
        copies = [u for u in image_urls(shown) if u != original]
        assert {u.removeprefix(f"{s3.public_url}/") for u in copies} >= {
            f"{stem}-{w}.{fmt}" for w in (320, 640) for fmt in ("webp", "jpg")
        }
        for url in copies:
            assert url.startswith(f"{s3.public_url}/")
            fetched = call(url)
            assert fetched.status == 200
            assert Image.open(io.BytesIO(fetched.body)).format in ("WEBP", "JPEG")
        assert f"{s3.public_url}/{stem}-320.webp 320w" in b.get("/products").text

    # Nothing of it was written on either machine's own disk.
    for machine in (a, b):
        assert not [p for p in machine.folder.rglob("*") if p.is_file() and "outbox" not in p.parts]


def test_a_stock_change_made_on_one_machine_shows_on_the_others_next_page_view(cluster):
    a, b = cluster.a, cluster.b
    _, slug, variant_id = cluster.seed(lambda: _stocked_product(5))
    shopper = browser()  # a visitor whose browser keeps B's page and its ETag
    with cluster.explained():
        first = b.get(f"/products/{slug}", opener=shopper)
        assert "Only 5 left" in first.text
        assert "Only 5 left" in b.get(f"/products/{slug}").text  # now from the cache
        etag = first.headers["ETag"]
        unchanged = b.get(f"/products/{slug}", headers={"If-None-Match": etag}, opener=shopper)
        assert unchanged.status == 304

        adjusted = a.post(
            f"/admin/stock/{variant_id}/adjust",
            {"quantity": "-2", "reason": "Two damaged by rain"},
            opener=cluster.admin,
        )
        assert adjusted.status == 200 and "were corrected" in adjusted.text

        # The very next view on B, plain or revalidated: never the old count.
        assert "Only 3 left" in b.get(f"/products/{slug}").text
        revalidated = b.get(f"/products/{slug}", headers={"If-None-Match": etag}, opener=shopper)
        assert revalidated.status == 200 and "Only 3 left" in revalidated.text
        assert "Only 3 left" in a.get(f"/products/{slug}").text

        # A sale on A: the units held at checkout, then paid for, leave B's page at once.
        buyer = browser()
        added = a.post("/cart/add", {"variant_id": variant_id, "quantity": "1"}, opener=buyer)
        assert added.status == 200
        placed = a.post("/checkout", CHECKOUT, opener=buyer)
        assert placed.status == 200 and placed.url.endswith("/pay"), placed.url
        assert "Only 2 left" in b.get(f"/products/{slug}", opener=shopper).text
        paid = a.post(placed.url.removeprefix(a.base), {"card_number": "4242424242424242"},
                      opener=buyer)  # fmt: skip
        assert paid.status == 200
        assert "Only 2 left" in b.get(f"/products/{slug}", opener=shopper).text
        with cluster.setup_app.app_context():
            assert (
                db.session.scalar(select(Order.status).where(Order.email == CHECKOUT["email"]))
                == OrderStatus.PAID
            )


def test_wrong_passwords_on_both_machines_count_against_one_sign_in_limit(cluster):
    a, b = cluster.a, cluster.b
    email = f"target-{secrets.token_hex(4)}@example.org"
    cluster.seed(lambda: f.user("customer", email=email, password=RIGHT_PASSWORD))
    with cluster.explained():
        # Ten addresses, five wrong passwords on each machine: neither alone reaches ten.
        for i in range(10):
            machine = (a, b)[i % 2]
            wrong = machine.post(
                "/login", {"email": email, "password": "wrong"},
                headers={"X-Forwarded-For": f"10.10.0.{i}"},
            )  # fmt: skip
            assert wrong.status == 401, (machine.name, i, wrong.status)
        for machine in (a, b):  # even the right password, from an address not seen yet
            refused = machine.post(
                "/login", {"email": email, "password": RIGHT_PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )  # fmt: skip
            assert refused.status == 429, (machine.name, refused.status)


def test_both_machines_are_ready_and_name_every_backend(cluster):
    with cluster.explained():
        for machine in (cluster.a, cluster.b):
            ready = machine.get("/readyz")
            assert ready.status == 200, (machine.name, ready.text)
            answer = json.loads(ready.text)
            assert answer["status"] == "ok"
            for backend in ("database", "cache", "queue", "media"):
                assert answer["checks"].get(backend) == "ok", (machine.name, answer)
