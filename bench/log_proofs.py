"""Benchmark: an inclusion proof reads O(log n) stored subtrees in one statement, so its
time must barely grow with the log. Two stores, one with 1,000 transfers and one with
1,000,000, each logged as the store logs them (leaves, subtrees, checkpoints); proofs
for random entries are timed on both in one run, interleaved, and the ratio of the
medians reported (also for a consistency proof and for appending a transfer). Exits 1
when the inclusion proof's ratio is above MAX_RATIO.

    make bench            (or: .venv/bin/python bench/log_proofs.py --transfers 1000000)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.staff_balances import build_store  # noqa: E402
from shop.extensions import db  # noqa: E402

MAX_RATIO = 2.0
CHUNK = 20_000


def build_log(app, label: str) -> int:
    """The log of every transfer, appended a chunk at a time (as many commits would)."""
    from shop.training.models import Transfer
    from shop.transparency.appending import append_ids, lock_head

    with app.app_context():
        ids = list(db.session.scalars(select(Transfer.id).order_by(Transfer.id)))
        with click.progressbar(length=len(ids), label=f"{label}: logging", file=sys.stderr) as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                append_ids(lock_head(), chunk)
                db.session.commit()
                bar.update(len(chunk))
        return len(ids)


def timed(client, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(
            f"{path} answered {response.status_code}: {response.get_data(as_text=True)}"
        )
    return elapsed


@click.command()
@click.option(
    "--transfers", default=1_000_000, show_default=True, help="Transfers in the large store."
)
@click.option("--rounds", default=300, show_default=True, help="Timed proofs per store.")
def main(transfers: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for name, count in (("small", 1_000), ("large", transfers)):
            folder = Path(tmp, name)
            folder.mkdir()
            app, _staff = build_store(folder, count, f"{count:,} transfers")
            app.config["PUBLIC_BASE_URL"] = "http://bench.invalid"
            size = build_log(app, f"{count:,} transfers")
            stores[name] = (app.test_client(), size)
        rng = random.Random(11)
        kinds = {
            "inclusion": lambda size: f"/log/proof/inclusion?index={rng.randrange(size)}&size={size}",
            "consistency": lambda size: f"/log/proof/consistency?from={rng.randrange(1, size)}&to={size}",
            "entries (100)": lambda size: (lambda s: f"/log/entries?start={s}&end={s + 100}")(rng.randrange(size - 100)),
        }  # fmt: skip
        timings: dict[tuple[str, str], list[float]] = {}
        for client, size in stores.values():  # warm: templates, SQLite's page cache
            for make in kinds.values():
                timed(client, make(size))
        with click.progressbar(length=rounds * len(kinds), label="Timing", file=sys.stderr) as bar:
            for _ in range(rounds):
                for kind, make in kinds.items():
                    for name, (client, size) in stores.items():
                        timings.setdefault((kind, name), []).append(timed(client, make(size)))
                    bar.update(1)
    click.echo(f"\nTransparency log, median of {rounds} requests each:")
    ratios = {}
    for kind in kinds:
        small = statistics.median(timings[(kind, "small")]) * 1000
        large = statistics.median(timings[(kind, "large")]) * 1000
        ratios[kind] = large / small
        click.echo(f"  {kind:15} 1,000 transfers {small:6.2f} ms   {transfers:,} transfers "
                   f"{large:6.2f} ms   ratio {ratios[kind]:.2f}x")  # fmt: skip
    verdict = "within" if ratios["inclusion"] <= MAX_RATIO else "ABOVE"
    click.echo(
        f"Inclusion proof ratio {ratios['inclusion']:.2f}x: {verdict} the {MAX_RATIO}x target."
    )
    if ratios["inclusion"] > MAX_RATIO:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
