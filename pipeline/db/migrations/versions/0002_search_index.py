"""Search index in the app database: SQLite FTS5 or PostgreSQL full-text search.

Both dialects get the same plain tables, `search_documents` (one row per video,
keyed by video id, with the filter columns) and `search_segments` (timed
transcript segments, so a hit can say when its words are spoken). The full-text
part is dialect-specific:

- SQLite: external-content FTS5 tables (porter stemming over unicode61) kept in
  step with the plain tables by triggers, so the text is stored once.
- PostgreSQL: stored generated tsvector columns (`english`; title A, summary B,
  description C, transcript D) with GIN indexes, so no code can forget them.

The index is a projection, not part of the app schema: no foreign key to
`videos`, and the tables are not in `Base.metadata` (pipeline/search/sql_store.py
defines them as SQLAlchemy Core tables).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english', title), 'A') || "
    "setweight(to_tsvector('english', summary), 'B') || "
    "setweight(to_tsvector('english', description), 'C') || "
    "setweight(to_tsvector('english', transcript), 'D')"
)

_FTS_COLUMNS = "title, description, summary, transcript"

_SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE search_documents_fts USING fts5(
        {_FTS_COLUMNS}, content='search_documents', content_rowid='video_id',
        tokenize='porter unicode61')""",
    f"""CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_documents_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.video_id, new.title, new.description, new.summary, new.transcript);
    END""",
    f"""CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.video_id, old.title, old.description, old.summary, old.transcript);
    END""",
    f"""CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.video_id, old.title, old.description, old.summary, old.transcript);
        INSERT INTO search_documents_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.video_id, new.title, new.description, new.summary, new.transcript);
    END""",
    """CREATE VIRTUAL TABLE search_segments_fts USING fts5(
        text, content='search_segments', content_rowid='id', tokenize='porter unicode61')""",
    """CREATE TRIGGER search_segments_ai AFTER INSERT ON search_segments BEGIN
        INSERT INTO search_segments_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER search_segments_ad AFTER DELETE ON search_segments BEGIN
        INSERT INTO search_segments_fts(search_segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER search_segments_au AFTER UPDATE ON search_segments BEGIN
        INSERT INTO search_segments_fts(search_segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO search_segments_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"

    def vector(expression: str) -> list[sa.Column]:
        if not postgres:
            return []
        return [sa.Column("search_vector", postgresql.TSVECTOR(),
                          sa.Computed(expression, persisted=True), nullable=False)]

    op.create_table(
        "search_documents",
        sa.Column("video_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("owner_name", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        *vector(_DOCUMENT_VECTOR),
        sa.PrimaryKeyConstraint("video_id"),
    )
    op.create_index("ix_search_documents_status_created", "search_documents", ["status", "created_at"])
    op.create_index("ix_search_documents_owner_id", "search_documents", ["owner_id"])

    op.create_table(
        "search_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        *vector("to_tsvector('english', text)"),
        sa.ForeignKeyConstraint(["video_id"], ["search_documents.video_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "position"),
    )

    if postgres:
        op.create_index("ix_search_documents_vector", "search_documents", ["search_vector"], postgresql_using="gin")
        op.create_index("ix_search_segments_vector", "search_segments", ["search_vector"], postgresql_using="gin")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        # Dropping an FTS5 table drops its shadow tables; triggers go with their tables.
        op.execute("DROP TABLE IF EXISTS search_segments_fts")
        op.execute("DROP TABLE IF EXISTS search_documents_fts")
    op.drop_table("search_segments")
    op.drop_table("search_documents")
