"""Migrations run on SQLite and PostgreSQL alike, and leave nothing for autogenerate to change."""

from alembic import command
from alembic.script import ScriptDirectory

from pipeline.db.session import alembic_config, make_engine, migrate


def test_migrations_reach_head_and_match_the_models(database_url: str):
    migrate(database_url)  # from an empty database: the other tests get copies of one migrated so
    config = alembic_config(database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    with make_engine(database_url).connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
    # `alembic check` fails if autogenerate would emit any operation (search tables included).
    command.check(config)


def test_downgrade_to_base_and_upgrade_again(migrated_engine):
    config = alembic_config(migrated_engine.url.render_as_string(hide_password=False))
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    with migrated_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM videos").scalar() == 0
