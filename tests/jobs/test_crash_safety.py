"""No confirmation email is lost or doubled when a process dies, or while the mail server
is down. Real parts only: the store is served by its own process and the worker is
`flask --app app worker`, both configured from the environment as in production; the
mail server is aiosmtpd on a free port; processes are killed with SIGKILL. Each test runs
on the embedded queue (Huey on SQLite) and on Redis (skipped when Redis is not there),
over SQLite or, with TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from shop import create_app
from shop.config import config_for_tests
from shop.extensions import db
from shop.jobs.models import Job
from shop.orders.models import Order, OrderStatus
from tests.conftest import empty_database
from tests.orders.conftest import new_order, stocked_variant

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LEASE_SECONDS = 2
SETTLE_SECONDS = LEASE_SECONDS + 2  # long enough for a second copy to show up, if any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def wait_for(check, seconds: float = 30, what: str = "it"):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {what}")
        time.sleep(0.2)


# --- the mail server ---------------------------------------------------------------------


class Mailbox:
    """What an SMTP server accepted; can hold the next conversation at RCPT (a sender
    stuck mid-send) until released."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.hold_next = False
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.hold_next:
            self.hold_next = False
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def about(self, number: str) -> list:
        return [m for m in self.messages if number in str(m["Subject"])]


def _port_no_one_else_is_given() -> int:
    """A free port below the kernel's ephemeral range: the mail server is stopped and
    started again on its port, and meanwhile a server bound to port 0 elsewhere (the
    other suite runs beside this one in CI) could be given a port of that range."""
    import random

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randint(10_000, max(10_001, low - 1))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return _free_port()


class MailServer:
    def __init__(self):
        self.port = _port_no_one_else_is_given()
        self.mailbox = Mailbox()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.mailbox.release.set()
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mail_server():
    server = MailServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- the store: database, web process, worker ----------------------------------------------


class Store:
    def __init__(self, tmp_path: Path, database_url: str, queue_url: str, mail_port: int):
        self.tmp = tmp_path
        self.queue_url, self.queue_name = queue_url, f"test-jobs-{secrets.token_hex(4)}"
        self.env = {
            **os.environ,
            "SHOP_ENV": "development",
            "SECRET_KEY": "crash-test-secret",
            "DATABASE_URL": database_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "MAIL_OUTBOX": str(tmp_path / "outbox"),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(mail_port),
            "MAIL_USE_TLS": "0",
            "QUEUE_URL": queue_url,
            "QUEUE_NAME": self.queue_name,
            "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "JOB_RETRY_SECONDS": "1",
            "JOB_RETRY_MAX_SECONDS": "2",
            "JOB_PERIODIC_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.app = create_app(config_for_tests(database_url, str(tmp_path / "media")))
        with self.app.app_context():
            upgrade()
        self.processes: list[subprocess.Popen] = []

    def web(self, crash_after_commit: bool = False) -> tuple[subprocess.Popen, str]:
        env = {**self.env, "CRASH_AFTER_COMMIT": "1" if crash_after_commit else "0"}
        log = open(self.tmp / f"web-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "jobs" / "serve_store.py")],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
        self.processes.append(process)
        return process, f"http://127.0.0.1:{process.stdout.readline().strip()}"

    def worker(self) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--workers", "1"],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def placed_order(self) -> tuple[int, str, str]:
        with self.app.app_context():
            order = new_order([(stocked_variant(quantity=3), 1)])
            db.session.commit()
            return order.id, order.token, order.number

    def order_status(self, order_id: int) -> OrderStatus:
        with self.app.app_context():
            return db.session.get(Order, order_id).status

    def jobs(self, kind: str = "order_confirmation") -> list[Job]:
        with self.app.app_context():
            return db.session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)).all()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp.glob("*.log")))

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        if self.queue_url.startswith("redis"):
            from huey import RedisHuey

            RedisHuey(self.queue_name, url=self.queue_url).storage.flush_all()


@pytest.fixture(params=["embedded", "redis"])
def store(request, tmp_path, mail_server):
    if request.param == "redis":
        if not _reachable(REDIS):
            pytest.skip(f"Redis is not reachable at {REDIS}")
        queue_url = REDIS
    else:
        # The embedded engine (Huey on SQLite, as an empty QUEUE_URL gives in the instance
        # folder), in this test's own folder.
        queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    with empty_database(tmp_path, "store.db") as database_url:
        made = Store(tmp_path, database_url, queue_url, mail_server.port)
        try:
            yield made
        finally:
            made.close()


def pay(base: str, token: str) -> int:
    """Pay with the test card through the store's pay page, as a browser would."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base}/orders/{token}/pay", timeout=10) as page:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())[1]
    data = urllib.parse.urlencode({"csrf_token": csrf, "card_number": "4242424242424242"})
    with opener.open(f"{base}/orders/{token}/pay", data=data.encode(), timeout=10) as paid:
        return paid.status


@contextmanager
def explained(store: Store):
    """On failure, show what the processes logged."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- logs ---\n{store.logs()[-6000:]}") from exc


def assert_told_once(store: Store, mailbox: Mailbox, number: str) -> None:
    wait_for(lambda: mailbox.about(number), what="the confirmation email")
    time.sleep(SETTLE_SECONDS)  # a second copy would come by now (lease + relay ticks)
    (message,) = mailbox.about(number)
    (job,) = store.jobs()
    assert job.status == "done"
    assert message["Message-ID"].startswith(f"<job-{job.id}.")
    assert message["To"] == "buyer@example.com"


# --- what must hold -------------------------------------------------------------------------


def test_the_web_process_killed_right_after_the_payment_commits_loses_no_email(store, mail_server):
    store.worker()
    web, base = store.web(crash_after_commit=True)
    order_id, token, number = store.placed_order()
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        pay(base, token)  # the process dies before it can answer
    with explained(store):
        assert web.wait(timeout=10) == -signal.SIGKILL
        assert store.order_status(order_id) == OrderStatus.PAID
        assert_told_once(store, mail_server.mailbox, number)


def test_the_worker_killed_in_the_middle_of_sending_loses_and_doubles_no_email(store, mail_server):
    mailbox = mail_server.mailbox
    mailbox.hold_next = True  # the first send stops halfway, at RCPT
    first = store.worker()
    _web, base = store.web()
    _order_id, token, number = store.placed_order()
    with explained(store):
        assert pay(base, token) == 200
        assert mailbox.holding.wait(timeout=30), "the worker never started sending"
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        mailbox.release.set()
        (job,) = store.jobs()
        assert (job.status, job.attempts) == ("running", 1)  # its claim dies with it
        store.worker()  # as a supervisor restarts it; the job's lease runs out first
        assert_told_once(store, mailbox, number)
        assert store.jobs()[0].attempts == 2


def test_with_the_mail_server_down_the_email_is_retried_and_sent_once_it_is_back(
    store, mail_server
):
    mail_server.stop()
    store.worker()
    _web, base = store.web()
    _order_id, token, number = store.placed_order()
    with explained(store):
        assert pay(base, token) == 200
        tried = wait_for(
            lambda: [j for j in store.jobs() if j.attempts >= 2], what="two failed tries"
        )
        assert tried[0].status in ("pending", "running")
        assert tried[0].last_error.startswith("ConnectionRefusedError")
        assert "buyer@example.com" not in store.logs()
        mail_server.start()  # the same port, back up
        assert_told_once(store, mail_server.mailbox, number)
