"""Search index at scale: narrow filter rows, text once, segments without a second copy of their text.

0002 kept one wide `search_documents` row per video (filters and text together)
and every transcript segment again in `search_segments` with its own full-text
index: at 100,000 videos that tripled the text on disk, and filtering a match
read the whole wide row. Now:

- `search_documents`: one narrow row per video (status, owner, dates, ...), what
  a search filters on; reading it per match stays cheap.
- `search_texts`: title, description, summary, transcript and the timed segments
  packed without their text (pipeline/search/segments.py): the full-text
  index's content. SQLite: an external-content FTS5 table over it, kept in step
  by triggers. PostgreSQL: the weighted tsvector as a stored generated column
  with a GIN index.
- No index over segments: a search finds which segments say its words for the
  hits on the page only.

Existing documents are carried over, so no reindex is needed.

Revision ID: search_scale
Revises: passage_embeddings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pipeline.search.segments import decode_segments, encode_segments
from pipeline.text import TimedSegment

revision = "search_scale"
down_revision = "passage_embeddings"
branch_labels = None
depends_on = None

_DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english', title), 'A') || "
    "setweight(to_tsvector('english', summary), 'B') || "
    "setweight(to_tsvector('english', description), 'C') || "
    "setweight(to_tsvector('english', transcript), 'D')"
)
_TEXT_COLUMNS = "title, description, summary, transcript"
_FILTER_COLUMNS = ("video_id", "status", "owner_id", "created_at", "updated_at", "language", "duration_seconds",
                   "owner_name")

_SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE search_documents_fts USING fts5(
        {_TEXT_COLUMNS}, content='search_texts', content_rowid='video_id', tokenize='porter unicode61')""",
    f"""CREATE TRIGGER search_texts_ai AFTER INSERT ON search_texts BEGIN
        INSERT INTO search_documents_fts(rowid, {_TEXT_COLUMNS})
        VALUES (new.video_id, new.title, new.description, new.summary, new.transcript);
    END""",
    f"""CREATE TRIGGER search_texts_ad AFTER DELETE ON search_texts BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_TEXT_COLUMNS})
        VALUES ('delete', old.video_id, old.title, old.description, old.summary, old.transcript);
    END""",
    # Only a change of the indexed text touches the full-text index.
    f"""CREATE TRIGGER search_texts_au AFTER UPDATE OF {_TEXT_COLUMNS} ON search_texts BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_TEXT_COLUMNS})
        VALUES ('delete', old.video_id, old.title, old.description, old.summary, old.transcript);
        INSERT INTO search_documents_fts(rowid, {_TEXT_COLUMNS})
        VALUES (new.video_id, new.title, new.description, new.summary, new.transcript);
    END""",
]


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _vector(expression: str) -> list[sa.Column]:
    if not _is_postgres():
        return []
    return [sa.Column("search_vector", postgresql.TSVECTOR(), sa.Computed(expression, persisted=True), nullable=False)]


def _filter_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("video_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("owner_name", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("video_id"),
    )


def upgrade() -> None:
    postgres = _is_postgres()
    if not postgres:
        for table in ("search_documents", "search_segments"):
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
        op.execute("DROP TABLE IF EXISTS search_segments_fts")
        op.execute("DROP TABLE IF EXISTS search_documents_fts")
    else:
        op.drop_index("ix_search_segments_vector", table_name="search_segments")
        op.drop_index("ix_search_documents_vector", table_name="search_documents")
    op.drop_index("ix_search_documents_status_created", table_name="search_documents")
    op.drop_index("ix_search_documents_owner_id", table_name="search_documents")
    op.rename_table("search_documents", "search_documents_0002")

    _filter_table("search_documents")
    op.create_index("ix_search_documents_status_created", "search_documents", ["status", "created_at"])
    op.create_index("ix_search_documents_owner_id", "search_documents", ["owner_id"])
    op.create_table(
        "search_texts",
        sa.Column("video_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("segments", sa.LargeBinary(), nullable=True),
        *_vector(_DOCUMENT_VECTOR),
        sa.PrimaryKeyConstraint("video_id"),
    )
    if postgres:
        op.create_index("ix_search_texts_vector", "search_texts", ["search_vector"], postgresql_using="gin")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    _carry_over_0002()
    op.drop_table("search_segments")
    op.drop_table("search_documents_0002")


def _carry_over_0002() -> None:
    conn = op.get_bind()
    columns = ", ".join(_FILTER_COLUMNS)
    conn.execute(sa.text(f"INSERT INTO search_documents ({columns}) SELECT {columns} FROM search_documents_0002"))
    documents = conn.execute(sa.text(
        "SELECT video_id, title, description, summary, transcript FROM search_documents_0002")).all()
    for row in documents:
        segments = conn.execute(sa.text(
            "SELECT start_seconds, end_seconds, text FROM search_segments WHERE video_id = :id ORDER BY position"),
            {"id": row.video_id}).all()
        conn.execute(sa.text(
            "INSERT INTO search_texts (video_id, title, description, summary, transcript, segments) "
            "VALUES (:video_id, :title, :description, :summary, :transcript, :segments)"),
            {**row._asdict(), "segments": encode_segments(row.transcript, [TimedSegment(*s) for s in segments])})


def downgrade() -> None:
    """Back to 0002's layout, documents and segments included."""
    postgres = _is_postgres()
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT d.*, t.title, t.description, t.summary, t.transcript, t.segments "
        "FROM search_documents AS d JOIN search_texts AS t ON t.video_id = d.video_id")).all()
    if not postgres:
        op.execute("DROP TABLE IF EXISTS search_documents_fts")
    op.drop_table("search_texts")
    op.drop_table("search_documents")

    from importlib import import_module

    previous = import_module("pipeline.db.migrations.versions.0002_search_index")
    previous.upgrade()
    for row in rows:
        values = row._asdict()
        blob = values.pop("segments")
        conn.execute(sa.text(
            "INSERT INTO search_documents (video_id, title, description, summary, transcript, owner_id, owner_name, "
            "status, language, created_at, updated_at, duration_seconds) VALUES (:video_id, :title, :description, "
            ":summary, :transcript, :owner_id, :owner_name, :status, :language, :created_at, :updated_at, "
            ":duration_seconds)"), values)
        for position, segment in enumerate(decode_segments(values["transcript"], blob).segments):
            conn.execute(sa.text(
                "INSERT INTO search_segments (video_id, position, start_seconds, end_seconds, text) "
                "VALUES (:video_id, :position, :start, :end, :text)"),
                {"video_id": values["video_id"], "position": position, "start": segment.start, "end": segment.end,
                 "text": segment.text})
