"""Commands: `flask --app app <group> import FILE.csv` and `seed-demo`.

Each command is one unit of work (shop/unit_of_work.py): it commits once at the end,
or rolls back and exits non-zero, so a failed command leaves the database as it
found it.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from shop.csv_import import MAX_ERRORS_SHOWN, Importer, ImportFailed, ImportResult, validate
from shop.extensions import db
from shop.unit_of_work import unit_of_work


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
            with unit_of_work():
                result = import_with_progress(
                    _importer(kind), Path(file).read_bytes(), f"Importing {noun}s"
                )
        except ImportFailed as failed:
            report_failure(file, failed)
            raise SystemExit(1) from None
        except SQLAlchemyError as exc:
            click.secho(
                f"{file}: the database refused the import, nothing was written ({exc.__class__.__name__}).",
                fg="red",
                err=True,
            )
            raise SystemExit(1) from None
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

    register_order_commands(app)
    register_media_commands(app)
    register_account_commands(app)
    register_ledger_commands(app)
    from shop.verification.cli import register_verification_commands

    register_verification_commands(app)  # after any other part's `passport` group

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Load the demo workshops, products, trainees and batches (safe to repeat)."""
        from shop.catalog.admin_services import CatalogError
        from shop.demo import seed_demo
        from shop.identity.keys import NoSigningKey
        from shop.media import MediaError

        try:
            with unit_of_work():
                report = seed_demo(
                    progress_label=lambda label, n: click.progressbar(
                        length=n, label=label, file=sys.stderr
                    )
                )
        except (ImportFailed, SQLAlchemyError, CatalogError, MediaError, NoSigningKey) as exc:
            click.secho(
                f"Demo data could not be loaded; nothing was written: {exc}", fg="red", err=True
            )
            raise SystemExit(1) from None
        for line in report:
            click.echo(line)


def register_media_commands(app: Flask) -> None:
    media = AppGroup("media", help="Product images in the media store.")

    @media.command("derivatives")
    def derivatives_command() -> None:
        """Make the responsive copies every image still lacks (safe to repeat)."""
        from shop.catalog.images import images_without_derivatives, make_derivatives
        from shop.media import MediaError

        made = failed = 0
        for image_id in images_without_derivatives():
            try:
                with unit_of_work():  # one image each: a failure keeps the others
                    made += make_derivatives(image_id) is not None
            except MediaError as exc:
                failed += 1
                click.secho(f"Image {image_id}: {exc}.", fg="red", err=True)
        click.echo(f"Made the copies of {made} image(s).")
        if failed:
            raise SystemExit(1)

    @media.command("sweep")
    @click.option("--dry-run", is_flag=True, help="List the orphans; delete nothing.")
    @click.option("--grace-hours", type=click.FloatRange(min=0), default=None,
                  help="Spare objects written less than this ago [MEDIA_SWEEP_GRACE_HOURS].")  # fmt: skip
    def sweep_command(dry_run: bool, grace_hours: float | None) -> None:
        """Delete the objects under products/ that no image references and that are older
        than the grace period (an upload's row may not be committed yet)."""
        from shop.catalog.image_objects import delete_unreferenced, find_orphans, sweep_grace
        from shop.media import MediaError

        grace = sweep_grace() if grace_hours is None else timedelta(hours=grace_hours)
        click.echo("Listing the media store…", err=True)
        try:
            with unit_of_work():
                found = find_orphans(grace)
        except MediaError as exc:
            click.secho(f"Nothing was deleted: {exc}.", fg="red", err=True)
            raise SystemExit(1) from None
        click.echo(f"{found.summary()}.")
        if dry_run:
            for key in found.orphans:
                click.echo(f"  would delete {key}")
            return
        deleted = kept = 0
        failed: MediaError | None = None
        with click.progressbar(found.orphans, label="Deleting orphans", file=sys.stderr) as bar:
            for key in bar:
                try:
                    with unit_of_work():  # one key each: a row committed since keeps it
                        gone = delete_unreferenced([key])
                except MediaError as exc:
                    failed = exc
                    break
                deleted, kept = deleted + len(gone), kept + (not gone)
        again = f"; {kept} in use again since the listing, kept" if kept else ""
        click.echo(f"Deleted {deleted} orphaned object(s){again}.")
        if failed is not None:
            click.secho(f"Stopped early: {failed}.", fg="red", err=True)
            raise SystemExit(1)

    app.cli.add_command(media)


