"""The log's commands, in the `ledger` group: `verify` checks it after the balances,
`checkpoint` signs one now (after a key was missing), `witness URL` watches a store's log
from outside and refuses, loudly, a checkpoint that is not consistent with the last one
it saw."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app

from shop.transparency.verify_log import (
    Checkpoint,
    LogError,
    Store,
    VerifierKey,
    check_consistency,
    parse_checkpoint,
)


def verify_log() -> bool:
    """Part of `ledger verify`: True when the log matches the ledger."""
    from shop.transparency.checking import check_log

    with click.progressbar(length=_size(), label="Checking the log", file=sys.stderr) as bar:
        check = check_log(bar.update)
    for warning in check.warnings:
        click.secho(f"  Note: {warning}", fg="yellow", err=True)
    if not check.clean:
        for problem in check.problems:
            click.secho(f"  {problem}", fg="red", err=True)
        where = (
            f" first bad entry: {check.first_bad_index}"
            if check.first_bad_index is not None
            else ""
        )
        click.secho(f"The transparency log does not match the ledger:{where}.", fg="red", err=True)
        return False
    root = base64.b64encode(check.last_root).decode() if check.last_root else "(empty)"
    click.secho(f"The transparency log matches the ledger: {check.size} entries, "
                f"{check.checkpoints} checkpoint(s) verified, root {root}.", fg="green")  # fmt: skip
    return True


def _size() -> int:
    from shop.transparency.proofs import tree_size

    return tree_size()


def _state_file(url: str, given: str | None) -> Path:
    if given:
        return Path(given)
    name = urlsplit(url).netloc.replace(":", "_") or "store"
    return Path(current_app.instance_path) / "witness" / f"{name}.txt"


def _read_state(path: Path) -> tuple[VerifierKey, Checkpoint] | None:
    if not path.is_file():
        return None
    key_line, _, note = path.read_text(encoding="utf-8").partition("\n")
    key = VerifierKey.parse(key_line)
    return key, parse_checkpoint(note, key)


def _write_state(path: Path, key_line: str, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.tmp")
    draft.write_text(f"{key_line.strip()}\n{checkpoint.text}", encoding="utf-8")
    os.replace(draft, path)  # whole or not at all


def register_log_commands(ledger: click.Group) -> None:
    @ledger.command("checkpoint")
    def checkpoint_command() -> None:
        """Sign a checkpoint of the log as it is now, if its size has none; on a store
        upgraded to the log, first log every transfer made before it (once)."""
        from shop.transparency.appending import append, lock_head, sign_checkpoint
        from shop.transparency.proofs import root
        from shop.unit_of_work import unit_of_work

        with unit_of_work():  # the entries go in even when no key can sign them
            head = lock_head()
            adopted = append([]) if head.size == 0 else None  # transfers made before the log
            size = head.size
            signed = size > 0 and sign_checkpoint(size, root(size))
        if size == 0:
            click.echo("The log is empty: there is nothing to sign.")
            return
        if adopted is not None:
            click.echo(f"Logged the {adopted.size} transfer(s) made before the log existed.")
        if not signed:
            raise click.ClickException("No checkpoint was signed: the store has no signing key "
                                       "(see the warning above).")  # fmt: skip
        click.echo(f"The log's checkpoint at {size} entries is signed.")

    @ledger.command("witness")
    @click.argument("url")
    @click.option("--state", help="where the last checkpoint seen is kept "
                  "(default: instance/witness/<host>.txt)")  # fmt: skip
    @click.option("--new-key", help="the store's new verifier key after it rotated its key "
                  "(learnt from the store's people, not from the log): pinned from now on")  # fmt: skip
    def witness_command(url: str, state: str | None, new_key: str | None) -> None:
        """Fetch URL's latest checkpoint; accept it only if the log it signs extends the
        last one seen (exit 1, keeping the old one, if not)."""
        path = _state_file(url, state)
        store = Store(url)
        try:
            seen = _read_state(path)
            if seen is None:
                key_line = (new_key or store.text("/log/key")).strip()
                key = VerifierKey.parse(key_line)
                click.echo(f"First sight of {key.name}: its key is pinned in {path}.")
            else:
                key, old = seen
                key_line = path.read_text(encoding="utf-8").partition("\n")[0]
                if new_key:  # the old checkpoint was read with the old key; the new one
                    key_line, key = new_key.strip(), VerifierKey.parse(new_key)
                    click.echo(f"The key of {key.name} is now {key_line}.")
            new = store.checkpoint(key)
            if seen is not None:
                check_consistency(store, old, new)
                click.echo(f"Consistent: the log grew from {old.size} to {new.size} entries.")
        except LogError as exc:
            click.secho(f"REFUSED: {exc}", fg="red", bold=True, err=True)
            click.secho(f"The log at {url} is not the log seen before; the last good "
                        f"checkpoint stays in {path}.", fg="red", err=True)  # fmt: skip
            raise SystemExit(1) from None
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"Could not reach the log at {url}: {exc}") from None
        _write_state(path, key_line, new)
        click.echo(f"Kept the checkpoint of {new.size} entries in {path}.")
