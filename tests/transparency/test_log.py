"""The log as the store keeps and serves it: each transfer a leaf in the transfer's own
transaction, gapless, a signed checkpoint after each appending commit, proofs that
tools/verify_log.py accepts, and 400s that say what to send."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.training.models import Transfer
from shop.transparency import merkle
from shop.transparency.models import LogCheckpoint, LogLeaf
from shop.transparency.verify_log import (
    LogError,
    VerifierKey,
    leaf_hash,
    parse_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from tests.transparency.conftest import one_maker_sale


def _get(client, url):
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.get_data(as_text=True))
    return answer


def _checkpoint(client):
    key = VerifierKey.parse(_get(client, "/log/key").get_data(as_text=True))
    return parse_checkpoint(_get(client, "/log/checkpoint").get_data(as_text=True), key)


def _hashes(answer) -> list[bytes]:
    return [base64.b64decode(h) for h in answer.get_json()["hashes"]]


def test_every_transfer_is_a_leaf_and_the_checkpoint_signs_the_tree(client, ctx):
    one_maker_sale(sold=2)
    db.session.commit()
    transfers = db.session.scalar(select(func.count(Transfer.id)))
    assert transfers > 0
    checkpoint = _checkpoint(client)
    assert checkpoint.size == transfers
    assert checkpoint.origin == "localhost/log"
    entries = _get(client, f"/log/entries?start=0&end={transfers}").get_json()["entries"]
    assert [e["index"] for e in entries] == list(range(transfers))
    for entry in entries:
        leaf = json.loads(entry["leaf"])
        assert set(leaf) == {"index", "transfer", "kind", "amount", "currency", "time",
                             "debit", "credit", "cause"}  # fmt: skip
        assert leaf["index"] == entry["index"]
        proof = _hashes(
            _get(client, f"/log/proof/inclusion?index={entry['index']}&size={checkpoint.size}")
        )
        verify_inclusion(
            entry["index"],
            checkpoint.size,
            leaf_hash(entry["leaf"].encode()),
            proof,
            checkpoint.root,
        )


def test_the_log_only_grows_and_proves_it(client, ctx):
    one_maker_sale()
    db.session.commit()
    first = _checkpoint(client)
    one_maker_sale(sold=3)
    db.session.commit()
    second = _checkpoint(client)
    assert second.size > first.size
    proof = _hashes(_get(client, f"/log/proof/consistency?from={first.size}&to={second.size}"))
    verify_consistency(first.size, second.size, first.root, second.root, proof)
    with pytest.raises(LogError):
        verify_consistency(first.size, second.size, second.root, first.root, proof)
    sizes = [c["size"] for c in _get(client, "/log/checkpoints?since=0").get_json()["checkpoints"]]
    assert sizes == [first.size, second.size]
    assert (
        _get(client, f"/log/checkpoints?since={first.size}").get_json()["checkpoints"][0]["size"]
        == second.size
    )


def test_a_rolled_back_sale_appends_nothing(ctx):
    one_maker_sale()
    db.session.commit()
    before = db.session.scalar(select(func.count(LogLeaf.index)))
    one_maker_sale()
    db.session.rollback()
    assert db.session.scalar(select(func.count(LogLeaf.index))) == before
    assert db.session.scalar(select(func.count(Transfer.id))) == before


@pytest.mark.parametrize(("url", "said"), [
    ("/log/proof/inclusion?size=1", "index is missing"),
    ("/log/proof/inclusion?index=-1&size=1", "whole number"),
    ("/log/proof/inclusion?index=5&size=2", "below size"),
    ("/log/proof/inclusion?index=0&size=999999", "beyond the log"),
    ("/log/proof/consistency?from=0&to=1", "from must be at least 1"),
    ("/log/proof/consistency?from=1&to=99999999999999999999", "at most 18 digits"),
    ("/log/entries?start=3&end=1", "below end"),
    ("/log/entries?start=%EF%BC%91&end=2", "whole number"),  # a fullwidth digit
])  # fmt: skip
def test_bad_parameters_get_a_400_that_says_what_to_send(client, ctx, url, said):
    one_maker_sale()
    db.session.commit()
    answer = client.get(url)
    assert answer.status_code == 400, url
    assert said in answer.get_json()["error"]["message"]


def test_proofs_and_full_ranges_are_cached_for_good(client, ctx):
    one_maker_sale()
    db.session.commit()
    size = _checkpoint(client).size
    for url in (f"/log/proof/inclusion?index=0&size={size}", f"/log/entries?start=0&end={size}"):
        assert "immutable" in _get(client, url).headers["Cache-Control"]
    assert "immutable" not in _get(client, "/log/checkpoint").headers["Cache-Control"]


def test_appending_costs_the_same_statements_whatever_the_log_size(ctx, count_queries):
    one_maker_sale()
    db.session.commit()
    counts = []
    for _ in range(3):
        maker_sale = one_maker_sale  # a new workshop, product and sale each time
        with count_queries() as q:
            maker_sale()
            db.session.commit()
        counts.append(q.count)
    assert counts[0] == counts[1] == counts[2]
    stored = db.session.scalar(select(func.count(LogCheckpoint.size)))
    assert stored == 4
    assert merkle  # the tree's nodes are checked in test_merkle


def test_a_store_upgraded_to_the_log_logs_its_earlier_transfers_once(app, ctx):
    """Transfers made before migration 0026 (here: the log emptied as if it had just
    been made) are taken in by `ledger checkpoint`, in id order, and signed."""
    from sqlalchemy import text

    from tests.transparency.tampering import unguard

    one_maker_sale(sold=2)
    one_maker_sale()
    db.session.commit()
    unguard()
    for table in ("transparency_checkpoints", "transparency_nodes", "transparency_leaves"):
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.execute(text("UPDATE transparency_log_head SET size = 0"))
    db.session.commit()
    runner = app.test_cli_runner()
    done = runner.invoke(args=["ledger", "checkpoint"])
    assert done.exit_code == 0, done.output
    transfers = list(db.session.scalars(select(Transfer.id).order_by(Transfer.id)))
    assert f"Logged the {len(transfers)} transfer(s)" in done.output
    logged = list(db.session.scalars(select(LogLeaf.transfer_id).order_by(LogLeaf.index)))
    assert logged == transfers
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


@pytest.mark.parametrize(("url", "said"), [
    ("/log/proof/inclusion?index=01&size=2", "without leading zeros"),
    ("/log/proof/inclusion?index=0&index=1&size=2", "given more than once"),
    ("/log/entries?start=0&end=1&end=2", "given more than once"),
])  # fmt: skip
def test_a_number_has_one_spelling_so_a_cached_answer_has_one_address(client, ctx, url, said):
    one_maker_sale(sold=2)
    db.session.commit()
    answer = client.get(url)
    assert answer.status_code == 400 and said in answer.get_json()["error"]["message"]


def test_every_refusal_under_log_is_json(client, ctx):
    for refused, status in ((client.get("/log/entries?start=%00"), 400),
                            (client.post("/log/checkpoint"), 405)):  # fmt: skip
        assert refused.status_code == status and refused.mimetype == "application/json"
        assert refused.get_json()["error"]["message"]
    assert "GET" in client.post("/log/checkpoint").headers["Allow"]


def test_the_log_head_only_moves_forward(ctx):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    one_maker_sale()
    db.session.commit()
    for statement in ("UPDATE transparency_log_head SET size = size - 1",
                      "UPDATE transparency_log_head SET commitment_key = :other",
                      "DELETE FROM transparency_log_head"):  # fmt: skip
        savepoint = db.session.begin_nested()
        with pytest.raises(DBAPIError, match="only grows"):
            db.session.execute(text(statement), {"other": bytes(32)})
        savepoint.rollback()


def test_a_refund_does_not_point_at_the_share_it_takes_back(client, ctx):
    """Each entry's cause commitment is its own: a reversal shares none with its sale."""
    from tests.transparency.conftest import refund

    _maker, _product, order = one_maker_sale(sold=2)
    db.session.commit()
    refund(order)
    size = _checkpoint(client).size
    entries = _get(client, f"/log/entries?start=0&end={size}").get_json()["entries"]
    leaves = [json.loads(e["leaf"]) for e in entries]
    assert {leaf["kind"] for leaf in leaves} >= {"sale_share", "refund_reversal"}
    for name in ("cause", "debit", "credit"):
        values = [leaf[name] for leaf in leaves]
        assert len(values) == len(set(values)), name
    assert len({leaf[n] for leaf in leaves for n in ("cause", "debit", "credit")}) == 3 * len(
        leaves
    )


def test_the_served_key_is_the_one_that_signed_the_latest_checkpoint(app, client, ctx, tmp_path):
    one_maker_sale()
    db.session.commit()
    before = _get(client, "/log/key").get_data(as_text=True)
    new_file = tmp_path / "new.pem"
    assert app.test_cli_runner().invoke(
        args=["keys", "rotate", "--new-key-file", str(new_file)]).exit_code == 0  # fmt: skip
    app.config["SIGNING_KEY_FILE"] = str(new_file)
    assert _get(client, "/log/key").get_data(as_text=True) == before  # no checkpoint yet
    _checkpoint(client)  # still verifies with what /log/key serves
    one_maker_sale()
    db.session.commit()
    after = _get(client, "/log/key").get_data(as_text=True)
    assert after != before
    _checkpoint(client)
    assert _get(client, "/log/keys").get_data(as_text=True) == before + after
