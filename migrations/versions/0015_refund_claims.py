"""refund_claims: money a refund the store asked for sets aside while the gateway
answers, so refunds asked for at the same time cannot plan the same money

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 12:10:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'refund_claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=False),
        sa.Column('plan', sa.String(length=500), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_refund_claims_amount_positive')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refund_claims_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_claims')),
        sa.UniqueConstraint('idempotency_key', name='one_claim_per_request'),
    )
    with op.batch_alter_table('refund_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_claims_order_id'), ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('refund_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_claims_order_id'))
    op.drop_table('refund_claims')
