"""`flask --app app keys rotate|list`: the store's signing keys."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from shop.unit_of_work import unit_of_work


def register_key_commands(app: Flask) -> None:
    group = AppGroup("keys", help="The store's signing keys (its did:web identity).")

    @group.command("rotate")
    @click.option(
        "--new-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="With SIGNING_KEY_FILE: where to write the new key (then point "
        "SIGNING_KEY_FILE at it on every machine).",
    )  # fmt: skip
    def rotate_command(new_key_file: Path | None) -> None:
        """Make a new signing key current; credentials signed before keep verifying with
        their key, which stays in the DID document."""
        from shop.identity.did import did_url
        from shop.identity.keys import NoSigningKey, rotate

        try:
            with unit_of_work():
                key = rotate(new_key_file)
                kid = did_url(key.kid)
        except NoSigningKey as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"New signing key {kid}; older keys are retired and stay published.")
        if new_key_file is not None:
            click.echo(
                f"Set SIGNING_KEY_FILE={new_key_file} on every machine and restart them: "
                "until then they sign with the old key, which still verifies."
            )

    @group.command("list")
    def list_command() -> None:
        """Every published key: id, created, current or retired, private key here or not."""
        from shop.identity.keys import NoSigningKey, current_key, public_keys, retired_files

        try:
            here = current_key().kid
        except NoSigningKey:
            here = None
        kept = retired_files()
        listed = public_keys()
        if here and here not in {k.kid for k in listed}:
            click.echo(f"{here}  not published yet (at its first signature)  signs here")
        for key in listed:
            state = "current" if key.retired_at is None else f"retired {key.retired_at:%Y-%m-%d}"
            private = (
                "signs here" if key.kid == here
                else "private key kept here" if key.kid in kept
                else "no private key here"
            )  # fmt: skip
            click.echo(f"{key.kid}  created {key.created_at:%Y-%m-%d %H:%M}  {state}  {private}")
        if not listed and here is None:
            click.echo("No signing key yet: run flask --app app keys rotate.")

    app.cli.add_command(group)
