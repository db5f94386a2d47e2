"""Benchmark: the public pages as a share of /healthz throughput, on one gunicorn.

One run builds two stores (the demo catalog, and the demo catalog grown by --extra
products), starts gunicorn on a free port on the larger one, and measures requests per
second for /healthz, the listing, a product page and the home page with wrk (or, when
wrk is missing, a Python load generator of the same shape). Each page is measured cold
(every request misses the page cache, as right after any change to the catalog: the
cache is cleared first and the bench-only PAGE_CACHE_COLD_HEADER makes each request
render) and warm (the cache as visitors leave it), interleaved with /healthz over
several rounds; medians are reported, and each page as a fraction of /healthz.
It also counts the SQL statements of each page, cold and warm, on both stores: they
must be the same whatever the catalog's size. Exits 1 when a target is missed.

    make bench-pages     (or: .venv/bin/python bench/catalog_pages.py --rounds 3 --seconds 5)
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
COLD_HEADER = "X-Bench-Cold"
TARGETS = {"listing": 0.50, "product": 0.40}  # warm, as fractions of /healthz (issue 10)


def signing_key_file(folder: Path) -> str:
    """A key of the run's own: seed-demo signs the demo's passports with it, and no key is
    written into instance/."""
    key = folder / "signing-key.pem"
    if not key.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key.write_bytes(pem)
        key.chmod(0o600)
    return str(key)


def _env(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "SIGNING_KEY_FILE": signing_key_file(folder),
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",  # what the passports seed-demo signs name
        "SHOP_ENV": "development",
        "MEDIA_ROOT": str(folder / "media"),
        "MAIL_OUTBOX": str(folder / "outbox"),
        "CACHE_URL": "",
        "PAGE_CACHE_COLD_HEADER": COLD_HEADER,
        "PYTHONPATH": str(ROOT),
    }


def _flask(folder: Path, *args: str) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT, env=_env(folder), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def build_store(folder: Path, extra: int) -> None:
    """The demo store, plus `extra` products (two variants each, a batch for each) made
    through the store's own import commands."""
    folder.mkdir(parents=True, exist_ok=True)
    _flask(folder, "db", "upgrade")
    _flask(folder, "seed-demo")
    if not extra:
        return
    catalog, batches = folder / "more_catalog.csv", folder / "more_batches.csv"
    workshops = ["mekong-stitch-works", "riverside-sewing-school"]
    with catalog.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["product_slug", "product_name", "category", "description", "story", "impact_share_bps", "status", "workshop_slug", "sku", "options", "price", "currency"])  # fmt: skip
        for i in range(extra):
            for size in ("S", "L"):
                rows.writerow([f"bench-{i}", f"Bench Tote {i}", "Bags", "A plain tote.", "", 1000,
                               "active", workshops[i % 2], f"BENCH-{i}-{size}", f"size={size}",
                               f"{10 + i % 30}.50", "USD"])  # fmt: skip
    with batches.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(
            ["code", "workshop_slug", "sku", "quantity", "produced_month", "materials", "makers"]
        )
        for i in range(extra):
            for size in ("S", "L"):
                rows.writerow([f"BB-{i}-{size}", workshops[i % 2], f"BENCH-{i}-{size}", 5 + i % 7,
                               "2026-05", "cotton", ""])  # fmt: skip
    _flask(folder, "catalog", "import", str(catalog))
    _flask(folder, "batches", "import", str(batches))


def _pages(folder: Path) -> dict[str, str]:
    return {"listing": "/products", "product": "/products/buy-her-bag-tote", "home": "/"}


def statements(folder: Path) -> dict[str, tuple[int, int]]:
    """(cold, warm) SQL statements per page, in process."""
    os.environ.update(_env(folder))
    from sqlalchemy import event

    from shop import create_app
    from shop.extensions import db
    from shop.page_cache.pages import page_store

    app = create_app()
    counts = {}
    with app.app_context():
        engine = db.engine
    found: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            found.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    client = app.test_client()
    page_store(app).clear()
    for name, url in _pages(folder).items():
        per_visit = []
        for _ in range(2):
            found.clear()
            assert client.get(url).status_code == 200, url
            per_visit.append(len(found))
        counts[name] = tuple(per_visit)
    event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        db.engine.dispose()
    return counts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(folder: Path, workers: int, threads: int):
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--log-level", "warning", "app:app"],
        cwd=ROOT, env=_env(folder), start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 (loopback)
            return process, base
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def _wrk(url: str, seconds: int, connections: int, cold: bool) -> float:
    header = ["-H", f"{COLD_HEADER}: 1"] if cold else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *header, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _python_load(url: str, seconds: int, connections: int, cold: bool) -> float:
    """wrk's shape in Python: `connections` keep-alive clients for `seconds`."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {COLD_HEADER: "1"} if cold else {}
    done = [0] * connections
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", parts.path or "/", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: {response.status}")
            done[i] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / seconds


@click.command()
@click.option("--extra", default=187, help="products added to the demo's 13 for the larger store")
@click.option("--rounds", default=3)
@click.option("--seconds", default=5)
@click.option("--connections", default=16)
@click.option("--workers", default=2)
@click.option("--threads", default=4)
def main(extra: int, rounds: int, seconds: int, connections: int, workers: int, threads: int):
    load = _wrk if shutil.which("wrk") else _python_load
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        build_store(small, 0)
        build_store(large, extra)
        sql = {"small": statements(small), "large": statements(large)}
        process, base = serve(large, workers, threads)
        try:
            results: dict[str, list[float]] = {}
            for url in _pages(large).values():  # warm every worker once
                for _ in range(4 * workers):
                    urllib.request.urlopen(base + url).read()  # noqa: S310 (loopback)
            for _ in range(rounds):
                results.setdefault("healthz", []).append(
                    load(base + "/healthz", seconds, connections, False)
                )
                for name, url in _pages(large).items():
                    results.setdefault(f"{name} cold", []).append(
                        load(base + url, seconds, connections, True)
                    )
                    results.setdefault(f"{name} warm", []).append(
                        load(base + url, seconds, connections, False)
                    )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    healthz = statistics.median(results["healthz"])
    print(f"load: {'wrk' if load is _wrk else 'python threads'}, {connections} connections, "
          f"{rounds} rounds of {seconds}s; gunicorn -w {workers} --threads {threads}; "
          f"SQLite, {13 + extra} products")  # fmt: skip
    print(f"{'page':<16}{'req/s':>10}{'of /healthz':>14}")
    for name, values in results.items():
        rate = statistics.median(values)
        print(f"{name:<16}{rate:>10.0f}{rate / healthz:>13.0%}")
    print(f"\nSQL statements per page (cold, warm): 13 products {sql['small']}, "
          f"{13 + extra} products {sql['large']}")  # fmt: skip
    failed = [f"{name} warm {statistics.median(results[f'{name} warm']) / healthz:.0%} < {goal:.0%}"
              for name, goal in TARGETS.items()
              if statistics.median(results[f"{name} warm"]) / healthz < goal]  # fmt: skip
    if sql["small"] != sql["large"]:
        failed.append("statement counts grow with the catalog")
    if failed:
        print("MISSED: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
