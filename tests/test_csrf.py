"""With CSRF protection on (as in production), every state-changing form refuses a post
without a valid token and changes nothing. Only the Stripe webhook is exempt: its
signature guards it."""

from __future__ import annotations

from sqlalchemy import func, select, text

from shop.extensions import db
from tests import factories as f
from tests.conftest import routes
from tests.training.conftest import one_maker_sale, sign_in

TABLES = ["orders", "refunds", "ledger_transfers", "withdrawals", "audit_log", "users",
          "stock_movements", "development_goals", "correction_requests", "batches", "gateway_events",
          "order_notes"]  # fmt: skip


def _counts() -> dict[str, int]:
    return {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def test_every_form_refuses_a_post_without_a_valid_token(csrf_app):
    with csrf_app.app_context():
        maker, product, order = one_maker_sale(stock=10, sold=2)
        person = f.user("admin", "staff", "customer")
        goal_id = db.session.scalar(text("SELECT max(id) FROM development_goals")) or 1
        batch_id = db.session.scalar(text("SELECT max(id) FROM batches"))
        db.session.commit()
        values = {"order_id": order.id, "variant_id": product.variants[0].id, "trainee_id": maker.id,
                  "withdrawal_id": 1, "correction_id": 1, "goal_id": goal_id, "workshop_id": maker.workshop_id, "product_id": product.id, "image_id": 1, "job_id": 1, "decision": "approve", "token": order.token, "batch_id": batch_id}  # fmt: skip
        before = _counts()
        user_id = person.id

    posts = [
        path
        for method, path in routes(
            csrf_app, values, keep=lambda rule: rule.rule != "/stripe/webhook"
        )
        if method == "POST"
    ]
    assert len(posts) >= 20

    for signed_in in (False, True):
        client = csrf_app.test_client()
        if signed_in:
            sign_in(client, type("U", (), {"id": user_id})())
        for path in posts:
            for token in (None, "forged-token"):
                data = {"csrf_token": token} if token else {}
                data |= {"quantity": "1", "variant_id": "1", "amount": "1.00", "reason": "x",
                         "tracking_number": "T", "email": "a@example.org", "password": "pw"}  # fmt: skip
                response = client.post(path, data=data)
                assert response.status_code == 400, (signed_in, path, response.status_code)
                assert "This form has expired" in response.get_data(as_text=True), path

    with csrf_app.app_context():
        assert _counts() == before
        assert (
            db.session.scalar(select(func.count()).select_from(text("orders"))) == before["orders"]
        )
