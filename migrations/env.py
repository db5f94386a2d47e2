import fcntl
import logging
import warnings
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

# SQLite cannot reflect an index on an expression (trainees' lower(code)); batch
# operations reflect the tables they rebuild and their neighbours, and say so.
# A migration that rebuilds trainees on SQLite must create that index again (see 0009).
warnings.filterwarnings(
    "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
)

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the application's loggers working when migrations run in-process.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def sqlite_foreign_keys_off(connection):
    """SQLite's batch mode rebuilds a table (copy, drop, rename); with foreign keys on,
    dropping a table that other rows refer to fails. SQLite's own recipe: turn them
    off outside the transaction, then check every reference before turning them on."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection  # no transaction open yet
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left broken references: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


# Any fixed 64-bit number, the same in every process that migrates this database.
MIGRATION_LOCK_KEY = 7_310_584_416_061_226_987


@contextmanager
def one_upgrader_at_a_time(connection):
    """Every machine runs `db upgrade` as it starts (`make serve`); two at once on a fresh
    PostgreSQL would both create the tables, and one would fail. A session-level advisory
    lock makes the second wait for the first to commit; it then reads the version table
    afresh, finds it at head and has nothing to do. SQLite (one machine's database) takes
    turns on a lock file beside the database: its own write lock is not enough, as alembic
    commits there revision by revision (no transactional DDL), so a second upgrader could
    read the version between two of the first one's revisions and run one again."""
    if connection.dialect.name == "sqlite":
        database = connection.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.upgrade-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # let go when the file closes
            yield
        return
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.commit()  # held by the session, not the transaction: alembic begins its own
    try:
        yield
    finally:
        # The lock outlives a transaction and the connection goes back to the pool: let it go.
        try:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
        except Exception:
            connection.invalidate()  # closed, not pooled: that lets the lock go as well
            raise


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection, one_upgrader_at_a_time(connection):
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with sqlite_foreign_keys_off(connection), context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
