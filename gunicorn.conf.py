"""gunicorn's settings for `make serve` (gunicorn --config gunicorn.conf.py app:app).

Every number can be changed from the environment without editing this file:
GUNICORN_BIND (127.0.0.1:8000; 0.0.0.0:8000 behind a proxy on another machine),
WEB_CONCURRENCY (worker processes), GUNICORN_THREADS (threads per worker),
GUNICORN_TIMEOUT, GUNICORN_LOG_LEVEL, GUNICORN_CONTROL_SOCKET, PROMETHEUS_MULTIPROC_DIR.
"""

import os
import shutil
import tempfile
from pathlib import Path

# prometheus_client chooses between per-process and shared (multi-process) counting when
# a worker first imports it, after the fork: the folder must be in the environment first.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or ""
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="made-known-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

from shop.request_log import logging_config  # noqa: E402  (after the environment is set)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this container may use, not the host's
    except AttributeError:
        return os.cpu_count() or 1


bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# gunicorn's rule of thumb, (2 x cores) + 1 processes, each with a few threads: a
# request mostly waits on PostgreSQL or Redis, and a thread waiting holds no core.
# Each thread may hold one database connection: workers x threads per machine.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cores() + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
worker_class = "gthread"
# A request that takes longer is stuck: its worker is restarted. On SIGTERM (a deploy),
# workers stop accepting and get as long again to finish what they are serving.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = timeout
keepalive = 5  # a proxy in front reuses its connections
# The heartbeat file on tmpfs: a slow or full disk must not get healthy workers killed.
# (gunicorn makes its own unique file there, as in any temporary folder.)
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
proc_name = "made-known"
# gunicorn's control socket sits at one path per user: a second server on the machine (a
# benchmark, a test) would take it over. Set GUNICORN_CONTROL_SOCKET to use gunicornc.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# The store writes its own access line per request (route, status, duration, request
# id; no path, query or address: shop/request_log.py); gunicorn's would hold all three.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = logging_config(loglevel.upper())


def on_starting(server):
    # Counts left by an earlier run would be added to this one's.
    for stale in Path(_metrics_dir).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    # Drops the dead worker's live gauges; its counters stay counted.
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
