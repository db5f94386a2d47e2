"""The production server for real: gunicorn with the repository's config, two workers."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests
from tests.conftest import empty_database

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "scrape-token-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    # gunicorn's master stops (and stops its workers) if the test process dies first.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"Connection": "close", **(headers or {})})
    try:
        # Generous: a worker still loading the store on a loaded machine answers late.
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@contextmanager
def gunicorn(tmp_path: Path, database_url: str, workers: int = 2):
    """gunicorn as `make serve` starts it, on a free port of 127.0.0.1; yields its base
    URL and the file its stdout (the log) goes to."""
    port = _free_port()
    env = {
        **os.environ, "SHOP_ENV": "development", "DATABASE_URL": database_url,
        "SECRET_KEY": "gunicorn-test-secret", "MEDIA_ROOT": str(tmp_path / "media"),
        "MAIL_OUTBOX": str(tmp_path / "outbox"), "METRICS_TOKEN": TOKEN,
    }  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes its own
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "1",
             "app:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def migrated_database(tmp_path):
    with empty_database(tmp_path, "served.db") as url:
        app = create_app(config_for_tests(url, str(tmp_path / "media")))
        with app.app_context():
            upgrade()
            from shop.extensions import db

            db.engine.dispose()
        yield url


def _pids_serving(log: Path, route: str) -> set[int]:
    """The workers whose access lines show they answered `route`."""
    # The servers may be writing a line right now: read the whole ones only.
    entries = (json.loads(line) for line in log.read_text().split("\n")[:-1])
    return {e["pid"] for e in entries if e.get("route") == route}


def _healthz_count(metrics_text: str) -> float:
    found = re.search(
        r'^shop_http_requests_total\{method="GET",route="/healthz",status="2xx"\} (\S+)$',
        metrics_text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_gunicorn_serves_the_store_and_counts_across_its_workers(tmp_path, migrated_database):
    with gunicorn(tmp_path, migrated_database) as (base, log):
        # Many at once, until both workers have taken some (each answers one at a time).
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while len(_pids_serving(log, "/healthz")) < 2 and sent < 600:
                answers = list(pool.map(lambda _: _get(f"{base}/healthz")[0], range(30)))
                assert answers == [200] * 30
                sent += 30
        assert len(_pids_serving(log, "/healthz")) == 2, "both workers served"

        ready = _get(f"{base}/readyz")
        assert ready[0] == 200 and json.loads(ready[2])["status"] == "ok"

        assert _get(f"{base}/metrics")[0] == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for _ in range(6):  # whichever worker answers the scrape counts every worker's requests
            status, headers, text = _get(f"{base}/metrics", auth)
            assert status == 200 and headers["Content-Type"].startswith("text/plain")
            assert _healthz_count(text) == sent
            assert "shop_stock_held_units " in text and "shop_orders_paid_total " in text

        status, headers, _ = _get(f"{base}/healthz", {"X-Request-ID": "0123456789abcdef"})
        assert headers["X-Request-ID"] == "0123456789abcdef"

    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line, gunicorn's too, is JSON
    access = [e for e in entries if e["logger"] == "shop.access"]
    assert len(access) >= sent + 1 + 7 + 1
    assert {"request_id": "0123456789abcdef", "route": "/healthz", "status": 200}.items() <= next(
        e for e in access if e["request_id"] == "0123456789abcdef"
    ).items()
    assert any(e["logger"] == "gunicorn.error" for e in entries)


def test_not_ready_while_the_database_is_unreachable(tmp_path):
    nothing_there = f"postgresql://shop@127.0.0.1:{_free_port()}/shop"
    with gunicorn(tmp_path, nothing_there, workers=1) as (base, log):
        status, _, body = _get(f"{base}/readyz")
        assert status == 503
        assert json.loads(body) == {
            "status": "unavailable",
            "checks": {
                "database": "failed",
                "cache": "ok",
                "rate_limits": "ok",
                "queue": "ok",
                "media": "ok",
            },
        }
        assert "127.0.0.1" not in body and "shop@" not in body
        assert _get(f"{base}/healthz")[0] == 503
    assert "readiness check database failed" in log.read_text()
