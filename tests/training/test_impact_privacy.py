"""/impact never prints a figure that singles out a small workshop or fewer than five
trainees, not even as the total less the rows shown (issue 9, defect 13)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.extensions import db
from shop.training.impact import PUBLIC_MIN_TRAINEES, WorkshopFigures, group_for_publishing
from shop.training.ledger import PlannedTransfer, lock_accounts, pool_code, post
from shop.training.models import TransferKind
from tests import factories as f
from tests.conftest import rolled_back

# Per workshop: how many trainees are credited, and with how much each; and its pool.
workshop_strategy = st.tuples(
    st.lists(st.integers(1, 5_000), max_size=9),  # one amount per credited trainee
    st.sampled_from([0, 0, 0, 700]),  # units sold with no recorded makers
)


def _covers_enough(workshops: list[WorkshopFigures]) -> bool:
    return len(workshops) >= 2 and sum(w.trainees for w in workshops) >= PUBLIC_MIN_TRAINEES


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 10**7)).map(
            lambda t: WorkshopFigures(0, t[1], t[0])
        ),
        max_size=12,
    )
)
def test_no_small_workshop_can_be_derived_from_the_grouping(raw):
    figures = [WorkshopFigures(i + 1, w.credited, w.trainees) for i, w in enumerate(raw)]
    present = [w for w in figures if w.credited or w.trainees]
    grouping = group_for_publishing(figures)
    if not grouping.published:
        # Only when every workshop together is too few to print anything at all.
        assert len(present) < 2 or sum(w.trainees for w in present) < PUBLIC_MIN_TRAINEES
        return
    shown_ids = {w.workshop_id for w in grouping.shown}
    assert all(w.trainees >= PUBLIC_MIN_TRAINEES for w in grouping.shown)
    hidden = [w for w in present if w.workshop_id not in shown_ids]
    assert sorted(w.workshop_id for w in hidden) == sorted(w.workshop_id for w in grouping.folded)
    # total less the shown rows: nothing, or a group of two or more with enough trainees
    assert not hidden or _covers_enough(hidden)
    # only the smallest are folded: no folded workshop is larger than a shown one
    if grouping.shown and hidden:
        assert min(w.trainees for w in grouping.shown) >= max(w.trainees for w in hidden)


MONEY = r"\$([\d,]+\.\d\d)"
ROW_RE = re.compile(
    r'<tr><td><a href="/workshops/([^"]+)">[^<]*</a></td><td class="num">(\d+)</td>'
    rf'<td class="num">{MONEY}</td></tr>'
)
OTHER_RE = re.compile(
    rf'<tr><td>Other workshops \((\d+)\)</td><td class="num">(\d+)</td><td class="num">{MONEY}</td>'
)
TOTAL_RE = re.compile(rf'<span class="stat-value">{MONEY}</span> credited')
TRAINEES_RE = re.compile(r'<span class="stat-value">(\d+)</span> trainees')


def _cents(text: str) -> int:
    return int(text.replace(",", "").replace(".", ""))


def _credit_everyone(plan) -> dict[str, tuple[int, int]]:
    """Workshops with trainees credited through the real ledger: slug -> (cents, trainees)."""
    made = {}
    transfers, accounts_wanted = [], {"sale_share_source"}
    for amounts, pooled in plan:
        w = f.workshop()
        trainees = [f.trainee(w) for _ in amounts]
        db.session.flush()
        credits = [(f"trainee:{t.id}", a) for t, a in zip(trainees, amounts, strict=True)]
        if pooled:
            credits.append((pool_code(w.id), pooled))
        accounts_wanted |= {code for code, _ in credits}
        transfers.append(credits)
        made[w.slug] = (sum(amounts) + pooled, len(amounts))
    accounts = lock_accounts(codes=accounts_wanted)
    by_code = {a.code: a.id for a in accounts.values()}
    planned = [
        PlannedTransfer(
            debit=by_code["sale_share_source"],
            credit=by_code[code],
            amount=amount,
            kind=TransferKind.MATCH,
            idempotency_key=f"test:{code}",
            cause_type="match",
            subject_account_id=by_code[code],
        )
        for credits in transfers
        for code, amount in credits
    ]
    if planned:
        post(planned, accounts)
    return made


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(workshop_strategy, max_size=6))
def test_the_impact_page_never_lets_a_hidden_workshop_be_derived(migrated_app, plan):
    with rolled_back(migrated_app) as app, app.app_context():
        made = _credit_everyone(plan)
        db.session.commit()
        page = app.test_client().get("/impact").get_data(as_text=True)

    present = {slug: v for slug, v in made.items() if v != (0, 0)}
    total, trainees = TOTAL_RE.search(page), TRAINEES_RE.search(page)
    if total is None:  # nothing printed: only when everyone together is too few
        assert TRAINEES_RE.search(page) is None and not ROW_RE.search(page)
        assert "$" not in page.split("<h1>", 1)[1].split("</main>", 1)[0]
        assert len(present) < 2 or sum(n for _, n in present.values()) < PUBLIC_MIN_TRAINEES
        return
    total_cents, total_trainees = _cents(total.group(1)), int(trainees.group(1))
    assert (total_cents, total_trainees) == (
        sum(c for c, _ in present.values()),
        sum(n for _, n in present.values()),
    )
    rows = {slug: (_cents(money), int(n)) for slug, n, money in ROW_RE.findall(page)}
    for slug, (cents, n) in rows.items():
        assert made[slug] == (cents, n) and n >= PUBLIC_MIN_TRAINEES
    hidden = {slug: v for slug, v in present.items() if slug not in rows}
    rest = (
        total_cents - sum(c for c, _ in rows.values()),
        total_trainees - sum(n for _, n in rows.values()),
    )
    assert rest == (sum(c for c, _ in hidden.values()), sum(n for _, n in hidden.values()))
    # total less the rows shown: nothing, or two or more hidden workshops with enough trainees
    assert rest == (0, 0) or (
        len(hidden) >= 2 and sum(n for _, n in hidden.values()) >= PUBLIC_MIN_TRAINEES
    )
    other = OTHER_RE.search(page)
    if other:
        assert (int(other.group(1)), int(other.group(2)), _cents(other.group(3))) == (
            len(hidden),
            rest[1],
            rest[0],
        )


def test_one_small_workshop_beside_two_large_ones_is_folded_with_the_smaller(app, ctx):
    made = _credit_everyone([([100] * 7, 0), ([100] * 5, 0), ([100] * 2, 0)])
    db.session.commit()
    largest = next(iter(made))  # made in this order: 7, 5 and 2 trainees
    page = app.test_client().get("/impact").get_data(as_text=True)
    rows = {slug for slug, _n, _money in ROW_RE.findall(page)}
    assert rows == {largest}  # the middle one joins the small one: total - rows is two
    other = OTHER_RE.search(page)
    assert other and other.groups() == ("2", "7", "7.00")
    assert TOTAL_RE.search(page).group(1) == "14.00"


def test_too_few_trainees_altogether_prints_no_figure(app, ctx):
    _credit_everyone([([250, 250], 0), ([300], 0)])
    db.session.commit()
    page = app.test_client().get("/impact").get_data(as_text=True)
    main = page.split("<h1>", 1)[1].split("</main>", 1)[0]
    assert "$" not in main and "chart-bar" not in main
    assert "once at least 5 trainees have been credited" in main
