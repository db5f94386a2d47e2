"""Spike benchmark: a crowd of shoppers on the production stack, and what must hold after.

One run creates a PostgreSQL database of its own on 127.0.0.1:5432 (dropped at the end),
loads the demo store plus one product of exactly --units units, and starts what a
machine of the store runs: gunicorn with gunicorn.conf.py on a free port, the worker
(`flask --app app worker`), Redis for the page cache, the queue and the rate limits
(each under a prefix of its own), and a real SMTP server (aiosmtpd) that counts the
emails. Then locust, headless, sends --users shoppers for --duration seconds: four in
five browse the home, listing, product and workshop pages, one in five buys that one
product (add to cart, checkout with the dummy gateway, pay with card 4242...).

The whole crowd comes from 127.0.0.1, which the store would take for one client: the
per-address checkout limit and per-address held-units cap are raised for the run
(CHECKOUT_LIMIT_PER_ADDRESS, MAX_HELD_UNITS_PER_ADDRESS); every other setting is the
store's own.

After the run the worker is drained and the run fails (exit 1) unless: no 5xx; browsing
p95 under --p95-ms; exactly --units units sold, none oversold (on hand never below 0,
paid units equal to the stock); every paid order emailed exactly once; and
`flask --app app ledger verify` clean.

    make bench-spike     (or: .venv/bin/python bench/spike.py --users 200 --duration 180)
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_pages import _free_port, signing_key_file  # the bench folder is not a package

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = os.environ.get("SPIKE_PG_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SPIKE_REDIS_URL", "redis://127.0.0.1:6379/0")
SLUG, SKU = "spike-day-tote", "SPIKE-TOTE"
LIMITLESS = "1000000 per hour"  # the crowd shares one address: see the module's docstring


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class Mailbox:
    """aiosmtpd's handler: keeps (recipients, subject) of every message accepted."""

    def __init__(self):
        self.messages: list[tuple[tuple[str, ...], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((tuple(envelope.rcpt_tos), str(message["Subject"] or "")))
        return "250 Message accepted for delivery"


class Stack:
    """The database, the environment, and the processes of one run."""

    def __init__(self, folder: Path, run: str, smtp_port: int):
        self.folder, self.run = folder, run
        self.database = f"spike_{run}"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "SHOP_ENV": "development",  # loopback hosts, the dummy gateway; CSRF stays on
            "DATABASE_URL": f"{PG}/{self.database}",
            "SECRET_KEY": f"spike-{run}-not-for-production",
            "SIGNING_KEY_FILE": signing_key_file(folder),  # not the instance folder's
            "PUBLIC_BASE_URL": self.base,  # what the passports seed-demo signs name
            "MEDIA_ROOT": str(folder / "media"),
            "CACHE_URL": REDIS,
            "CACHE_KEY_PREFIX": f"spike-{run}:",
            "QUEUE_URL": REDIS,
            "QUEUE_NAME": f"spike-{run}",
            "RATELIMIT_STORAGE_URI": REDIS,
            "RATELIMIT_KEY_PREFIX": f"spike-{run}-limits:",
            "CHECKOUT_LIMIT_PER_ADDRESS": LIMITLESS,
            "MAX_HELD_UNITS_PER_ADDRESS": "1000000",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_USE_TLS": "0",
            "JOB_PERIODIC_SECONDS": "10",  # relays anything left behind sooner while draining
            "LOG_FORMAT": "json",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
        self.processes: list[subprocess.Popen] = []

    def sql(self, statement: str, params=(), database: str | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(f"{PG}/{database or self.database}", autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self) -> None:
        self.sql(f'CREATE DATABASE "{self.database}"', database="postgres")

    def drop_database(self) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', database="postgres")

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
            check=check, capture_output=True, text=True,
        )  # fmt: skip

    def load_store(self, units: int) -> None:
        """The demo store, and the product everyone wants: one variant, one batch of
        `units`, through the store's own import commands."""
        self.flask("db", "upgrade")
        self.flask("seed-demo")
        catalog, batches = self.folder / "spike_catalog.csv", self.folder / "spike_batches.csv"
        with catalog.open("w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(["product_slug", "product_name", "category", "description", "story", "impact_share_bps", "status", "workshop_slug", "sku", "options", "price", "currency"])  # fmt: skip
            rows.writerow([SLUG, "Spike Day Tote", "Bags", "The tote in the newsletter.", "",
                           1000, "active", "mekong-stitch-works", SKU, "colour=natural",
                           "24.00", "USD"])  # fmt: skip
        with batches.open("w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(["code", "workshop_slug", "sku", "quantity", "produced_month", "materials", "makers"])  # fmt: skip
            rows.writerow(["SPIKE-2026-11", "mekong-stitch-works", SKU, units, "2026-11",
                           "cotton canvas", "KH-MS-001:2;KH-MS-002:1"])  # fmt: skip
        self.flask("catalog", "import", str(catalog))
        self.flask("batches", "import", str(batches))

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def serve(self) -> None:
        self.start("worker", [str(BIN / "flask"), "--app", "app", "worker"])
        self.start("gunicorn", [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "app:app"])
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2)  # noqa: S310 (loopback)
                return
            except OSError:
                time.sleep(0.1)
        raise click.ClickException(f"gunicorn did not start: see {self.folder / 'gunicorn.log'}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def clear_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=f"*spike-{self.run}*", count=1000):
            client.delete(key)

    def slugs(self, path: str, pattern: str) -> list[str]:
        page = urllib.request.urlopen(self.base + path).read().decode()  # noqa: S310 (loopback)
        return sorted(set(re.findall(pattern, page)) - {SLUG})

    def drain(self, seconds: int) -> dict[str, int]:
        """Waits for the outbox to empty (no job pending or running); the jobs by status."""
        deadline = time.monotonic() + seconds
        while True:
            statuses = dict(self.sql("SELECT status, count(*) FROM jobs GROUP BY status"))
            if not statuses.get("pending") and not statuses.get("running"):
                return statuses
            if time.monotonic() > deadline:
                return statuses
            time.sleep(1)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@click.command()
@click.option("--users", default=200, show_default=True, help="simulated shoppers at once")
@click.option("--duration", default=180, show_default=True, help="seconds of load")
@click.option("--spawn-rate", default=20.0, show_default=True, help="shoppers started a second")
@click.option("--units", default=50, show_default=True, help="stock of the product all buy")
@click.option("--wait", default="1,4", show_default=True, help="think time between pages, s")
@click.option("--p95-ms", default=300.0, show_default=True, help="browsing p95 target")
@click.option("--drain-seconds", default=180, show_default=True)
@click.option("--keep", is_flag=True, help="keep the folder of logs (printed) and the database")
def main(users, duration, spawn_rate, units, wait, p95_ms, drain_seconds, keep):
    from aiosmtpd.controller import Controller

    for host, port, what in (("127.0.0.1", 5432, "PostgreSQL"), ("127.0.0.1", 6379, "Redis")):
        if not _reachable(host, port):
            raise click.ClickException(f"{what} is not listening on {host}:{port}")
    run = secrets.token_hex(4)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-spike-{run}-"))
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    stack = Stack(folder, run, smtp.port)
    load_before = _load_average()
    with ExitStack() as cleanup:
        if not keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)  # after all else
        smtp.start()
        cleanup.callback(smtp.stop)
        stack.create_database()
        if not keep:
            cleanup.callback(stack.drop_database)
        cleanup.callback(stack.clear_redis)
        cleanup.callback(stack.stop)
        click.echo(f"run {run}: loading the store into {stack.database} ...", err=True)
        stack.load_store(units)
        stack.serve()
        products = stack.slugs("/products", r'href="/products/([a-z0-9-]+)"')
        products += stack.slugs("/products?page=2", r'href="/products/([a-z0-9-]+)"')
        workshops = stack.slugs("/workshops", r'href="/workshops/([a-z0-9-]+)"')
        # A store that has been up a while: each worker has compiled its templates and
        # filled the page cache, as catalog_pages.py does before measuring.
        pages = ["/", "/products", "/workshops", f"/products/{SLUG}"]
        pages += [f"/products/{p}" for p in products] + [f"/workshops/{w}" for w in workshops]
        for _ in range(12):
            for page in pages:
                urllib.request.urlopen(stack.base + page).read()  # noqa: S310 (loopback)
        results_file = folder / "locust.json"
        locust_env = {
            **os.environ,
            "SPIKE_PRODUCTS": json.dumps(sorted(set(products))),
            "SPIKE_WORKSHOPS": json.dumps(workshops),
            "SPIKE_PRODUCT": SLUG,
            "SPIKE_WAIT": wait,
            "SPIKE_RESULTS": str(results_file),
        }
        click.echo(f"run {run}: {users} shoppers for {duration}s on {stack.base} "
                   f"(load average {load_before}) ...", err=True)  # fmt: skip
        started, wall_start = time.monotonic(), time.time()
        with (folder / "locust.log").open("w") as log:
            subprocess.run(
                [str(BIN / "locust"), "-f", str(ROOT / "bench" / "spike_locustfile.py"),
                 "--headless", "--users", str(users), "--spawn-rate", str(spawn_rate),
                 "--run-time", f"{duration}s", "--host", stack.base, "--stop-timeout", "30",
                 "--only-summary", "--exit-code-on-error", "0"],
                cwd=ROOT, env=locust_env, stdout=log, stderr=subprocess.STDOUT, check=True,
            )  # fmt: skip
        elapsed = time.monotonic() - started
        load_during = _load_average()
        jobs = stack.drain(drain_seconds)
        time.sleep(2)  # a message sent as its job finished is in the mailbox by now
        ledger = stack.flask("ledger", "verify", check=False)
        facts = _facts(stack)
        facts["last_sale"] = facts["last_paid"] - wall_start if facts["last_paid"] else None
        found = json.loads(results_file.read_text())
        if keep:
            click.echo(f"kept: {folder} and database {stack.database}", err=True)
    ok = _report(found, facts, jobs, ledger, mailbox, units, p95_ms,
                 (users, duration, elapsed, wait, load_before, load_during))  # fmt: skip
    sys.exit(0 if ok else 1)


def _facts(stack: Stack) -> dict:
    ((on_hand, reserved),) = stack.sql(
        "SELECT on_hand, reserved FROM variants WHERE sku = %s", (SKU,)
    )
    ((lowest,),) = stack.sql(
        "SELECT min(stock_after) FROM stock_movements m JOIN variants v ON v.id = m.variant_id "
        "WHERE v.sku = %s",
        (SKU,),
    )
    paid = stack.sql(
        "SELECT o.number, o.email, sum(l.quantity) FROM orders o "
        "JOIN order_lines l ON l.order_id = o.id "
        "WHERE l.sku = %s AND o.status IN ('paid', 'fulfilled', 'completed') "
        "GROUP BY o.number, o.email",
        (SKU,),
    )
    statuses = dict(
        stack.sql(
            "SELECT o.status, count(DISTINCT o.id) FROM orders o JOIN order_lines l "
            "ON l.order_id = o.id WHERE l.sku = %s GROUP BY o.status",
            (SKU,),
        )
    )
    ((last_paid,),) = stack.sql(
        "SELECT extract(epoch FROM max(o.paid_at)) FROM orders o "
        "JOIN order_lines l ON l.order_id = o.id WHERE l.sku = %s",
        (SKU,),
    )
    return {
        "on_hand": on_hand, "reserved": reserved, "lowest": lowest, "paid": paid,
        "statuses": statuses, "last_paid": float(last_paid) if last_paid else None,
    }  # fmt: skip


def _report(found, facts, jobs, ledger, mailbox, units, p95_ms, run) -> bool:
    users, duration, elapsed, wait, load_before, load_during = run
    records = found["records"]
    statuses = Counter(status for _name, status, _ms, _at in records)
    errors = sum(n for status, n in statuses.items() if status >= 500)
    unanswered = statuses.get(0, 0)
    browsing = [ms for name, _status, ms, _at in records if name.startswith("browse:")]
    by_page: dict[str, list[float]] = {}
    for name, _status, ms, _at in records:
        by_page.setdefault(name, []).append(ms)
    p50, p95 = _percentile(browsing, 0.50), _percentile(browsing, 0.95)
    sold = sum(quantity for _number, _email, quantity in facts["paid"])
    # Emails about each paid order, at the SMTP server: exactly one each.
    sent = Counter()
    for recipients, subject in mailbox.messages:
        for number, address, _q in facts["paid"]:
            if address in recipients and number in subject:
                sent[number] += 1
    spike_mail = sum(1 for r, _s in mailbox.messages if any("@spike.example" in a for a in r))
    emailed_once = all(sent[number] == 1 for number, _e, _q in facts["paid"])
    checks = [
        ("no 5xx answers", errors == 0, f"{errors} (and {unanswered} without an answer)"),
        (f"browsing p95 < {p95_ms:.0f} ms", p95 < p95_ms, f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"),
        (f"exactly {units} units sold", sold == units, f"{sold} in {len(facts['paid'])} paid orders"),
        ("no oversell", facts["lowest"] >= 0 and facts["on_hand"] == units - sold >= 0,
         f"on hand {facts['on_hand']} (lowest {facts['lowest']}), held {facts['reserved']}"),
        ("every paid order emailed once", emailed_once and spike_mail == len(facts["paid"]),
         f"{sum(sent.values())} confirmations for {len(facts['paid'])} paid orders "
         f"({spike_mail} emails to the crowd in all)"),
        ("worker drained, nothing dead", not jobs.get("pending") and not jobs.get("running")
         and not jobs.get("dead"), ", ".join(f"{k} {v}" for k, v in sorted(jobs.items()))),
        ("ledger verify clean", ledger.returncode == 0,
         (ledger.stdout.strip().splitlines() or ["(no output)"])[-1]),
    ]  # fmt: skip
    print(f"\nspike: {users} shoppers (4 browse : 1 buys), {elapsed:.0f}s of load (asked "
          f"{duration}s), think time {wait} s; PostgreSQL, gunicorn (gunicorn.conf.py), Redis, "
          f"worker, aiosmtpd")  # fmt: skip
    print(f"load average before {load_before}, at the end {load_during}")
    print(
        f"requests: {len(records)} ({len(records) / max(elapsed, 1):.0f}/s); statuses: "
        + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    )
    print("buyers: " + ", ".join(f"{k} {v}" for k, v in sorted(found["outcomes"].items())))
    print(f"orders for the product by status: {facts['statuses']}", end="")
    if facts["last_sale"] is not None:
        print(f"; its last unit paid {facts['last_sale']:.0f}s after the crowd began", end="")
    print()
    print(f"\n{'page':<36}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for name, values in sorted(by_page.items()):
        print(f"{name:<36}{len(values):>9}{_percentile(values, .5):>9.0f}"
              f"{_percentile(values, .95):>9.0f}")  # fmt: skip
    print(f"{'all browsing pages':<36}{len(browsing):>9}{p50:>9.0f}{p95:>9.0f}")
    # By the minute's half: on a shared machine, a slow stretch shows when it came.
    start = min((at for *_r, at in records), default=0)
    windows: dict[int, list[float]] = {}
    for name, _status, ms, at in records:
        if name.startswith("browse:"):
            windows.setdefault(int((at - start) // 30), []).append(ms)
    print("browsing p95 by 30 s: " + ", ".join(
        f"{30 * w}s {_percentile(v, 0.95):.0f} ms" for w, v in sorted(windows.items())
    ))  # fmt: skip
    print(f"\n{'must hold':<36}{'':>6}  figures")
    for what, held, figures in checks:
        print(f"{what:<36}{'ok' if held else 'FAILED':>6}  {figures}")
    if ledger.returncode != 0:
        print(ledger.stdout + ledger.stderr)
    return all(held for _what, held, _figures in checks)


if __name__ == "__main__":
    main()
