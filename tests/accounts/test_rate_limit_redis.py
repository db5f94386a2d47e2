"""The sign-in limit holds across two app processes that share Redis."""

from __future__ import annotations

import http.cookiejar
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


def _post(base: str, email: str, password: str, address: str = "", opener=None) -> int:
    """POST /login; `address` is the visitor's (the stores trust one proxy's header)."""
    data = urllib.parse.urlencode({"email": email, "password": password}).encode()
    headers = {"X-Forwarded-For": address} if address else {}
    request = urllib.request.Request(f"{base}/login", data=data, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as r:
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
           "RATELIMIT_STORAGE_URI": REDIS, "RATELIMIT_KEY_PREFIX": f"test-{secrets.token_hex(4)}",
           "TRUSTED_PROXIES": "1"}  # fmt: skip
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


def test_a_known_browser_or_address_is_not_locked_out_by_failures_on_either_process(two_stores):
    first, second = two_stores
    home = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    assert _post(first, "target@example.org", "the right password", "192.0.2.10", home) == 200
    for i in range(10):  # wrong passwords from ten addresses, on both processes
        assert _post((first, second)[i % 2], "target@example.org", "wrong", f"10.9.0.{i}") == 401
    assert _post(second, "target@example.org", "the right password", "198.51.100.1") == 429
    # the browser that signed in before, from elsewhere; another browser at the known address
    assert _post(second, "target@example.org", "the right password", "203.0.113.5", home) == 200
    assert _post(second, "target@example.org", "the right password", "192.0.2.10") == 200


def test_one_mailbox_gets_three_reset_emails_an_hour_across_both_processes(two_stores, tmp_path):
    first, second = two_stores
    for i in range(6):  # six addresses, both processes: each asks once for the same mailbox
        data = urllib.parse.urlencode({"email": "target@example.org"}).encode()
        request = urllib.request.Request(
            f"{(first, second)[i % 2]}/password/forgot", data=data,
            headers={"X-Forwarded-For": f"10.8.0.{i}"},
        )  # fmt: skip
        with urllib.request.build_opener().open(request, timeout=10) as response:
            assert response.status == 200  # the neutral answer, after its redirect
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
