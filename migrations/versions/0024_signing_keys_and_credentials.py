"""signing_keys, credentials and status_lists: the store's published keys, the signed
passports, facility records and conformity credentials (written once: the database
refuses to change what was signed or to delete a row), the revocation status list, and
batches.recalled_at

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-16 12:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

# The smallest status list the W3C Bitstring Status List allows (16 KB), for privacy.
STATUS_LIST_BITS = 131_072
# What a row may never change once its JWS is written (only `revoked` may).
FIXED = ("public_id", "kind", "batch_id", "workshop_id", "vetting_event_id", "version",
         "content_hash", "issued_at")


def upgrade():
    op.create_table('signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_signing_keys_kid'))
    )
    status_lists = op.create_table('status_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jws', sa.Text(), nullable=True),
    sa.Column('size_bits', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_lists'))
    )
    op.bulk_insert(status_lists, [{"id": 1, "jws": None, "size_bits": STATUS_LIST_BITS}])
    op.create_table('credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.Enum('dpp', 'dfr', 'dcc', name='credential_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('workshop_id', sa.Integer(), nullable=True),
    sa.Column('vetting_event_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=True),
    sa.Column('kid', sa.String(length=64), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.CheckConstraint("(kind = 'dpp' AND batch_id IS NOT NULL AND workshop_id IS NULL AND vetting_event_id IS NULL) OR (kind = 'dfr' AND workshop_id IS NOT NULL AND batch_id IS NULL AND vetting_event_id IS NULL) OR (kind = 'dcc' AND vetting_event_id IS NOT NULL AND batch_id IS NULL AND workshop_id IS NULL)", name=op.f('ck_credentials_one_subject_of_its_kind')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_credentials_version_positive')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_credentials_batch_id_batches')),
    sa.ForeignKeyConstraint(['vetting_event_id'], ['vetting_events.id'], name=op.f('fk_credentials_vetting_event_id_vetting_events')),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], name=op.f('fk_credentials_workshop_id_workshops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('batch_id', 'version', name=op.f('uq_credentials_batch_id_version')),
    sa.UniqueConstraint('public_id', name=op.f('uq_credentials_public_id')),
    sa.UniqueConstraint('vetting_event_id', 'version', name=op.f('uq_credentials_vetting_event_id_version')),
    sa.UniqueConstraint('workshop_id', 'version', name=op.f('uq_credentials_workshop_id_version'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True))
    _credentials_written_once()


def _credentials_written_once():
    """An issued credential never changes and is never deleted: the database refuses.
    The JWS (and its key id) may be written once, in the transaction that inserts the
    row (the row's id is the status index the passport names, so it is signed after)."""
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FIXED)
        op.execute(
            "CREATE FUNCTION credentials_written_once() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'issued credentials are never deleted'; END IF; "
            f"IF {changed} OR (OLD.jws IS NOT NULL AND (NEW.jws IS DISTINCT FROM OLD.jws "
            "OR NEW.kid IS DISTINCT FROM OLD.kid)) THEN "
            "RAISE EXCEPTION 'an issued credential never changes'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER credentials_no_{action.lower()} BEFORE {action} ON credentials "
                "FOR EACH ROW EXECUTE FUNCTION credentials_written_once()"
            )
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED)
    op.execute(
        "CREATE TRIGGER credentials_no_update BEFORE UPDATE ON credentials "
        f"WHEN {changed} OR (OLD.jws IS NOT NULL AND (NEW.jws IS NOT OLD.jws OR NEW.kid IS NOT OLD.kid)) "
        "BEGIN SELECT RAISE(ABORT, 'an issued credential never changes'); END"
    )
    op.execute(
        "CREATE TRIGGER credentials_no_delete BEFORE DELETE ON credentials "
        "BEGIN SELECT RAISE(ABORT, 'issued credentials are never deleted'); END"
    )


def downgrade():
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('recalled_at')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS credentials_no_update ON credentials")
        op.execute("DROP TRIGGER IF EXISTS credentials_no_delete ON credentials")
        op.execute("DROP FUNCTION IF EXISTS credentials_written_once()")
    op.drop_table('credentials')
    op.drop_table('status_lists')
    op.drop_table('signing_keys')
