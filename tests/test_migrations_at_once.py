"""Several machines starting together each run `flask --app app db upgrade` (`make serve`
does): on a fresh database they all succeed and the schema is built once. PostgreSQL
with TEST_DATABASE_URL (where, without the migrations' advisory lock, all but one fail on
tables created twice), SQLite otherwise (where its write lock already takes them in turn).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests.conftest import empty_database

ROOT = Path(__file__).resolve().parents[1]
UPGRADERS = 3

# `flask --app app db upgrade` itself, started once every process has loaded the store
# (the slow second of starting, which would otherwise spread them out): then they reach
# the database within milliseconds of each other, as machines started by one deploy can.
UPGRADE_ON_SIGNAL = """
import sys, time
from pathlib import Path
import app  # noqa: F401  (the store, built before the starting line)
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.002)
from flask.cli import main
sys.argv = ["flask", "--app", "app", "db", "upgrade"]
main()
"""


def _upgrader(ready: Path, go: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", UPGRADE_ON_SIGNAL, str(ready), str(go)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_upgraders_started_together_all_succeed_and_build_the_schema_once(tmp_path):
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    go = tmp_path / "go"
    with empty_database(tmp_path, "fresh.db") as url:
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "upgrade-test-secret",
               "SHOP_ENV": "development", "LOG_FORMAT": "text"}  # fmt: skip
        ready = [tmp_path / f"ready-{i}" for i in range(UPGRADERS)]
        upgraders = [_upgrader(mark, go, env) for mark in ready]
        try:
            deadline = time.monotonic() + 60
            while not all(mark.exists() for mark in ready):
                assert all(p.poll() is None for p in upgraders), "an upgrader stopped early"
                assert time.monotonic() < deadline, "the upgraders did not start"
                time.sleep(0.05)
            go.touch()
            outputs = [p.communicate(timeout=120)[0] for p in upgraders]
        finally:
            for p in upgraders:
                if p.poll() is None:
                    p.kill()
                    p.wait()

        assert [p.returncode for p in upgraders] == [0] * UPGRADERS, outputs
        # One of them built the schema; the others waited, then found it at head.
        built = [out for out in outputs if "Running upgrade  -> 0001" in out]
        assert len(built) == 1, outputs
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert [row[0] for row in versions] == [head]
        finally:
            engine.dispose()
