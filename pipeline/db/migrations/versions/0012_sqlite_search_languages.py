"""sqlite search languages: SQLite's full-text index stems English only, and only English

FTS5's one stemmer is Porter's English one, and a table has one tokenizer. English videos (and those without
speech: `text_config` 'english') stay in `search_documents_fts` (Porter over unicode61); every other language's
move to `search_documents_fts_unstemmed` (unicode61, diacritics removed): their words matched as said, without an
English stemmer mangling them, and counted in their own table's statistics, never in the English ones. Each table
reads its rows through a view of `search_texts` that keeps its languages, so FTS5's 'rebuild' fills it right.

PostgreSQL: nothing to do (revision search_languages analyses each language there).

Revision ID: sqlite_search_languages
Revises: search_languages
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "sqlite_search_languages"
down_revision = "search_languages"
branch_labels = None
depends_on = None

_COLUMNS = "title, description, summary, transcript"
_OLD = "old.title, old.description, old.summary, videoai_unpack(old.transcript)"
_NEW = "new.title, new.description, new.summary, videoai_unpack(new.transcript)"
_PACKED = import_module("pipeline.db.migrations.versions.0007_search_text_packed")

# (FTS5 table, the view it reads, its tokenizer, which rows: a condition on text_config, "{row}" = new or old)
_TABLES = (
    ("search_documents_fts", "search_texts_stemmed", "porter unicode61", "{row}.text_config = 'english'"),
    (
        "search_documents_fts_unstemmed",
        "search_texts_unstemmed",
        "unicode61 remove_diacritics 2",
        "{row}.text_config <> 'english'",
    ),
)


def _by_language() -> list[str]:
    statements = []
    inserts, deletes = [], []
    for table, view, tokenize, rows in _TABLES:
        statements += [
            f"""CREATE VIEW {view} AS
                SELECT video_id, {_COLUMNS.replace("transcript", "videoai_unpack(transcript) AS transcript")}
                FROM search_texts WHERE {rows.format(row="search_texts")}""",
            f"""CREATE VIRTUAL TABLE {table} USING fts5(
                {_COLUMNS}, content='{view}', content_rowid='video_id', tokenize='{tokenize}')""",
            # As in search_text_packed: segments merged 16 at a time.
            f"INSERT INTO {table}({table}, rank) VALUES ('automerge', 16)",
        ]
        inserts.append(f"INSERT INTO {table}(rowid, {_COLUMNS}) SELECT new.video_id, {_NEW} WHERE {rows.format(row='new')};")
        deletes.append(
            f"INSERT INTO {table}({table}, rowid, {_COLUMNS}) "
            f"SELECT 'delete', old.video_id, {_OLD} WHERE {rows.format(row='old')};"
        )
    return [
        *statements,
        f"CREATE TRIGGER search_texts_ai AFTER INSERT ON search_texts BEGIN {' '.join(inserts)} END",
        f"CREATE TRIGGER search_texts_ad AFTER DELETE ON search_texts BEGIN {' '.join(deletes)} END",
        # A change of the indexed text or of the language moves the row out of its table and into its new one.
        f"""CREATE TRIGGER search_texts_au AFTER UPDATE OF {_COLUMNS}, text_config ON search_texts BEGIN
            {" ".join(deletes)} {" ".join(inserts)}
        END""",
    ]


def _drop() -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS search_texts_{suffix}")
    for table, view, _, _ in _TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP VIEW IF EXISTS search_texts_unpacked")


def _create(statements: list[str], tables: list[str]) -> None:
    for statement in statements:
        op.execute(statement)
    for table in tables:
        op.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop()
    _create(_by_language(), [table for table, _, _, _ in _TABLES])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop()
    _create(_PACKED._PACKED_FTS, ["search_documents_fts"])
