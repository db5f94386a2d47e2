"""stock: on hand and held kept apart; batch units written off

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:30:00

`variants.stock` meant "available" (held units already taken out). It becomes
two counts: `on_hand` (units on the shelf) = stock + units of HELD reservations,
and `reserved` = those units; available = on_hand - reserved, so nothing a buyer
sees changes. Batches gain `units_written_off`: units a negative adjustment
removed are no longer sold (first in, first out). Adjustments made before this
revision never touched batches, so where a variant's batches claim more units
than are on the shelf, the difference is written off now, oldest batch first, as
the new rule would have done. `stock_movements.stock_after` written before keeps
its old meaning (available after); `reserved_after` is NULL on those rows.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HELD_UNITS = (
    "(SELECT COALESCE(SUM(r.quantity), 0) FROM reservations r"
    " WHERE r.variant_id = variants.id AND r.status = 'held')"
)


def _write_off_unaccounted_batch_units(connection) -> None:
    excess_rows = connection.execute(
        sa.text(
            "SELECT v.id, v.on_hand,"
            " COALESCE((SELECT SUM(b.quantity - b.units_allocated) FROM batches b"
            "           WHERE b.variant_id = v.id), 0) AS batch_units"
            " FROM variants v"
        )
    ).all()
    for variant_id, on_hand, batch_units in excess_rows:
        excess = batch_units - on_hand
        if excess <= 0:
            continue
        batches = connection.execute(
            sa.text(
                "SELECT id, quantity - units_allocated FROM batches"
                " WHERE variant_id = :v AND quantity > units_allocated"
                " ORDER BY produced_month, id"
            ),
            {"v": variant_id},
        ).all()
        for batch_id, left in batches:
            if excess == 0:
                break
            take = min(excess, left)
            connection.execute(
                sa.text("UPDATE batches SET units_written_off = :n WHERE id = :b"),
                {"n": take, "b": batch_id},
            )
            excess -= take


def upgrade():
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_hand", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
    op.execute(f"UPDATE variants SET on_hand = stock + {HELD_UNITS}, reserved = {HELD_UNITS}")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_variants_stock_not_negative"), type_="check")
        batch_op.drop_column("stock")
        batch_op.create_check_constraint(
            batch_op.f("ck_variants_on_hand_not_negative"), "on_hand >= 0"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_variants_reserved_within_on_hand"),
            "reserved >= 0 AND reserved <= on_hand",
        )

    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("units_written_off", sa.Integer(), nullable=False, server_default="0")
        )
    _write_off_unaccounted_batch_units(op.get_bind())
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_batches_units_used_within_quantity"),
            "units_written_off >= 0 AND units_allocated + units_written_off <= quantity",
        )

    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved_after", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_column("reserved_after")

    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_batches_units_used_within_quantity"), type_="check"
        )
        batch_op.drop_column("units_written_off")

    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stock", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE variants SET stock = on_hand - reserved")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_variants_reserved_within_on_hand"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_variants_on_hand_not_negative"), type_="check")
        batch_op.drop_column("on_hand")
        batch_op.drop_column("reserved")
        batch_op.create_check_constraint(batch_op.f("ck_variants_stock_not_negative"), "stock >= 0")
