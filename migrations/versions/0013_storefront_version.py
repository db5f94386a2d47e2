"""storefront_version: one row whose token changes with every commit that changes what
public pages show (shop/page_cache/version.py); cached pages and ETags are keyed on it

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00

"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'storefront_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_storefront_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'token': secrets.token_hex(16)}])


def downgrade():
    op.drop_table('storefront_version')
