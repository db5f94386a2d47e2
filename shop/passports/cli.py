"""`flask --app app passport issue`: issue whatever credential is missing or out of date
(existing batches after the upgrade that brought passports, the demo). Other passport
commands join the same group (`passport_group`)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from shop.unit_of_work import unit_of_work

passport_group = AppGroup("passport", help="Signed passports, facility records, conformity.")


@passport_group.command("issue")
def issue_command() -> None:
    """Issue every missing or out-of-date credential and set the passports' revocation;
    safe to repeat (what is current is left alone)."""
    from shop.identity.keys import NoSigningKey
    from shop.passports.issuing import issue_everything, subject_count

    try:
        with unit_of_work():
            total = subject_count()
            with click.progressbar(length=total, label="Issuing", file=sys.stderr) as bar:
                report = issue_everything(bar.update)
    except NoSigningKey as exc:
        raise click.ClickException(f"Nothing was issued: {exc}.") from None
    click.echo(report.summary())


def register_passport_commands(app: Flask) -> None:
    app.cli.add_command(passport_group)
