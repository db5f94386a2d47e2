"""Commands: `flask --app app <group> import FILE.csv` and `seed-demo`.

Each command is one transaction: it commits once at the end, or rolls back and
exits non-zero, so a failed command leaves the database as it found it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from shop.csv_import import MAX_ERRORS_SHOWN, Importer, ImportFailed, ImportResult, validate
from shop.extensions import db


def _importer(kind: str) -> Importer:
    from shop.catalog.importers import CatalogImporter
    from shop.provenance.importers import BatchImporter, TraineeImporter, WorkshopImporter

    return {
        "workshops": WorkshopImporter,
        "trainees": TraineeImporter,
        "batches": BatchImporter,
        "catalog": lambda: CatalogImporter(current_app.config["STORE_CURRENCY"]),
    }[kind]()


def import_with_progress(importer: Importer, data: bytes, label: str) -> ImportResult:
    parsed = validate(importer, data)
    with click.progressbar(length=len(parsed), label=label, file=sys.stderr) as bar:
        result = importer.write(parsed, bar.update)
    result.rows = len(parsed)
    return result


def report_failure(path: str, failed: ImportFailed) -> None:
    click.secho(f"{path}: nothing was imported.", fg="red", err=True)
    for error in failed.errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"  {error}", err=True)
    hidden = len(failed.errors) - MAX_ERRORS_SHOWN
    if hidden > 0:
        click.echo(f"  … and {hidden} more problem(s).", err=True)


def summary(result: ImportResult, noun: str) -> str:
    return (
        f"{result.rows} {noun} row(s): {result.created} created, "
        f"{result.updated} updated, {result.unchanged} unchanged."
    )


def make_import_group(kind: str, noun: str) -> AppGroup:
    group = AppGroup(kind, help=f"Manage {noun}s.")

    @group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_command(file: str) -> None:
        """Import FILE.csv. The whole file is checked first; a bad row writes nothing."""
        try:
            result = import_with_progress(
                _importer(kind), Path(file).read_bytes(), f"Importing {noun}s"
            )
            db.session.commit()
        except ImportFailed as failed:
            db.session.rollback()
            report_failure(file, failed)
            raise SystemExit(1) from None
        except SQLAlchemyError as exc:
            db.session.rollback()
            click.secho(
                f"{file}: the database refused the import, nothing was written ({exc.__class__.__name__}).",
                fg="red",
                err=True,
            )
            raise SystemExit(1) from None
        except BaseException:
            db.session.rollback()
            raise
        click.echo(f"{file}: {summary(result, noun)}")

    return group


def register_commands(app: Flask) -> None:
    for kind, noun in (
        ("workshops", "workshop"),
        ("catalog", "variant"),
        ("trainees", "trainee"),
        ("batches", "batch"),
    ):
        app.cli.add_command(make_import_group(kind, noun))

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Load the demo workshops, products, trainees and batches (safe to repeat)."""
        from shop.demo import seed_demo

        try:
            report = seed_demo(
                progress_label=lambda label, n: click.progressbar(
                    length=n, label=label, file=sys.stderr
                )
            )
            db.session.commit()
        except (ImportFailed, SQLAlchemyError) as exc:
            db.session.rollback()
            click.secho(
                f"Demo data could not be loaded; nothing was written: {exc}", fg="red", err=True
            )
            raise SystemExit(1) from None
        for line in report:
            click.echo(line)
