"""Finding trainees (by code or public alias, never by legal name), refused filters said
plainly, and the history of decided withdrawals, a page at a time."""

from __future__ import annotations

import re

import pytest

from shop.extensions import db
from shop.training.models import WithdrawalPurpose
from shop.training.services import approve_withdrawal, reject_withdrawal, request_withdrawal
from tests import factories as f
from tests.training.conftest import one_maker_sale


def _codes(client, query: str) -> list[str]:
    response = client.get(f"/staff/trainees?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return re.findall(r'href="/staff/trainees/\d+">([^<]+)</a>', response.get_data(as_text=True))


def test_trainees_are_found_by_code_or_alias_never_by_legal_name(staff_client):
    w = f.workshop()
    dara = f.trainee(
        w, code="KH-RS-101", legal_name="Sokha Example", alias="Dara", alias_consent=True
    )
    f.trainee(w, code="KH-RS-102", legal_name="Chenda Example", alias="")
    other = f.trainee(f.workshop(), code="IN-LS-007", legal_name="Lin Sample", alias="Pearl")
    db.session.commit()

    assert _codes(staff_client, "q=dara") == ["KH-RS-101"]  # the alias, any case
    assert _codes(staff_client, "q=kh-rs-10") == ["KH-RS-101", "KH-RS-102"]
    assert _codes(staff_client, "q=pearl") == ["IN-LS-007"]  # consent or not, staff find it
    assert _codes(staff_client, "q=Sokha") == []  # a legal name is never searched
    assert _codes(staff_client, "q=Example") == []
    assert _codes(staff_client, f"q=kh&workshop={w.id}") == ["KH-RS-101", "KH-RS-102"]
    assert _codes(staff_client, f"q=pearl&workshop={w.id}") == []
    page = staff_client.get("/staff/trainees?q=dara").get_data(as_text=True)
    assert dara.legal_name in page  # staff still read the legal name where they always did
    csv = staff_client.get("/staff/balances.csv?q=pearl").get_data(as_text=True)
    assert other.code in csv and dara.code not in csv


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("workshop=abc", "Workshop: there is no such choice"),
        ("workshop=999999", "Workshop: there is no such choice"),
        ("cohort=1999-Z", "Cohort: there is no such choice"),
        ("q=" + "k" * 101, "Code or alias: type at most 100 characters"),
    ],
)
def test_a_trainee_filter_the_list_cannot_use_is_named(staff_client, query, message):
    w = f.workshop()
    trainee = f.trainee(w, cohort="2026")
    db.session.commit()
    response = staff_client.get(f"/staff/trainees?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page and "<title>Error:" in page
    assert trainee.code not in page


def _decided(count: int, *, requester, approver):
    """`count` decided withdrawals of one trainee (every other one rejected), one pending."""
    maker, _product, _order = one_maker_sale(stock=20, sold=10, price=1000)  # $10.00 to spend
    for i in range(count + 1):
        w = request_withdrawal(
            trainee_id=maker.id, amount=5, purpose=WithdrawalPurpose.MATERIALS,
            payee=f"Supplier {i}", details="", requested_by=requester,
        )  # fmt: skip
        if i == count:
            break
        if i % 2:
            reject_withdrawal(w.id, approver, f"no invoice {i}")
        else:
            approve_withdrawal(w.id, approver)
    db.session.commit()
    return maker


def test_decided_withdrawals_are_kept_in_a_history_a_page_at_a_time(staff_client, count_queries):
    requester, approver = f.user("staff"), f.user("staff")
    maker = _decided(3, requester=requester, approver=approver)

    def statements() -> int:
        with count_queries() as counter:
            assert staff_client.get("/staff/withdrawals/decided").status_code == 200
        return counter.count

    page = staff_client.get("/staff/withdrawals/decided").get_data(as_text=True)
    assert "3 withdrawals" in page
    assert page.count("Approved and paid") == 2 and "Rejected</span>: no invoice 1" in page
    assert "Supplier 3" not in page  # still waiting: it is on the page to decide, not here
    assert f"by {approver.label}" in page and f"by {requester.label}" in page
    assert maker.code in page and maker.legal_name not in page
    assert "Supplier 3" in staff_client.get("/staff/withdrawals").get_data(as_text=True)
    few = statements()

    _decided(52, requester=requester, approver=approver)
    first = staff_client.get("/staff/withdrawals/decided").get_data(as_text=True)
    assert "55 withdrawals" in first and "Page 1 of 2" in first
    second = staff_client.get("/staff/withdrawals/decided?page=2").get_data(as_text=True)
    assert second.count("<tr>") == 1 + 5  # the header row and the last five
    assert statements() == few <= 4
