"""correction_requests: a ledger correction is proposed by one staff member and decided
by another; trainee codes are unique whatever their case

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Codes that differ only in case name two trainees an operator cannot tell apart;
    # they must be renamed by hand first, so the upgrade stops, before changing anything
    # (SQLite's DDL is not transactional), and names them.
    clashes = op.get_bind().execute(sa.text(
        "SELECT lower(code) FROM trainees GROUP BY lower(code) HAVING count(*) > 1"
    )).scalars().all()
    if clashes:
        raise RuntimeError(
            "trainee codes differ only in case; rename all but one of each first: "
            + ", ".join(sorted(clashes))
        )
    op.create_table('correction_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=250), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('requested', 'approved', 'rejected', name='correction_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_correction_requests_amount_not_zero')),
    sa.CheckConstraint('decided_by_id IS NULL OR decided_by_id <> requested_by_id', name=op.f('ck_correction_requests_four_eyes')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_correction_requests_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_correction_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_correction_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_correction_requests_trainee_id_trainees')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_correction_requests_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_requests')),
    sa.UniqueConstraint('request_key', name=op.f('uq_correction_requests_request_key'))
    )
    with op.batch_alter_table('correction_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_requests_trainee_id'), ['trainee_id'], unique=False)

    op.create_index('uq_trainees_code_lower', 'trainees', [sa.text('lower(code)')], unique=True)


def downgrade():
    op.drop_index('uq_trainees_code_lower', table_name='trainees')
    with op.batch_alter_table('correction_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_requests_trainee_id'))
    op.drop_table('correction_requests')
