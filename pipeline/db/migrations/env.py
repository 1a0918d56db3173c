"""Alembic environment: migrations run against the URL the caller configured."""

from alembic import context

from pipeline.db.models import Base
from pipeline.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # The search index's tables (and FTS5's shadow tables) are managed by migration 0002 by
    # hand, outside Base.metadata: autogenerate must not propose dropping them.
    return not (type_ == "table" and reflected and compare_to is None and name.startswith("search_"))


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connectable = make_engine(url)
    with connectable.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Table rebuilds (batch mode) drop and re-create tables: with foreign keys on, dropping
            # a parent table would cascade to its children's rows. The pragma only takes effect
            # outside a transaction, so it comes first; the check below verifies the result.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # SQLAlchemy autobegan: end it, so that alembic opens its own
        # render_as_batch: SQLite needs table rebuilds for most ALTERs.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"foreign key violations after migrating: {problems[:5]}")
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
