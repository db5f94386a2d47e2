"""orders.country_area, city_area and sorting_code: the parts of an address that some
countries use (a US state, a Japanese prefecture, a district, a CEDEX), so each order's
address is kept whole and printed in its country's format; empty for orders placed before

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-10 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country_area", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("city_area", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("sorting_code", sa.String(length=20), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("sorting_code")
        batch_op.drop_column("city_area")
        batch_op.drop_column("country_area")
