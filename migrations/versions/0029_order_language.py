"""orders.language: the language the buyer shopped in, so her emails and the packing slip
in her parcel speak it; empty for orders placed before (English)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 02:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('language')
