"""What the log gives people: a trainee's inclusion receipt (printed by staff), the log
entries of a buyer's training shares on the order page, and the log's size and root on
/impact. Each is checked the way its reader would: with tools/verify_log.py's own code."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.identity.keys import NoSigningKey
from shop.training.models import LedgerAccount, Transfer, TransferKind
from shop.transparency.models import LogLeaf
from shop.transparency.verify_log import (
    LogError,
    VerifierKey,
    check_opening,
    leaf_hash,
    parse_checkpoint,
    verify_inclusion,
)
from tests import factories as f
from tests.conftest import client_as
from tests.orders.conftest import new_order
from tests.transparency.conftest import one_maker_sale, paid_order

PRE_RE = re.compile(r'<pre class="receipt-code">(.*?)</pre>', re.S)
HASH_RE = re.compile(r"<li>([A-Za-z0-9+/]{43}=)</li>")


@pytest.fixture
def staff_client(app, ctx):
    return client_as(app, "staff")


def _credits_of(trainee) -> list[tuple[int, int]]:
    """(transfer id, log index) of every credit to `trainee`'s account."""
    account = select(LedgerAccount.id).where(LedgerAccount.trainee_id == trainee.id)
    return db.session.execute(
        select(Transfer.id, LogLeaf.index)
        .join(LogLeaf, LogLeaf.transfer_id == Transfer.id)
        .where(Transfer.credit_account_id.in_(account))
        .order_by(Transfer.id)
    ).all()


def _receipt_url(trainee, transfer_id: int) -> str:
    return f"/staff/trainees/{trainee.id}/receipts/{transfer_id}"


def test_the_statement_shows_each_transfers_log_entry_and_a_receipt_for_each_credit(
    staff_client, ctx, count_queries
):
    maker, product, _order = one_maker_sale(stock=30, sold=2)
    db.session.commit()
    ((transfer_id, index),) = _credits_of(maker)
    url = f"/staff/trainees/{maker.id}"
    with count_queries() as one_credit:
        page = staff_client.get(url).get_data(as_text=True)
    assert f"Entry {index}" in page
    assert f'href="{_receipt_url(maker, transfer_id)}"' in page

    for _ in range(5):
        paid_order([(product.variants[0], 1)])
    db.session.commit()
    with count_queries() as six_credits:
        page = staff_client.get(url).get_data(as_text=True)
    assert page.count("/receipts/") == 6
    # the log's indices come with the statement's one statement, whatever its length
    assert six_credits.count == one_credit.count <= 9, six_credits.statements


def test_a_receipt_proves_her_credit_with_what_it_prints(staff_client, client, ctx):
    maker, _product, _order = one_maker_sale(sold=2)
    one_maker_sale()  # someone else's sale after hers: the proof is not trivial
    db.session.commit()
    ((transfer_id, index),) = _credits_of(maker)
    leaf = db.session.scalar(select(LogLeaf.leaf).where(LogLeaf.index == index))

    response = staff_client.get(_receipt_url(maker, transfer_id))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    raw = response.get_data(as_text=True)
    page = html.unescape(raw)
    printed_leaf, note, key_line = (html.unescape(p) for p in PRE_RE.findall(raw))
    assert printed_leaf == leaf  # byte for byte as the log serves it
    assert key_line == client.get("/log/key").get_data(as_text=True).strip()
    key = VerifierKey.parse(key_line)
    checkpoint = parse_checkpoint(note, key)
    assert checkpoint.size > index + 1
    proof = [base64.b64decode(h) for h in HASH_RE.findall(raw)]
    verify_inclusion(
        index, checkpoint.size, leaf_hash(printed_leaf.encode()), proof, checkpoint.root
    )
    # her commitment, said to be hers and the store's alone to make
    assert json.loads(leaf)["credit"] in page
    assert "This code is yours" in page and "only this receipt carries" in page
    account, opening = OPENING_RE.search(page).groups()
    assert check_opening(printed_leaf, int(account), opening) is None  # it opens to hers
    with pytest.raises(LogError):
        check_opening(printed_leaf, int(account) + 1, opening)
    assert "is not the one of this trainee's account" not in page
    # the QR and the instructions lead to the public proof and the script
    assert "<svg" in raw
    proof_url = f"http://localhost/log/proof/inclusion?index={index}&size={checkpoint.size}"
    assert proof_url in page
    assert client.get(proof_url.removeprefix("http://localhost")).status_code == 200
    assert (f"python verify_log.py http://localhost --key '{key_line}' --checkpoint "
            f"checkpoint.txt --index {index} --leaf-file leaf.json --account ") in page  # fmt: skip
    assert "http://localhost/log/verify_log.py" in page
    # her code, never her name
    assert maker.code in page and maker.legal_name not in page


