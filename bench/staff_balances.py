"""Benchmark: the staff balances page reads balances from the account rows, so its
time must not grow with the ledger. Two stores with the same 1,000 trainees, one
with 1,000 transfers and one with 1,000,000; the page is timed on both in one run,
interleaved, and the ratio of the medians reported. Exits 1 above MAX_RATIO.

    make bench            (or: .venv/bin/python bench/staff_balances.py --transfers 1000000)
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

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from shop import create_app  # noqa: E402
from shop.config import config_for_tests  # noqa: E402
from shop.extensions import db  # noqa: E402

MAX_RATIO = 1.5
TRAINEES = 1_000


def build_store(folder: Path, transfers: int, label: str):
    """A store with TRAINEES trainees over 10 workshops and `transfers` sale shares."""
    from shop.accounts.models import Role, User, UserRole
    from shop.provenance.models import Trainee, Workshop, WorkshopKind
    from shop.training.models import LedgerAccount, Transfer, TransferKind

    app = create_app(
        config_for_tests(
            f"sqlite:///{folder / 'store.db'}", str(folder / "media"), RAISE_ON_LAZY_LOAD=False
        )
    )
    with app.app_context():
        upgrade()
        workshops = [
            Workshop(
                slug=f"w{i}",
                name=f"Workshop {i}",
                kind=WorkshopKind.TRAINING_CENTRE,
                country_code="KH",
                region="",
                crafts=["sewing"],
                story="",
                partner_since=__import__("datetime").date(2020, 1, 1),
            )
            for i in range(10)
        ]
        db.session.add_all(workshops)
        db.session.flush()
        db.session.add_all(
            Trainee(
                code=f"T{i:05d}",
                legal_name=f"Trainee {i}",
                workshop_id=workshops[i % 10].id,
                cohort=f"20{20 + i % 6}",
            )
            for i in range(TRAINEES)
        )
        staff = User(email="staff@example.org", name="Staff", password_hash="!")  # noqa: S106 (never signs in by password)
        staff.roles = [UserRole(role=Role.STAFF)]
        db.session.add(staff)
        db.session.commit()
        accounts = db.session.scalars(
            select(LedgerAccount.id).where(LedgerAccount.trainee_id.is_not(None))
        ).all()
        source = db.session.scalar(
            select(LedgerAccount.id).where(LedgerAccount.code == "sale_share_source")
        )
        rng = random.Random(7)
        credits: dict[int, int] = dict.fromkeys(accounts, 0)
        chunk = 20_000
        with click.progressbar(length=transfers, label=f"{label}: writing transfers",
                               file=sys.stderr) as bar:  # fmt: skip
            for start in range(0, transfers, chunk):
                rows = []
                for i in range(start, min(start + chunk, transfers)):
                    account, amount = accounts[i % len(accounts)], rng.randint(1, 900)
                    credits[account] += amount
                    rows.append(
                        {
                            "debit_account_id": source,
                            "credit_account_id": account,
                            "amount": amount,
                            "currency": "USD",
                            "kind": TransferKind.SALE_SHARE,
                            "idempotency_key": f"bench:{i}",
                            "cause_type": "order_line",
                            "cause_id": i,
                            "subject_account_id": account,
                            "memo": "Sale share: Tote",
                        }
                    )
                db.session.execute(insert(Transfer), rows)
                bar.update(len(rows))
        for account, amount in credits.items():  # the rows carry the totals, as post() keeps them
            db.session.execute(
                text(
                    "UPDATE ledger_accounts SET credits_posted = :c, earned_posted = :c, "
                    "last_credit_at = CURRENT_TIMESTAMP WHERE id = :id"
                ),
                {"c": amount, "id": account},
            )
        db.session.execute(
            text("UPDATE ledger_accounts SET debits_posted = :d WHERE id = :id"),
            {"d": sum(credits.values()), "id": source},
        )
        db.session.commit()
        staff_id = staff.id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(staff_id)
        session["_fresh"] = True
    return app, client


def time_page(client, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return elapsed


@click.command()
@click.option(
    "--transfers", default=1_000_000, show_default=True, help="Transfers in the large store."
)
@click.option("--rounds", default=60, show_default=True, help="Timed requests per store and page.")
def main(transfers: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small_dir, large_dir = Path(tmp, "small"), Path(tmp, "large")
        small_dir.mkdir()
        large_dir.mkdir()
        _small_app, small = build_store(small_dir, 1_000, "1,000 transfers")
        _large_app, large = build_store(large_dir, transfers, f"{transfers:,} transfers")
        paths = ["/staff/trainees", "/staff/trainees?page=10", "/staff/trainees?workshop=3"]
        timings: dict[tuple[str, str], list[float]] = {}
        for path in paths:  # warm both: templates compiled, pages cached by SQLite
            time_page(small, path)
            time_page(large, path)
        with click.progressbar(length=rounds * len(paths), label="Timing", file=sys.stderr) as bar:
            for _ in range(rounds):
                for path in paths:
                    timings.setdefault(("small", path), []).append(time_page(small, path))
                    timings.setdefault(("large", path), []).append(time_page(large, path))
                    bar.update(1)
    worst = 0.0
    click.echo(f"\nStaff balances page, {TRAINEES:,} trainees, median of {rounds} requests each:")
    for path in paths:
        s = statistics.median(timings[("small", path)]) * 1000
        big = statistics.median(timings[("large", path)]) * 1000
        ratio = big / s
        worst = max(worst, ratio)
        click.echo(f"  {path:32} 1,000 transfers {s:7.2f} ms   {transfers:,} transfers {big:7.2f} ms"
                   f"   ratio {ratio:.2f}x")  # fmt: skip
    verdict = "within" if worst <= MAX_RATIO else "ABOVE"
    click.echo(f"Worst ratio {worst:.2f}x: {verdict} the {MAX_RATIO}x target.")
    if worst > MAX_RATIO:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
