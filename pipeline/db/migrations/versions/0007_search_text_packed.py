"""search text packed: SQLite keeps the search index's transcripts compressed

Transcripts are most of the search index's bytes: stored as they are, the index
came to well over the ~1.5x the text it holds that search at scale aims for.
`search_texts.transcript` now holds them packed (pipeline/db/packed_text.py),
and the full-text index reads its content through the view
`search_texts_unpacked`, which unpacks them with the SQL function every SQLite
connection of ours has. The full-text index is rebuilt from that view: the same
words, re-read once; it now merges its segments 16 at a time.

PostgreSQL already compresses long values itself (TOAST): nothing to do there.

Revision ID: search_text_packed
Revises: ids_never_reused
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "search_text_packed"
down_revision = "ids_never_reused"
branch_labels = None
depends_on = None

_COLUMNS = "title, description, summary, transcript"
_OLD = "old.title, old.description, old.summary, videoai_unpack(old.transcript)"
_NEW = "new.title, new.description, new.summary, videoai_unpack(new.transcript)"

_PACKED_FTS = [
    f"""CREATE VIEW search_texts_unpacked AS
        SELECT video_id, title, description, summary, videoai_unpack(transcript) AS transcript FROM search_texts""",
    f"""CREATE VIRTUAL TABLE search_documents_fts USING fts5(
        {_COLUMNS}, content='search_texts_unpacked', content_rowid='video_id', tokenize='porter unicode61')""",
    # Merge index segments 16 at a time, not 4 (FTS5's default): each posting is rewritten
    # fewer times as the index grows (FTS5 alone indexed 40,000 videos ~20% faster), for a
    # few more segments per lookup.
    "INSERT INTO search_documents_fts(search_documents_fts, rank) VALUES ('automerge', 16)",
    f"""CREATE TRIGGER search_texts_ai AFTER INSERT ON search_texts BEGIN
        INSERT INTO search_documents_fts(rowid, {_COLUMNS}) VALUES (new.video_id, {_NEW});
    END""",
    f"""CREATE TRIGGER search_texts_ad AFTER DELETE ON search_texts BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_COLUMNS})
        VALUES ('delete', old.video_id, {_OLD});
    END""",
    # Only a change of the indexed text touches the full-text index.
    f"""CREATE TRIGGER search_texts_au AFTER UPDATE OF {_COLUMNS} ON search_texts BEGIN
        INSERT INTO search_documents_fts(search_documents_fts, rowid, {_COLUMNS})
        VALUES ('delete', old.video_id, {_OLD});
        INSERT INTO search_documents_fts(rowid, {_COLUMNS}) VALUES (new.video_id, {_NEW});
    END""",
]


def _drop_fts() -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS search_texts_{suffix}")
    op.execute("DROP TABLE IF EXISTS search_documents_fts")
    op.execute("DROP VIEW IF EXISTS search_texts_unpacked")


def _rebuild_fts(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)
    op.execute("INSERT INTO search_documents_fts(search_documents_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_fts()
    op.execute("UPDATE search_texts SET transcript = videoai_pack(transcript)")
    _rebuild_fts(_PACKED_FTS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_fts()
    op.execute("UPDATE search_texts SET transcript = videoai_unpack(transcript)")
    _rebuild_fts(import_module("pipeline.db.migrations.versions.0004_search_scale")._SQLITE_FTS)
