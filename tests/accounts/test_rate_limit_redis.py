"""The sign-in limit holds across two app processes that share Redis."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    parts = urllib.parse.urlsplit(REDIS)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def _post(base: str, email: str, password: str) -> int:
    data = urllib.parse.urlencode({"email": email, "password": password}).encode()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(f"{base}/login", data=data), timeout=10
        ) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def two_stores(tmp_path):
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS}; the shared-limit test needs it")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app(config_for_tests(url, str(tmp_path / "media")))
    with app.app_context():
        upgrade()
    made = app.test_cli_runner().invoke(
        args=["create-user", "target@example.org", "--role", "customer", "--password-stdin"],
        input="the right password\n",
    )
    assert made.exit_code == 0, made.output
    env = {**os.environ, "DB_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
           "RATELIMIT_STORAGE_URI": REDIS, "RATELIMIT_KEY_PREFIX": f"test-{secrets.token_hex(4)}"}  # fmt: skip
    script = Path(__file__).with_name("serve_store.py")
    processes = [
        subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        bases = [f"http://127.0.0.1:{p.stdout.readline().strip()}" for p in processes]
        yield bases
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=10)


def test_the_sign_in_limit_holds_across_two_processes_sharing_redis(two_stores):
    first, second = two_stores
    for i in range(10):  # five wrong passwords on each process
        assert _post((first, second)[i % 2], "target@example.org", "wrong") == 401
    assert _post(first, "target@example.org", "the right password") == 429
    assert _post(second, "target@example.org", "the right password") == 429
