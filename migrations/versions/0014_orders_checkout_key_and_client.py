"""orders.checkout_key and orders.client_digest: a session's unpaid orders and the
units an address holds are found on the server, not in the session cookie

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 12:10:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('client_digest', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_checkout_key'), ['checkout_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_client_digest'), ['client_digest'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_client_digest'))
        batch_op.drop_index(batch_op.f('ix_orders_checkout_key'))
        batch_op.drop_column('client_digest')
        batch_op.drop_column('checkout_key')
