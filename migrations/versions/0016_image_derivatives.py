"""product_images.derivative_widths: the responsive copies (WebP and JPEG) made of an
image, NULL until they exist

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('derivative_widths', sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.drop_column('derivative_widths')
