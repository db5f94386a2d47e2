"""pages: the content pages shoppers look for (shipping, returns, contact, privacy,
terms), at fixed addresses, with the titles they start with and no text yet (admins
write it under /admin/pages; `flask seed-demo` writes the demo's)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 12:00:00

"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# As shop.content.pages.PAGES named them when this revision was written.
PAGES = [
    ('shipping', 'Shipping'),
    ('returns', 'Returns and refunds'),
    ('contact', 'Contact us'),
    ('privacy', 'Privacy'),
    ('terms', 'Terms of sale'),
]


def upgrade():
    table = op.create_table(
        'pages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pages')),
        sa.UniqueConstraint('slug', name=op.f('uq_pages_slug')),
    )
    now = datetime.now(timezone.utc)
    op.bulk_insert(
        table, [{'slug': slug, 'title': title, 'body': '', 'updated_at': now} for slug, title in PAGES]
    )


def downgrade():
    op.drop_table('pages')
