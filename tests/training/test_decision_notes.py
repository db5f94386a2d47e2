"""Deciding a withdrawal or a correction: a reason too long is said as such (the form's
own message), nothing changes; only a failed CSRF check is called an expired form."""

from __future__ import annotations

import re

import pytest

from shop.extensions import db
from shop.training import services
from shop.training.models import (
    CorrectionRequest,
    CorrectionStatus,
    Withdrawal,
    WithdrawalPurpose,
    WithdrawalStatus,
)
from tests import factories as f
from tests.conftest import client_as
from tests.training.conftest import one_maker_sale

TOO_LONG = "x" * 501


def _waiting(kind: str):
    """A trainee holding $200.00 and a withdrawal or correction waiting for a decision."""
    trainee, _product, _order = one_maker_sale(stock=5, sold=1, price=200_000, bps=1000)
    asker = f.user("staff")
    if kind == "withdrawal":
        asked = services.request_withdrawal(
            trainee_id=trainee.id, amount=1_000, purpose=WithdrawalPurpose.SCHOOL_FEES,
            payee="Phnom Penh Secondary School", details="", requested_by=asker,
        )  # fmt: skip
    else:
        asked, _new = services.propose_correction(
            trainee_id=trainee.id, amount=500, reason="Double-counted sale", proposed_by=asker,
            request_key="k1",
        )  # fmt: skip
    db.session.commit()
    return asked


def _status(kind: str, asked_id: int):
    db.session.expire_all()
    model = Withdrawal if kind == "withdrawal" else CorrectionRequest
    return db.session.get(model, asked_id).status


REQUESTED = {"withdrawal": WithdrawalStatus.REQUESTED, "correction": CorrectionStatus.REQUESTED}


@pytest.mark.parametrize("kind", ["withdrawal", "correction"])
def test_a_reason_too_long_says_so_and_changes_nothing(app, ctx, kind):
    asked = _waiting(kind)
    decider = client_as(app, "staff")
    answer = decider.post(f"/staff/{kind}s/{asked.id}/reject", data={"note": TOO_LONG},
                          follow_redirects=True)  # fmt: skip
    page = answer.get_data(as_text=True)
    assert "A reason is at most 500 characters." in page
    assert "The form expired" not in page
    assert _status(kind, asked.id) == REQUESTED[kind]


@pytest.mark.parametrize("kind", ["withdrawal", "correction"])
def test_a_failed_csrf_check_is_still_an_expired_form(csrf_app, kind):
    with csrf_app.app_context():
        asked_id = _waiting(kind).id
        decider = client_as(csrf_app, "staff")
    url = f"/staff/{kind}s/{asked_id}/reject"
    refused = decider.post(url, data={"note": "fine"}, follow_redirects=True)  # no token
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    with csrf_app.app_context():
        assert _status(kind, asked_id) == REQUESTED[kind]
    # With its token, the same long reason is said as too long, not as expired.
    listed = decider.get("/staff/withdrawals").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', listed).group(1)
    answer = decider.post(url, data={"note": TOO_LONG, "csrf_token": token}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "A reason is at most 500 characters." in page and "expired" not in page
    with csrf_app.app_context():
        assert _status(kind, asked_id) == REQUESTED[kind]
