"""A log no one can quietly rewrite: whatever is done to the transfers in SQL, `ledger
verify` exits 1 naming the first bad entry; a log rewritten to match is caught by
tools/verify_log.py and `ledger witness` against a checkpoint saved before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from shop.extensions import db
from shop.transparency.models import LogLeaf
from tests.conftest import serving
from tests.transparency.conftest import one_maker_sale
from tests.transparency.tampering import rewrite_log_from_the_ledger, unguard

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "verify_log.py"


def _leaf_transfer(index: int) -> int:
    return db.session.scalar(select(LogLeaf.transfer_id).where(LogLeaf.index == index))


def _three_sales():
    for sold in (1, 2, 3):
        one_maker_sale(sold=sold)
        db.session.commit()


TAMPERING = {
    "an amount changed": lambda: db.session.execute(
        text("UPDATE ledger_transfers SET amount = amount + 1 WHERE id = :id"), {"id": _leaf_transfer(1)}
    ),
    "a transfer deleted": lambda: db.session.execute(
        text("DELETE FROM ledger_transfers WHERE id = :id"), {"id": _leaf_transfer(1)}
    ),
    "two transfers reordered": lambda: _swap(1, 2),
    "a transfer inserted": lambda: db.session.execute(text(
        "INSERT INTO ledger_transfers (debit_account_id, credit_account_id, amount, currency, kind,"
        " idempotency_key, cause_type, cause_id, memo, created_at)"
        " SELECT debit_account_id, credit_account_id, 1, currency, kind, 'forged', cause_type,"
        " cause_id, memo, created_at FROM ledger_transfers WHERE id = :id"
    ), {"id": _leaf_transfer(0)}),
}  # fmt: skip


def _swap(a: int, b: int) -> None:
    """Entries a and b made to name each other's transfer: the log's order changed."""
    first, second = _leaf_transfer(a), _leaf_transfer(b)
    for index, transfer in ((a, -1), (b, first), (a, second)):
        db.session.execute(
            text("UPDATE transparency_leaves SET transfer_id = :t WHERE idx = :i"),
            {"t": transfer, "i": index},
        )


@pytest.mark.parametrize("what", list(TAMPERING))
def test_ledger_verify_names_the_first_bad_entry(app, ctx, what):
    _three_sales()
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["ledger", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "The transparency log matches the ledger" in clean.output
    size = db.session.scalar(text("SELECT size FROM transparency_log_head"))

    unguard()
    TAMPERING[what]()
    db.session.flush()
    dirty = runner.invoke(args=["ledger", "verify"])
    assert dirty.exit_code == 1, dirty.output
    first = size if what == "a transfer inserted" else 1
    assert f"first bad entry: {first}." in dirty.output, dirty.output


def test_a_rewritten_log_is_caught_by_the_script_and_the_witness(committed_app, tmp_path):
    app = committed_app
    with app.app_context():
        _three_sales()
    saved = tmp_path / "checkpoint.txt"
    state = tmp_path / "witness.txt"
    with serving(app) as base:
        key = _run([str(SCRIPT), base, "--save", str(saved)])
        assert key.returncode == 0, key.stderr
        key_line = app.test_client().get("/log/key").get_data(as_text=True).strip()
        witness = app.test_cli_runner().invoke(
            args=["ledger", "witness", base, "--state", str(state)]
        )
        assert witness.exit_code == 0, witness.output

        with app.app_context():
            one_maker_sale()  # the log grows honestly: both accept it
            db.session.commit()
        grown = _run([str(SCRIPT), base, "--key", key_line, "--since", str(saved), "--index", "2"])
        assert grown.returncode == 0, grown.stderr
        assert "nothing was rewritten" in grown.stdout and "Entry 2 is in the log" in grown.stdout
        witness = app.test_cli_runner().invoke(
            args=["ledger", "witness", base, "--state", str(state)]
        )
        assert witness.exit_code == 0 and "Consistent" in witness.output, witness.output
        kept = state.read_text()

        with app.app_context():  # an administrator changes an amount and rebuilds the log
            unguard()
            db.session.execute(text("UPDATE ledger_transfers SET amount = amount + 500 "
                                    "WHERE id = (SELECT MIN(id) FROM ledger_transfers)"))  # fmt: skip
            rewrite_log_from_the_ledger()
            one_maker_sale()
            db.session.commit()
        caught = _run([str(SCRIPT), base, "--key", key_line, "--since", str(saved)])
        assert caught.returncode == 1, caught.stdout + caught.stderr
        assert "FAILED" in caught.stderr and "not a prefix" in caught.stderr
        refused = app.test_cli_runner().invoke(
            args=["ledger", "witness", base, "--state", str(state)]
        )
        assert refused.exit_code == 1 and "REFUSED" in refused.output, refused.output
        assert state.read_text() == kept  # the last good checkpoint is kept
        with app.app_context():
            verify = app.test_cli_runner().invoke(args=["ledger", "verify"])
        # The rebuilt log matches the changed transfers: only a copy of an earlier
        # checkpoint kept outside can tell (and here the balances, not moved with it).
        assert "The transparency log matches the ledger" in verify.output
        assert verify.exit_code == 1 and "does not add up" in verify.output


def _run(args: list[str]) -> subprocess.CompletedProcess:
    """The script as an auditor runs it: its own process, without the store's code on
    its path (-I: isolated; it imports the standard library and cryptography only)."""
    return subprocess.run([sys.executable, "-I", *args], capture_output=True, text=True, timeout=60)


def test_the_witness_refuses_a_new_key_until_told_and_then_still_checks_consistency(
    committed_app, tmp_path
):
    app = committed_app
    state = tmp_path / "witness.txt"
    with app.app_context():
        _three_sales()
    with serving(app) as base:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["ledger", "witness", base, "--state", str(state)]).exit_code == 0
        new_file = tmp_path / "new-key.pem"
        rotated = runner.invoke(args=["keys", "rotate", "--new-key-file", str(new_file)])
        assert rotated.exit_code == 0, rotated.output
        app.config["SIGNING_KEY_FILE"] = str(new_file)  # as every machine is then pointed
        with app.app_context():
            one_maker_sale()  # signed with the new key
            db.session.commit()
        refused = runner.invoke(args=["ledger", "witness", base, "--state", str(state)])
        assert refused.exit_code == 1 and "no signature by" in refused.output, refused.output
        new_key = app.test_client().get("/log/key").get_data(as_text=True).strip()
        accepted = runner.invoke(
            args=["ledger", "witness", base, "--state", str(state), "--new-key", new_key]
        )
        assert accepted.exit_code == 0 and "Consistent" in accepted.output, accepted.output
        assert state.read_text().startswith(new_key)


def test_a_log_that_shrank_is_refused_not_taken_for_a_network_error(committed_app, tmp_path):
    """The last entries dropped and the log re-signed: both checkers say it was rewritten
    (exit 1), before asking the store for a proof it cannot give."""
    app = committed_app
    with app.app_context():
        _three_sales()
    saved, state = tmp_path / "checkpoint.txt", tmp_path / "witness.txt"
    with serving(app) as base:
        assert _run([str(SCRIPT), base, "--save", str(saved)]).returncode == 0
        runner = app.test_cli_runner()
        assert runner.invoke(args=["ledger", "witness", base, "--state", str(state)]).exit_code == 0
        with app.app_context():
            unguard()
            db.session.execute(text("DELETE FROM transparency_leaves WHERE idx = 2"))
            db.session.execute(text("DELETE FROM transparency_nodes WHERE level = 0 AND idx = 2"))
            db.session.execute(text("DELETE FROM transparency_checkpoints WHERE size = 3"))
            db.session.execute(text("UPDATE transparency_log_head SET size = 2"))
            db.session.commit()
        shrunk = _run([str(SCRIPT), base, "--since", str(saved)])
        assert shrunk.returncode == 1 and "shrank from 3 to 2" in shrunk.stderr, shrunk.stderr
        refused = runner.invoke(args=["ledger", "witness", base, "--state", str(state)])
        assert refused.exit_code == 1 and "shrank" in refused.output, refused.output
        beyond = _run([str(SCRIPT), base, "--index", "7"])
        assert beyond.returncode == 1 and "not in the log" in beyond.stderr


def test_ledger_verify_says_when_a_checkpoint_is_signed_by_a_key_it_does_not_hold(app, ctx):
    """An administrator who re-signs a checkpoint with a key of their own (note and key
    line replaced together) is told apart from the store's keys on this machine."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shop.transparency.models import LogCheckpoint
    from shop.transparency.verify_log import EM_DASH, key_id_for

    _three_sales()
    kept = db.session.get(LogCheckpoint, 3)
    body = kept.note.partition("\n\n")[0] + "\n"
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    stamp = base64.b64encode(
        key_id_for("localhost/log", public) + forger.sign(body.encode())
    ).decode()
    key_line = (f"localhost/log+{key_id_for('localhost/log', public).hex()}+"
                f"{base64.b64encode(bytes([1]) + public).decode()}")  # fmt: skip
    unguard()
    db.session.execute(
        text("UPDATE transparency_checkpoints SET note = :n, key_id = :k WHERE size = 3"),
        {"n": f"{body}\n{EM_DASH} localhost/log {stamp}\n", "k": key_line},
    )
    db.session.expire_all()
    checked = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert "could not be vouched for" in checked.output, checked.output
    assert key_id_for("localhost/log", public).hex() in checked.output
