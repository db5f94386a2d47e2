"""used_confirmations: the confirmation tokens that acted, one row each, so a second
press of a money action's confirm button (or two at once) acts once

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-14 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'used_confirmations',
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('nonce', name=op.f('pk_used_confirmations')),
    )
    with op.batch_alter_table('used_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_confirmations_used_at'), ['used_at'], unique=False)


def downgrade():
    with op.batch_alter_table('used_confirmations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_confirmations_used_at'))
    op.drop_table('used_confirmations')
