"""Ledger corrections are four-eyes, like withdrawals: one staff member proposes, another
approves (the transfer is posted then, once) or rejects; nobody decides their own."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.extensions import db
from shop.training import services
from shop.training.models import CorrectionRequest, CorrectionStatus, Transfer, TransferKind
from shop.training.reports import verify
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.training.conftest import balance_of, paid_order


def _credited_trainee(cents: int = 100):
    w = f.workshop()
    p = f.product(w, price=cents * 10, impact_share_bps=1000)
    t = f.trainee(w)
    f.batch(p.variants[0], quantity=10, makers=[(t, 1)])
    paid_order([(p.variants[0], 1)])  # a tenth of the price to her
    return t


def _corrections_posted() -> int:
    return db.session.scalar(select(func.count()).where(Transfer.kind == TransferKind.CORRECTION))


def _propose(trainee, amount, by, key="k1", reason="Double-counted sale"):
    proposal, _new = services.propose_correction(
        trainee_id=trainee.id, amount=amount, reason=reason, proposed_by=by, request_key=key
    )
    return proposal


def test_a_proposal_posts_nothing_until_another_staff_member_approves(ctx):
    t = _credited_trainee()
    proposer, approver = f.user("staff"), f.user("staff")
    proposal = _propose(t, -40, proposer)
    assert proposal.status == CorrectionStatus.REQUESTED
    assert balance_of(t) == 100 and _corrections_posted() == 0

    with pytest.raises(services.TrainingError, match="another staff member must approve"):
        services.approve_correction(proposal.id, proposer)
    with pytest.raises(services.TrainingError, match="another staff member must decide"):
        services.reject_correction(proposal.id, proposer, "changed my mind")
    assert balance_of(t) == 100 and _corrections_posted() == 0

    services.approve_correction(proposal.id, approver)
    assert balance_of(t) == 60 and _corrections_posted() == 1
    with pytest.raises(services.TrainingError, match="already approved"):
        services.approve_correction(proposal.id, f.user("staff"))
    assert balance_of(t) == 60 and _corrections_posted() == 1
    posted = db.session.scalars(select(Transfer).where(Transfer.kind == "correction")).one()
    assert posted.created_by_id == approver.id and "Double-counted" in posted.memo
    assert proposal.transfer_id == posted.id and proposal.decided_by_id == approver.id
    assert verify().clean


def test_the_same_form_sent_twice_proposes_once(ctx):
    t = _credited_trainee()
    proposer = f.user("staff")
    first, new = services.propose_correction(
        trainee_id=t.id, amount=25, reason="Missed", proposed_by=proposer, request_key="form-1"
    )
    again, new_again = services.propose_correction(
        trainee_id=t.id, amount=25, reason="Missed", proposed_by=proposer, request_key="form-1"
    )
    assert new and not new_again and again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(CorrectionRequest)) == 1


def test_a_rejected_correction_posts_nothing(ctx):
    t = _credited_trainee()
    proposal = _propose(t, 500, f.user("staff"))
    decider = f.user("staff")
    with pytest.raises(services.TrainingError, match="Say why"):
        services.reject_correction(proposal.id, decider, "  ")
    services.reject_correction(proposal.id, decider, "No such sale")
    assert proposal.status == CorrectionStatus.REJECTED and proposal.decision_note == "No such sale"
    assert balance_of(t) == 100 and _corrections_posted() == 0
    with pytest.raises(services.TrainingError, match="already rejected"):
        services.approve_correction(proposal.id, decider)
    assert balance_of(t) == 100 and _corrections_posted() == 0


def test_taking_back_more_than_the_balance_is_refused_at_approval(ctx):
    t = _credited_trainee()
    proposal = _propose(t, -101, f.user("staff"))  # proposing is allowed: balances move
    with pytest.raises(services.TrainingError, match="balance is now lower than this correction"):
        services.approve_correction(proposal.id, f.user("staff"))
    assert balance_of(t) == 100 and _corrections_posted() == 0
    assert db.session.get(CorrectionRequest, proposal.id).status == CorrectionStatus.REQUESTED
    assert verify().clean


@pytest.mark.parametrize(
    ("amount", "reason", "key", "message"),
    [(0, "x", "k", "not be zero"), (5, " ", "k", "needs a reason"), (5, "x", "", "form expired")],
)
def test_a_proposal_with_bad_details_is_refused(ctx, amount, reason, key, message):
    t = _credited_trainee()
    with pytest.raises(services.TrainingError, match=message):
        _propose(t, amount, f.user("staff"), key=key, reason=reason)
    assert db.session.scalar(select(func.count()).select_from(CorrectionRequest)) == 0


def test_the_single_step_correction_is_gone(app, ctx):
    assert not hasattr(services, "post_correction")
    t = _credited_trainee()
    db.session.commit()
    alone = client_as(app, "staff")
    response = alone.post(f"/staff/trainees/{t.id}/corrections", data={
        "correction-amount": "5.00", "correction-reason": "Bonus", "correction-request_key": "a",
    })  # fmt: skip
    assert response.status_code == 302
    assert balance_of(t) == 100 and _corrections_posted() == 0  # proposed, not posted


def test_staff_pages_propose_list_and_decide_corrections(app, ctx):
    t = _credited_trainee()
    db.session.commit()
    proposer, approver = client_as(app, "staff"), client_as(app, "staff")
    form = {"correction-amount": "-0.40", "correction-reason": "Sold twice <b>by mistake</b>",
            "correction-request_key": "page-1"}  # fmt: skip
    for _ in range(2):  # the button pressed twice
        assert proposer.post(f"/staff/trainees/{t.id}/corrections", data=form).status_code == 302
    proposal = db.session.scalars(select(CorrectionRequest)).one()

    own = proposer.get(f"/staff/trainees/{t.id}").get_data(as_text=True)
    assert "You proposed this one" in own and "Sold twice &lt;b&gt;" in own
    listed = approver.get("/staff/corrections").get_data(as_text=True)
    assert f"/staff/corrections/{proposal.id}/approve" in listed and t.code in listed
    page = approver.get(f"/staff/trainees/{t.id}").get_data(as_text=True)
    assert f"/staff/corrections/{proposal.id}/approve" in page
    assert f"/staff/corrections/{proposal.id}/reject" in page

    confirmed(proposer, f"/staff/corrections/{proposal.id}/approve?back=trainee")
    assert balance_of(t) == 100
    done = confirmed(approver, f"/staff/corrections/{proposal.id}/approve?back=trainee")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/staff/trainees/{t.id}")
    assert balance_of(t) == 60 and _corrections_posted() == 1
    assert f"/staff/corrections/{proposal.id}/approve" not in approver.get(
        "/staff/corrections"
    ).get_data(as_text=True)

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.target_type == "correction").order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["correction.propose", "correction.approve"]
    assert all("Sold twice" not in str((e.summary, e.before, e.after)) for e in entries)
    assert all(t.legal_name not in str((e.summary, e.before, e.after)) for e in entries)


def test_two_approvals_at_once_post_the_correction_once(committed_app):
    app = committed_app
    with app.app_context():
        t = _credited_trainee()
        proposer, first, second = f.user("staff"), f.user("staff"), f.user("staff")
        proposal = _propose(t, 30, proposer, key="race")
        db.session.commit()
        proposal_id, approver_ids, trainee_id = proposal.id, [first.id, second.id], t.id

    start = threading.Barrier(2)
    outcomes = ["", ""]

    def approve(i: int) -> None:
        from shop.accounts.models import User

        with app.app_context():
            start.wait()
            try:
                services.approve_correction(proposal_id, db.session.get(User, approver_ids[i]))
                db.session.commit()
                outcomes[i] = "approved"
            except services.TrainingError as exc:
                db.session.rollback()
                outcomes[i] = f"refused: {exc}"
            except Exception as exc:  # a crash must show in the outcome, not vanish in a thread
                db.session.rollback()
                outcomes[i] = f"crashed: {exc!r}"

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"], outcomes
    assert any("already approved" in o for o in outcomes), outcomes
    with app.app_context():
        from shop.provenance.models import Trainee

        assert balance_of(db.session.get(Trainee, trainee_id)) == 130
        assert _corrections_posted() == 1 and verify().clean


def test_the_same_form_sent_twice_at_the_same_moment_proposes_once(committed_app):
    """The first proposal is flushed, not committed, when the second arrives: the second
    meets the unique key (PostgreSQL) or waits for the write lock (SQLite), and answers
    with the first proposal rather than a crash or a second one."""
    app = committed_app
    with app.app_context():
        t = _credited_trainee()
        proposer = f.user("staff")
        db.session.commit()
        trainee_id, proposer_id = t.id, proposer.id
    first_flushed, outcomes = threading.Event(), {}

    def propose(name: str) -> None:
        from shop.accounts.models import User

        with app.app_context():
            if name == "second":
                first_flushed.wait(10)
            try:
                proposal, new = services.propose_correction(
                    trainee_id=trainee_id, amount=70, reason="Missed sale",
                    proposed_by=db.session.get(User, proposer_id), request_key="same-form",
                )  # fmt: skip
                if name == "first":
                    first_flushed.set()
                    threading.Event().wait(0.5)  # the second is now proposing, or waiting
                db.session.commit()
                outcomes[name] = ("new" if new else "again", proposal.id)
            except Exception as exc:  # a crash must show in the outcome, not vanish in a thread
                db.session.rollback()
                first_flushed.set()
                outcomes[name] = (f"crashed: {exc!r}", None)

    threads = [threading.Thread(target=propose, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes["first"][0] == "new" and outcomes["second"] == ("again", outcomes["first"][1])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CorrectionRequest)) == 1
