"""job_failure_counts: failed tries of jobs by kind, only ever raised (the counter
shop_job_failures_total; dead jobs are counted from jobs, as a gauge)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_failure_counts',
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('tries', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_job_failure_counts')),
    )


def downgrade():
    op.drop_table('job_failure_counts')
