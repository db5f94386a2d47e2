"""/impact counts people, not rows, and prints no figure about fewer than five trainees:
not a group reached by counting a trainee who moved twice, not the money spent by one
trainee, not a month in which one trainee was credited (attack 2, findings 6 and 7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.training import ledger, services
from shop.training.impact import (
    PUBLIC_MIN_TRAINEES,
    WorkshopFigures,
    _headline_trainees,
    group_for_publishing,
    people_in,
)
from shop.training.models import WithdrawalPurpose
from tests import factories as f
from tests.training.conftest import paid_order
from tests.training.test_impact_by_workshop import _move, _workshop_selling
from tests.training.test_impact_privacy import (
    OTHER_RE,
    ROW_RE,
    TOTAL_RE,
    TRAINEES_RE,
    _credit_everyone,
)


def test_a_group_counts_a_trainee_of_two_of_its_workshops_once():
    # Workshop 2 credited p, q, s; workshop 3 credited p (after she moved) and r.
    figures = [
        WorkshopFigures(1, 5000, 5, frozenset({1, 2, 3, 4, 5})),
        WorkshopFigures(2, 300, 3, frozenset({10, 11, 12})),
        WorkshopFigures(3, 200, 2, frozenset({10, 13})),
    ]
    grouping = group_for_publishing(figures)
    # Four people are not five: the large workshop joins the group rather than print it.
    assert grouping.published and grouping.shown == []


def test_the_page_counts_a_trainee_who_moved_once_in_the_group_and_the_headline(app, ctx):
    _a, _pa, _a_people = _workshop_selling(price=10_000, makers=5)
    _b, _pb, (p, _q, _s) = _workshop_selling(price=10_000, makers=3)
    c, pc, _c_people = _workshop_selling(price=10_000, makers=1)
    _move(p, c)
    f.batch(pc.variants[0], quantity=1, makers=[(p, 1)])
    db.session.flush()
    paid_order([(pc.variants[0], 10)])  # nine of r's batch, then p's unit
    db.session.commit()

    page = app.test_client().get("/impact").get_data(as_text=True)
    other = OTHER_RE.search(page)
    # B and C together credited four people (p at both): never a group row of "5".
    assert not (other and other.group(1) == "2")
    assert ROW_RE.findall(page) == []  # A is folded in with them
    assert TRAINEES_RE.search(page).group(1) == "9"  # 5 + 3 + 2 rows, p once


def _five_trainees_credited():
    made = _credit_everyone([([100] * 3, 0), ([100] * 3, 0)])
    db.session.commit()
    return made


def test_money_spent_by_fewer_than_five_trainees_is_not_printed(app, ctx):
    _five_trainees_credited()
    _credit_everyone([([500], 0)])  # a sixth trainee, with a balance to spend
    db.session.commit()
    first, second = f.user("staff"), f.user("staff")
    withdrawal = services.request_withdrawal(
        trainee_id=_last_trainee().id, amount=123, purpose=WithdrawalPurpose.COURSE_FEES,
        payee="Tailoring school", details="", requested_by=first,
    )  # fmt: skip
    services.approve_withdrawal(withdrawal.id, second)
    db.session.commit()
    page = app.test_client().get("/impact").get_data(as_text=True)
    assert "$1.23" not in page and "spent on education and tools</p>" not in page
    assert TRAINEES_RE.search(page)  # the other figures are still there


def _last_trainee() -> Trainee:
    return db.session.scalars(select(Trainee).order_by(Trainee.id.desc())).first()


def test_a_month_in_which_fewer_than_five_were_credited_is_shown_only_with_another(
    app, ctx, monkeypatch
):
    # The ledger is append-only: transfers are dated when posted, not afterwards.
    with monkeypatch.context() as dated:
        dated.setattr(ledger, "utcnow", lambda: datetime(2026, 1, 15, tzinfo=UTC))
        _five_trainees_credited()
    _credit_everyone([([777], 0)])  # one trainee, this month
    db.session.commit()

    page = app.test_client().get("/impact").get_data(as_text=True)
    assert "$7.77" not in page
    assert "chart-bar" not in page  # one bar per month would show her month alone
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="num">\$([\d,.]+)</td></tr>', page)
    assert len(rows) == 1 and rows[0][0].startswith("January 2026 to ")
    assert rows[0][1] == "13.77"  # six credits of $1.00 and hers, together


def test_a_month_is_never_split_and_the_chart_and_table_add_up_to_the_headline(app, ctx):
    # Ten trainees credited in one month: twice the five a span needs, still one month.
    _credit_everyone([([100] * 5, 0), ([200] * 5, 0)])
    db.session.commit()

    page = app.test_client().get("/impact").get_data(as_text=True)
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="num">\$([\d,.]+)</td></tr>', page)
    bars = re.findall(r'<rect class="chart-bar"[^>]*><title>([^<]*): \$([\d,.]+)</title>', page)
    headline = TOTAL_RE.search(page).group(1)
    assert len(rows) == 1 and rows[0][1] == headline == "15.00"
    # One bar for the month, if drawn (the other months of the chart are empty).
    assert [b[1] for b in bars if b[1] != "0.00"] in ([], ["15.00"])
    assert len({label for label, _ in rows}) == len(rows)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.frozensets(st.integers(0, 14), max_size=8), st.integers(0, 10**6)),
        max_size=8,
    )
)
def test_no_group_of_fewer_than_five_people_is_printed_when_trainees_move(raw):
    """Trainees drawn from one small pool, so many were credited at several workshops."""
    figures = [
        WorkshopFigures(i + 1, credited, len(people), people)
        for i, (people, credited) in enumerate(raw)
    ]
    present = [w for w in figures if w.credited or w.trainees]
    grouping = group_for_publishing(figures)
    if not grouping.published:
        assert len(present) < 2 or people_in(present) < PUBLIC_MIN_TRAINEES
        return
    assert all(w.trainees >= PUBLIC_MIN_TRAINEES for w in grouping.shown)
    if grouping.folded:  # the total less the rows: two or more workshops, five people
        assert len(grouping.folded) >= 2 and people_in(grouping.folded) >= PUBLIC_MIN_TRAINEES
    everyone = grouping.shown + grouping.folded
    printed = [w.trainees for w in grouping.shown]
    printed += [people_in(grouping.folded)] if grouping.other_row else []
    headline = _headline_trainees(everyone, printed)
    if headline is not None:  # the rows less the headline: none, or five or more movers
        assert headline == people_in(everyone)
        assert sum(printed) - headline <= 0 or sum(printed) - headline >= PUBLIC_MIN_TRAINEES
