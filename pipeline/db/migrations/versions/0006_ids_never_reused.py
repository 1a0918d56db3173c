"""ids never reused: AUTOINCREMENT on SQLite for videos and users

SQLite's plain INTEGER PRIMARY KEY hands out max(id) + 1, so deleting the newest
video gave its id to the next upload, and that upload was never processed: the id
was already known to Dagster as a partition. AUTOINCREMENT keeps the
highest id ever used in `sqlite_sequence` and never goes below it. The counter
starts above every id the outbox has ever announced, so an id deleted before this
migration is not handed out again either.

PostgreSQL's SERIAL sequences never reuse values: nothing to do there.

Revision ID: ids_never_reused
Revises: chapters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ids_never_reused"
down_revision = "chapters"
branch_labels = None
depends_on = None

_TABLES = ("videos", "users")


def _rebuild(autoincrement: bool) -> None:
    # env.py turns SQLite's foreign keys off for migrations: dropping the old table would
    # otherwise cascade to every row that references it.
    for table in _TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}) as batch:
            batch.alter_column("id", existing_type=sa.Integer(), nullable=False)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    bind = op.get_bind()
    announced = bind.exec_driver_sql(
        "SELECT max(CAST(key AS INTEGER)) FROM outbox_events WHERE topic LIKE 'video.%'").scalar()
    highest = max(announced or 0, bind.exec_driver_sql("SELECT coalesce(max(id), 0) FROM videos").scalar() or 0)
    if highest:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'videos'")
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('videos', ?)", (highest,))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=False)
