"""/impact counts a credit for the workshop that made the sold unit: a trainee who moves to
another workshop does not take her past credits with her (issue 9, follow-up)."""

from __future__ import annotations

from shop.extensions import db
from shop.provenance.trainees import TraineeDetails, save_trainee
from tests import factories as f
from tests.training.conftest import paid_order
from tests.training.test_impact_privacy import ROW_RE, TOTAL_RE, _cents


def _workshop_selling(price: int, makers: int = 5):
    w = f.workshop()
    product = f.product(w, price=price, impact_share_bps=1000)
    trainees = [f.trainee(w) for _ in range(makers)]
    f.batch(product.variants[0], quantity=10, makers=[(t, 1) for t in trainees])
    paid_order([(product.variants[0], 1)])  # a tenth of the price, shared by the makers
    return w, product, trainees


def _rows(app) -> tuple[dict[str, tuple[int, int]], int]:
    page = app.test_client().get("/impact").get_data(as_text=True)
    rows = {slug: (int(n), _cents(money)) for slug, n, money in ROW_RE.findall(page)}
    return rows, _cents(TOTAL_RE.search(page).group(1))


def _move(trainee, workshop) -> None:
    save_trainee(
        TraineeDetails(code=trainee.code, legal_name=trainee.legal_name, workshop_id=workshop.id),
        trainee,
    )


def test_moving_a_trainee_leaves_each_workshops_figures_where_they_were_earned(app, ctx):
    a, _pa, a_people = _workshop_selling(price=10_000)  # 10.00 over five makers
    b, pb, _b_people = _workshop_selling(price=20_000)  # 20.00 over five makers
    db.session.commit()
    before = _rows(app)
    assert before == ({a.slug: (5, 1000), b.slug: (5, 2000)}, 3000)

    _move(a_people[0], b)
    db.session.commit()
    assert _rows(app) == before

    # What she makes at her new workshop counts there.
    f.batch(pb.variants[0], quantity=1, makers=[(a_people[0], 1)])
    db.session.flush()
    later = paid_order([(pb.variants[0], 10)])  # nine of the first batch, then hers
    assert later.lines[0].workshop_id == b.id
    db.session.commit()
    rows, total = _rows(app)
    assert rows[a.slug] == (5, 1000)
    assert rows[b.slug] == (6, 2000 + 10 * 2000)
    assert total == 3000 + 10 * 2000
