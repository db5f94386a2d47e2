"""refunds.failed_at and the reversal_undone transfer kind: a refund that fails at the
gateway after it was booked is undone, and the shares it took back are credited back

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-30 11:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None

KINDS = ('sale_share', 'refund_reversal', 'withdrawal', 'match', 'correction')


def _in(values):
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _append_only_again():
    """SQLite's batch mode rebuilt ledger_transfers (copy, drop, rename), and its
    triggers went with the old table: put them back (PostgreSQL altered it in place)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS ledger_transfers_no_{action.lower()}")
        op.execute(
            f"CREATE TRIGGER ledger_transfers_no_{action.lower()} BEFORE {action} "
            "ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'ledger transfers are append-only'); END"
        )


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_transfers_transfer_kind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_ledger_transfers_transfer_kind'), _in(KINDS + ('reversal_undone',))
        )
    _append_only_again()


def downgrade():
    bind = op.get_bind()
    if bind.execute(
        sa.text("SELECT count(*) FROM ledger_transfers WHERE kind = 'reversal_undone'")
    ).scalar():
        raise RuntimeError("reversals undone are in the ledger; the old schema cannot hold them")
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_transfers_transfer_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_transfers_transfer_kind'), _in(KINDS))
    _append_only_again()
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('failed_at')
