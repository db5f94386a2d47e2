"""withdrawals.local_currency, local_amount, rate, rate_source, rate_date: a withdrawal paid
in the institution's currency (KHR, INR) keeps the amount paid, the rate staff typed
(kept as typed), its source and its date; `amount` stays what the ledger posts, in the
account's currency. Withdrawals made before were paid in the account's currency: their
local currency and amount are the account's, with no rate.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 01:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

CHECKS = {  # as shop/training/models.py WITHDRAWAL_EXCHANGE_CHECKS
    "local_amount_positive": "local_amount > 0",
    "rate_all_or_none": (
        "(rate IS NULL AND rate_source IS NULL AND rate_date IS NULL) OR "
        "(rate IS NOT NULL AND rate_source IS NOT NULL AND rate_date IS NOT NULL)"
    ),
    "rate_when_converted": (
        "(rate IS NULL AND local_currency = currency AND local_amount = amount) OR "
        "(rate IS NOT NULL AND local_currency <> currency)"
    ),
}


def upgrade():
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("local_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("local_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("rate", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("rate_source", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("rate_date", sa.Date(), nullable=True))
    op.execute("UPDATE withdrawals SET local_currency = currency, local_amount = amount")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column("local_currency", existing_type=sa.String(length=3), nullable=False)
        batch_op.alter_column("local_amount", existing_type=sa.BigInteger(), nullable=False)
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(op.f(f"ck_withdrawals_{name}"), condition)
        batch_op.create_index(
            "ix_withdrawals_local_currency", ["local_currency", "id"], unique=False
        )


def downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM withdrawals WHERE rate IS NOT NULL")).scalar():
        raise RuntimeError(
            "withdrawals paid in another currency are recorded; the old schema cannot hold "
            "what their schools were paid"
        )
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawals_local_currency")
        for name in reversed(list(CHECKS)):
            batch_op.drop_constraint(op.f(f"ck_withdrawals_{name}"), type_="check")
        batch_op.drop_column("rate_date")
        batch_op.drop_column("rate_source")
        batch_op.drop_column("rate")
        batch_op.drop_column("local_amount")
        batch_op.drop_column("local_currency")
