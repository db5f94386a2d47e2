"""users.language: the language a user chose for the store's pages (km, hi, bn, en);
empty until they choose one (shop/i18n.py)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 01:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
