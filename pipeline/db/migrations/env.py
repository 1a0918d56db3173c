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
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connectable = make_engine(url)
    with connectable.connect() as connection:
        # render_as_batch: SQLite needs table rebuilds for most ALTERs.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
