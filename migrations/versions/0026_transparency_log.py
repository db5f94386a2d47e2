"""transparency log: the head (tree size, commitment key), leaves, the tree's perfect
subtrees and signed checkpoints of the training ledger's transfers (written once: the
database refuses to change or delete a leaf, a node or a checkpoint)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-20 12:00:00

"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

WRITTEN_ONCE = ("transparency_leaves", "transparency_nodes", "transparency_checkpoints")


def upgrade():
    head = op.create_table('transparency_log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('commitment_key', sa.LargeBinary(length=32), nullable=False),
    sa.CheckConstraint('size >= 0', name=op.f('ck_transparency_log_head_size_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transparency_log_head'))
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "commitment_key": secrets.token_bytes(32)}])
    op.create_table('transparency_leaves',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('leaf', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_transparency_leaves_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('idx', name=op.f('pk_transparency_leaves')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_transparency_leaves_transfer_id'))
    )
    op.create_table('transparency_nodes',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_transparency_nodes'))
    )
    op.create_table('transparency_checkpoints',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_transparency_checkpoints'))
    )
    _written_once()


# The head only moves forward, and keeps its key: whoever would shrink the log (to drop
# its last entries) must first drop this trigger too.
HEAD_MOVES_FORWARD_SQLITE = (
    "CREATE TRIGGER transparency_log_head_no_update BEFORE UPDATE ON transparency_log_head "
    "WHEN NEW.size < OLD.size OR NEW.id IS NOT OLD.id OR NEW.commitment_key IS NOT OLD.commitment_key "
    "BEGIN SELECT RAISE(ABORT, 'the transparency log only grows'); END"
)


def _written_once():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION transparency_head_moves_forward() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' OR NEW.size < OLD.size OR NEW.id <> OLD.id "
            "OR NEW.commitment_key <> OLD.commitment_key THEN "
            "RAISE EXCEPTION 'the transparency log only grows'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER transparency_log_head_no_{action.lower()} BEFORE {action} "
                "ON transparency_log_head FOR EACH ROW EXECUTE FUNCTION transparency_head_moves_forward()"
            )
        op.execute(
            "CREATE FUNCTION transparency_written_once() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the transparency log is append-only'; END $$ LANGUAGE plpgsql"
        )
        for table in WRITTEN_ONCE:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION transparency_written_once()"
                )
        return
    for table in WRITTEN_ONCE:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END"
            )
    op.execute(HEAD_MOVES_FORWARD_SQLITE)
    op.execute(
        "CREATE TRIGGER transparency_log_head_no_delete BEFORE DELETE ON transparency_log_head "
        "BEGIN SELECT RAISE(ABORT, 'the transparency log only grows'); END"
    )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in (*WRITTEN_ONCE, "transparency_log_head"):
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS transparency_written_once()")
        op.execute("DROP FUNCTION IF EXISTS transparency_head_moves_forward()")
    for table in ("transparency_checkpoints", "transparency_nodes", "transparency_leaves",
                  "transparency_log_head"):
        op.drop_table(table)
