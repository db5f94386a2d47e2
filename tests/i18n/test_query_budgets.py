"""The staff pages cost the same SQL statements in every language: the reader's language
(the account's, read with the user the page loads anyway) and its formats add none."""

from __future__ import annotations

from shop.accounts.models import User
from shop.extensions import db
from shop.training.models import WithdrawalPurpose
from shop.training.services import approve_withdrawal, request_withdrawal
from tests import factories as f
from tests.conftest import client_as
from tests.training.conftest import one_maker_sale

LANGUAGES = ("en", "km", "hi", "bn")
# The budgets the staff pages' own tests hold them to (tests/training).
BUDGETS = {"trainees": 6, "decided withdrawals": 4}


def test_staff_pages_cost_the_same_statements_in_every_language(app, ctx, count_queries):
    maker, _product, _order = one_maker_sale(stock=20, sold=10, price=1000)
    maker.alias, maker.alias_consent = "សុខា", True
    requester, approver = f.user("staff"), f.user("staff")
    for i in range(3):
        w = request_withdrawal(
            trainee_id=maker.id, amount=50, purpose=WithdrawalPurpose.MATERIALS,
            payee=f"Supplier {i}", details="", requested_by=requester,
        )  # fmt: skip
        if i:
            approve_withdrawal(w.id, approver)
    db.session.commit()
    client = client_as(app, "staff")
    pages = {
        "trainees": "/staff/trainees",
        "trainee": f"/staff/trainees/{maker.id}",
        "withdrawals": "/staff/withdrawals",
        "decided withdrawals": "/staff/withdrawals/decided",
        "workshops": "/staff/workshops",
        "workshop": f"/staff/workshops/{maker.workshop_id}",
        "reconciliation": "/staff/reconciliation",
    }
    for path in pages.values():  # once, so nothing a first visit does is counted
        assert client.get(path).status_code == 200, path

    counts = {}
    for code in LANGUAGES:
        assert client.get(f"/language?lang={code}&next=/staff/").status_code == 303
        assert db.session.get(User, client.person.id).language == code
        for name, path in pages.items():
            with count_queries() as counter:
                answer = client.get(path)
            assert answer.status_code == 200 and answer.headers["Content-Language"] == code
            counts[code, name] = counter.count

    for name in pages:
        english = counts["en", name]
        assert {code: counts[code, name] for code in LANGUAGES} == dict.fromkeys(
            LANGUAGES, english
        ), name
        assert english <= BUDGETS.get(name, english), name
