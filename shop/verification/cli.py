"""`flask --app app passport verify FILE-or-URL`: one line per check, a summary, and the
exit status (0 only when every check made passed)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from shop.identity.did import store_did
from shop.verification.checks import Check, Options, verify

MARKS = {True: "✓", False: "✗", None: "–"}
PLAIN_MARKS = {True: "ok  ", False: "FAIL", None: "--  "}


def _marks() -> dict:
    """✓ ✗ – where the terminal can print them, plain words where it cannot."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(MARKS.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return PLAIN_MARKS
    return MARKS


def summary(checks: list[Check]) -> tuple[str, bool]:
    failed = [c.name for c in checks if c.ok is False]
    passed = [c for c in checks if c.ok]
    skipped = sorted({c.name for c in checks if c.ok is None})
    made = len(failed) + len(passed)
    not_checked = f" (not checked: {', '.join(skipped)})" if skipped else ""
    if failed:
        return f"NOT VALID: {len(failed)} of {made} checks failed: {', '.join(failed)}.", False
    if not passed:
        return "NOT VALID: nothing could be checked.", False
    return f"Valid: all {made} checks passed{not_checked}.", True


def _a_did(_ctx, _param, value: str | None) -> str | None:
    if value is not None and not value.startswith("did:"):
        raise click.BadParameter(f"{value!r} is not a DID: give one like did:web:shop.example")
    return value


@click.command("verify")
@click.argument("source", metavar="FILE-or-URL")
@click.option(
    "--http",
    "allow_http",
    is_flag=True,
    help="Allow plain http:// addresses (a store in development or tests).",
)
@click.option(
    "--did-document",
    metavar="FILE-or-URL",
    help="Read the issuer's DID document from here instead of resolving its did:web.",
)
@click.option("--schemas", metavar="DIR",
              help="A folder of UNTP JSON Schemas (DigitalProductPassport-schema.json, …).")  # fmt: skip
@click.option(
    "--issuer",
    metavar="DID",
    callback=_a_did,
    help="The DID the credential must be issued by (default: this store's own DID). "
    "Give it to check another store's credential on purpose.",
)
@with_appcontext  # the store's own DID is the issuer expected by default
def verify_command(
    source: str,
    allow_http: bool,
    did_document: str | None,
    schemas: str | None,
    issuer: str | None,
):
    """Check a passport (or any credential the store signs) as anyone can: its signature
    against the issuer's DID document, its dates, its status list bit, and its schema.

    FILE-or-URL is a compact JWS in a file (- for standard input), the passport's address
    (…/p/<code>/passport) or the tag's address (…/p/<code>, whose linkset names it).
    It must be issued by this store unless --issuer names another DID."""
    options = Options(
        issuer=issuer or store_did(),
        issuer_named=issuer is not None,
        allow_http=allow_http,
        did_document=did_document,
        schemas=Path(schemas) if schemas else None,
    )
    marks = _marks()
    checks = verify(source, options)
    for check in checks:
        click.echo(f"{marks[check.ok]} {check.name}: {check.detail}")
    line, valid = summary(checks)
    click.secho(line, fg="green" if valid else "red", bold=True)
    raise SystemExit(0 if valid else 1)


def register_verification_commands(app: Flask) -> None:
    """`passport verify`, in the `passport` group beside `passport issue`."""
    from shop.passports.cli import passport_group

    passport_group.add_command(verify_command)
    if "passport" not in app.cli.commands:
        app.cli.add_command(passport_group)