OPENING_RE = re.compile(
    r"Your account number: <strong[^>]*>(\d+)</strong> · Opening: <span[^>]*>([A-Za-z0-9_-]+)</span>"
)


def _no_key(*_args):
    raise NoSigningKey("no signing key (this test took it away)")


def test_a_receipt_is_only_for_her_own_credit_and_only_once_a_checkpoint_covers_it(
    app, staff_client, ctx
):
    maker, _product, _order = one_maker_sale()
    other, _product, _order = one_maker_sale()
    db.session.commit()
    ((mine, _index),) = _credits_of(maker)
    ((theirs, _index),) = _credits_of(other)
    assert staff_client.get(_receipt_url(maker, mine)).status_code == 200
    assert staff_client.get(_receipt_url(maker, theirs)).status_code == 404
    assert staff_client.get(f"/staff/trainees/999999/receipts/{mine}").status_code == 404
    source = db.session.scalar(select(Transfer.id).where(Transfer.id == mine))
    assert staff_client.get(_receipt_url(maker, source + 10_000)).status_code == 404

    # A sale while no checkpoint could be signed (the key was missing): in the log, but
    # no checkpoint covers it yet.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("shop.transparency.notes.signed_note", _no_key)
        late, _product, _order = one_maker_sale()
        db.session.commit()
    ((unsigned, _index),) = _credits_of(late)
    refused = staff_client.get(_receipt_url(late, unsigned))
    assert refused.status_code == 404
    assert "ledger checkpoint" in refused.get_data(as_text=True)
    assert app.test_cli_runner().invoke(args=["ledger", "checkpoint"]).exit_code == 0
    assert staff_client.get(_receipt_url(late, unsigned)).status_code == 200


def test_a_withdrawal_is_in_the_log_but_gets_no_credit_receipt(staff_client, ctx):
    from shop.training import services
    from shop.training.models import WithdrawalPurpose

    maker, _product, _order = one_maker_sale(sold=5)
    first, second = f.user("staff"), f.user("staff")
    withdrawal = services.request_withdrawal(
        trainee_id=maker.id, amount=300, purpose=WithdrawalPurpose.COURSE_FEES, payee="School",
        details="", requested_by=first,
    )  # fmt: skip
    services.approve_withdrawal(withdrawal.id, second)
    db.session.commit()
    debit_id, debit_index = db.session.execute(
        select(Transfer.id, LogLeaf.index)
        .join(LogLeaf, LogLeaf.transfer_id == Transfer.id)
        .where(Transfer.kind == TransferKind.WITHDRAWAL)
    ).one()
    page = staff_client.get(f"/staff/trainees/{maker.id}").get_data(as_text=True)
    assert f"Entry {debit_index}" in page
    assert page.count("/receipts/") == 1  # the sale share's only
    assert staff_client.get(_receipt_url(maker, debit_id)).status_code == 404


def _sale_share_indices(order) -> list[int]:
    line_ids = [line.id for line in order.lines]
    return list(
        db.session.scalars(
            select(LogLeaf.index)
            .join(Transfer, Transfer.id == LogLeaf.transfer_id)
            .where(
                Transfer.kind == TransferKind.SALE_SHARE,
                Transfer.cause_type == "order_line",
                Transfer.cause_id.in_(line_ids),
            )
            .order_by(LogLeaf.index)
        )
    )


def _workshop_product(makers: int, name: str):
    w = f.workshop(name=name)
    p = f.product(w, price=1900, impact_share_bps=1000)
    people = [f.trainee(w) for _ in range(makers)]
    f.batch(p.variants[0], quantity=20, makers=[(t, 1) for t in people])
    return p.variants[0], people


