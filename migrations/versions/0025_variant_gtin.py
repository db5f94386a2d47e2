"""variants.gtin: a variant's GS1 Global Trade Item Number, optional, unique when set,
kept as 14 digits (a GTIN-8, -12 or -13 zero-padded), for /01/<gtin>/10/<batch>

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-20 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gtin', sa.String(length=14), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_variants_gtin'), ['gtin'])
        batch_op.create_check_constraint(
            batch_op.f('ck_variants_gtin_fourteen_digits'), 'length(gtin) = 14'
        )


def downgrade():
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_variants_gtin_fourteen_digits'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_variants_gtin'), type_='unique')
        batch_op.drop_column('gtin')
