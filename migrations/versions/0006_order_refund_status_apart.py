"""order status is the order's life only; refunds are booked once per gateway refund

The order status loses `partially_refunded` and `refunded`: how much went back is
`refunded_amount` (shown as a refund status), so a refund never moves an order
back to "paid" to be shipped again. Orders in those two states go back to where
their life was: shipped when they have a tracking number, else paid.

Refunds gain `covered`: the part of a gateway refund already booked from the
gateway's total alone, so `amount` may be 0 when all of it was.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

LIFE = ('pending_payment', 'paid', 'fulfilled', 'completed', 'cancelled', 'expired')
OLD = LIFE + ('partially_refunded', 'refunded')


def _in(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


# SQLite's batch mode rebuilds `orders` and `refunds` (copy, drop, rename) while other
# rows refer to them: migrations/env.py turns its foreign keys off around every
# migration and checks every reference afterwards.
def upgrade():
    _upgrade()


def downgrade():
    _downgrade()


def _upgrade():
    op.execute(
        "UPDATE orders SET status = CASE WHEN tracking_number <> '' THEN 'fulfilled' ELSE 'paid' END "
        "WHERE status IN ('partially_refunded', 'refunded')"
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_order_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_order_status'), _in(LIFE))

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_constraint(op.f('ck_refunds_amount_positive'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_refunds_booked_or_covered'), 'amount >= 0 AND covered >= 0 AND amount + covered > 0'
        )
        batch_op.create_index(batch_op.f('ix_refunds_reference'), ['reference'], unique=False)


def _downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM refunds WHERE amount = 0")).scalar():
        raise RuntimeError("refunds booked only as covered cannot go back to the old schema")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_reference'))
        batch_op.drop_constraint(op.f('ck_refunds_booked_or_covered'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refunds_amount_positive'), 'amount > 0')
        batch_op.drop_column('covered')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_order_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_order_status'), _in(OLD))
    op.execute(
        "UPDATE orders SET status = CASE WHEN refunded_amount >= total THEN 'refunded' "
        "ELSE 'partially_refunded' END "
        "WHERE refunded_amount > 0 AND status IN ('paid', 'fulfilled', 'completed')"
    )