def test_the_order_page_lists_its_shares_log_entries_and_never_whose(app, ctx, count_queries):
    one, one_makers = _workshop_product(1, "Bengal Woodcraft")
    two, two_makers = _workshop_product(2, "Sunrise Sewing")
    small = paid_order([(one, 1)])
    order = paid_order([(one, 1), (two, 2)])
    db.session.commit()
    indices = _sale_share_indices(order)
    assert len(indices) == 3
    buyer = app.test_client()
    buyer.get(f"/orders/{small.token}")
    with count_queries() as for_small:
        raw = buyer.get(f"/orders/{small.token}").get_data(as_text=True)
    with count_queries() as for_order:
        raw = buyer.get(f"/orders/{order.token}").get_data(as_text=True)
    # the order, its lines, the shares per workshop, the log's entries: whatever its size
    assert for_order.count == for_small.count == 5, for_order.statements

    page = html.unescape(raw)
    first, last = indices[0], indices[-1]
    assert indices == list(range(first, last + 1))  # one sale, appended together
    assert f'href="/log/entries?start={first}&end={last + 1}"' in page
    assert f"entries {first} to {last}" in page
    assert 'href="/impact#log"' in page
    for person in one_makers + two_makers:
        assert person.code not in page and person.legal_name not in page
    assert "1 maker" not in page and "2 makers" not in page and "3 makers" not in page
    unpaid = new_order([(two, 1)])
    db.session.commit()
    assert "/log/entries" not in buyer.get(f"/orders/{unpaid.token}").get_data(as_text=True)
    # the link leads to those shares, and nothing else
    entries = app.test_client().get(f"/log/entries?start={first}&end={last + 1}").get_json()
    assert {json.loads(e["leaf"])["kind"] for e in entries["entries"]} == {"sale_share"}


@pytest.mark.parametrize("sales", [0, 2])
def test_impact_shows_the_signed_size_and_root_and_how_to_check_them(client, ctx, sales):
    for _ in range(sales):
        one_maker_sale()
    db.session.commit()
    page = html.unescape(client.get("/impact").get_data(as_text=True))
    for link in ("/log/checkpoint", "/log/key", "/log/verify_log.py"):
        assert f'href="{link}"' in page
    assert "python verify_log.py http://localhost --key" in page
    if not sales:
        assert "The log has no signed checkpoint yet" in page
        return
    _origin, size, root = client.get("/log/checkpoint").get_data(as_text=True).split("\n")[:3]
    assert f'<dd class="log-size">{size}</dd>' in page
    assert f'<code class="log-root">{root}</code>' in page


def test_a_printed_receipt_still_checks_after_the_store_rotates_its_key(committed_app, tmp_path):
    """What the trainee's advocate does with the paper: the leaf and the checkpoint as
    printed, the key as printed, the script in its own process against the live store,
    after the store rotated its key and went on selling."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import client_as, serving

    app = committed_app
    with app.app_context():
        maker, _product, _order = one_maker_sale(sold=2)
        db.session.commit()
        ((transfer_id, _index),) = _credits_of(maker)
        staff = client_as(app, "staff")
        raw = staff.get(_receipt_url(maker, transfer_id)).get_data(as_text=True)
    printed_leaf, note, key_line = (html.unescape(p) for p in PRE_RE.findall(raw))
    index = json.loads(printed_leaf)["index"]
    account, opening = OPENING_RE.search(html.unescape(raw)).groups()
    (tmp_path / "leaf.json").write_text(printed_leaf + "\n")
    (tmp_path / "checkpoint.txt").write_text(note)
    new_file = tmp_path / "new-key.pem"
    assert app.test_cli_runner().invoke(
        args=["keys", "rotate", "--new-key-file", str(new_file)]).exit_code == 0  # fmt: skip
    app.config["SIGNING_KEY_FILE"] = str(new_file)
    with app.app_context():
        one_maker_sale()  # signed with the new key now
        db.session.commit()
    script = Path(__file__).resolve().parents[2] / "tools" / "verify_log.py"
    with serving(app) as base:
        printed = [sys.executable, "-I", str(script), base, "--key", key_line, "--checkpoint",
                   str(tmp_path / "checkpoint.txt"), "--index", str(index), "--leaf-file",
                   str(tmp_path / "leaf.json"), "--opening", opening]  # fmt: skip
        checked = subprocess.run([*printed, "--account", account], capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"Entry {index} is in the log" in checked.stdout
        assert f"Entry {index} credits account {account}: the opening holds" in checked.stdout
        someone_else = subprocess.run([*printed, "--account", str(int(account) + 1)],
                                      capture_output=True, text=True, timeout=60)  # fmt: skip
        assert someone_else.returncode == 1 and "is not account" in someone_else.stderr
        later = [
            sys.executable,
            "-I",
            str(script),
            base,
            "--since",
            str(tmp_path / "checkpoint.txt"),
        ]
        unread = subprocess.run(later, capture_output=True, text=True, timeout=60)
        read = subprocess.run([*later, "--since-key", key_line], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    # Today's checkpoint is signed with the new key, which /log/key now serves; the printed
    # one with the old: without it the script says so, with it (as the receipt prints the
    # command) it proves that today's log begins with the printed one.
    assert unread.returncode == 1 and "no signature by" in unread.stderr, unread.stderr
    assert read.returncode == 0, read.stdout + read.stderr
    assert "nothing was rewritten" in read.stdout