def register_order_commands(app: Flask) -> None:
    orders = AppGroup("orders", help="Orders: expire unpaid ones, refund paid ones.")

    @orders.command("expire")
    def expire_command() -> None:
        """Release the stock of unpaid orders whose hold ran out."""
        from shop.orders.holds import release_expired
        from shop.timeutil import utcnow

        with unit_of_work():
            released = release_expired(utcnow())
        click.echo(f"Released {released} expired reservation(s).")

    @orders.command("refund")
    @click.argument("number")
    @click.option(
        "--line",
        "lines",
        multiple=True,
        metavar="SKU[=AMOUNT]",
        help="Refund this line, all of it or AMOUNT in major units (12.50). Repeatable.",
    )
    @click.option(
        "--shipping", is_flag=True, help="Refund the shipping too (implied without --line)."
    )
    @click.option("--reason", default="", help="Kept with the refund.")
    def refund_command(number: str, lines: tuple[str, ...], shipping: bool, reason: str) -> None:
        """Refund order NUMBER through its gateway: all of it, or some lines."""
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from shop.money import MoneyError, format_money, parse_major
        from shop.orders.gateways import GatewayError, gateway
        from shop.orders.models import Order
        from shop.orders.notifications import refund_notice_after_commit
        from shop.orders.refunds import RefundError, refund_order

        order = db.session.scalars(
            select(Order)
            .where(Order.number == number.strip().upper())
            .options(selectinload(Order.lines))
        ).one_or_none()
        if order is None:
            raise click.ClickException(f"No order {number}.")
        order_id, currency = order.id, order.currency
        amounts = None
        if lines:
            # What is left is only read here to name lines; the refund service checks
            # it again under the order's lock.
            by_sku = {line.sku: line for line in order.lines}
            amounts = {}
            for item in lines:
                sku, equals, amount = item.partition("=")
                line = by_sku.get(sku.strip())
                if line is None:
                    raise click.ClickException(f"Order {order.number} has no line {sku}.")
                if line.id in amounts:  # two amounts for one line: which one was meant?
                    raise click.ClickException(
                        f"--line {sku.strip()} is given twice; name each line once."
                    )
                if equals and not amount.strip():  # a forgotten amount must not mean "all"
                    raise click.ClickException(
                        f"--line {item}: give an amount after '=', or no '=' for the whole line."
                    )
                try:
                    value = (
                        parse_major(amount, order.currency)
                        if equals
                        else line.line_total - line.refunded_amount
                    )
                except MoneyError as exc:
                    raise click.ClickException(f"{item}: {exc}") from None
                amounts[line.id] = value
        try:
            with unit_of_work():
                done = refund_order(order_id, gateway(), line_amounts=amounts,
                                    include_shipping=shipping, reason=reason)  # fmt: skip
                order, said = db.session.get(Order, order_id), done.note
                if done.refund is not None:
                    locale = current_app.config["STORE_LOCALE"]
                    amount = format_money(
                        done.refund.amount + done.refund.covered, currency, locale
                    )
                    said = (
                        f"Refunded {amount} on order {order.number}; it is "
                        f"{order.status.label.lower()}, {order.refund_status.label.lower()}."
                    )
                refund_notice_after_commit(done.to_tell)
        except (RefundError, GatewayError) as exc:
            raise click.ClickException(f"Nothing was refunded: {exc}") from None
        click.echo(said)

    app.cli.add_command(orders)


def register_account_commands(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("email")
    @click.option(
        "--role", "roles", multiple=True, required=True,
        type=click.Choice(["customer", "admin", "staff"]), help="Repeatable.",
    )  # fmt: skip
    @click.option("--name", default="", help="How colleagues see this person.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_user_command(
        email: str, roles: tuple[str, ...], name: str, password_stdin: bool
    ) -> None:
        """Create a user with ROLE(s); the password comes from a prompt or standard input."""
        from shop.accounts.models import Role
        from shop.accounts.services import AccountError, create_user

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            with unit_of_work():
                user = create_user(email, password, {Role(r) for r in roles}, name=name)
                label = user.email
        except AccountError as exc:
            raise click.ClickException(f"No user was created: {exc}") from None
        click.echo(f"Created {label} with role(s): {', '.join(sorted(roles))}.")


def register_ledger_commands(app: Flask) -> None:
    from shop.transparency.cli import register_log_commands, verify_log

    ledger = AppGroup("ledger", help="Training accounts: check the ledger.")

    @ledger.command("verify")
    def verify_command() -> None:
        """Recompute every balance from the transfers and rebuild the transparency log from
        them; exit 1 on any difference, naming the first bad entry."""
        from sqlalchemy import func, select

        from shop.money import format_money
        from shop.training.models import LedgerAccount
        from shop.training.reports import verify

        accounts = db.session.scalar(select(func.count(LedgerAccount.id)))
        with click.progressbar(length=accounts, label="Checking accounts", file=sys.stderr) as bar:
            check = verify(bar.update)
        locale, currency = current_app.config["STORE_LOCALE"], current_app.config["STORE_CURRENCY"]
        click.echo(
            f"{check.accounts} account(s), {check.transfers} transfer(s); total debits "
            f"{format_money(check.total_debits, currency, locale)}, total credits "
            f"{format_money(check.total_credits, currency, locale)}."
        )
        if not check.clean:
            for problem in check.problems:
                click.secho(f"  {problem}", fg="red", err=True)
            click.secho(
                f"The ledger does not add up: {len(check.problems)} problem(s).", fg="red", err=True
            )
        else:
            click.secho("The ledger adds up: every balance matches its transfers.", fg="green")
        log_clean = verify_log()
        if not (check.clean and log_clean):
            raise SystemExit(1)

    register_log_commands(ledger)
    app.cli.add_command(ledger)
