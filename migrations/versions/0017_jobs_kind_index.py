"""jobs: an index on (kind, created_at), for the worker's periodic "was a media sweep
made lately?" (the jobs table keeps every job)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 12:00:00

"""

from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_jobs_kind_created_at', 'jobs', ['kind', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_jobs_kind_created_at', table_name='jobs')
