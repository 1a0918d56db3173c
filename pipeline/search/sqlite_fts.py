"""Search in a SQLite app database: FTS5 with BM25 ranking (the embedded default).

Tables and triggers come from migration 0002. Ranking is bm25() with per-column
weights from `ranking.FIELD_WEIGHTS` (title counts most); multi-word queries are
AND: every word must appear somewhere in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.plan import SearchPlan
from pipeline.search.ranking import FIELD_WEIGHTS, SNIPPET_FIELDS, SNIPPET_WORDS
from pipeline.search.sql_store import SqlSearchIndex

# Column order of search_documents_fts, as migration 0002 creates it.
_FTS_COLUMNS = ("title", "description", "summary", "transcript")


class SqliteFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "sqlite-fts5"
    dialect: ClassVar[str] = "sqlite"
    extra_tables: ClassVar[tuple[str, ...]] = ("search_documents_fts", "search_segments_fts")
    dialect_insert = staticmethod(sqlite_insert)

    def all_terms(self, terms: Sequence[str]) -> str:
        # Quoted, each word is a plain FTS5 string whatever it spells (OR, NEAR, ...);
        # juxtaposed strings are ANDed.
        return " ".join(f'"{term}"' for term in terms)

    def any_term(self, terms: Sequence[str]) -> str:
        return " OR ".join(f'"{term}"' for term in terms)

    def matching_documents_sql(self, filters: str) -> str:
        weights = ", ".join(str(FIELD_WEIGHTS[column]) for column in _FTS_COLUMNS)
        # bm25() is lower-is-better; negated so every backend's score is higher-is-better.
        return f"""
            SELECT d.video_id AS video_id, -bm25(search_documents_fts, {weights}) AS score,
                   d.title AS title, d.status AS status, d.created_at AS created_at
            FROM search_documents_fts JOIN search_documents AS d ON d.video_id = search_documents_fts.rowid
            WHERE search_documents_fts MATCH :all_terms {filters}"""

    def matching_segments_sql(self) -> str:
        return """
            FROM search_segments_fts JOIN search_segments AS s ON s.id = search_segments_fts.rowid
            WHERE search_segments_fts MATCH :any_term"""

    def snippet_candidates(self, conn: Connection, plan: SearchPlan, ids: list[int]) -> dict[int, list[str]]:
        columns = ", ".join(
            f"snippet(search_documents_fts, {_FTS_COLUMNS.index(field)}, :mark_start, :mark_end, '…', {SNIPPET_WORDS})"
            for field in SNIPPET_FIELDS)
        statement = text(f"""
            SELECT rowid, {columns} FROM search_documents_fts
            WHERE search_documents_fts MATCH :all_terms AND rowid IN :ids
        """).bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(statement, {"all_terms": self.all_terms(plan.terms), "ids": ids,
                                        "mark_start": MARK_START, "mark_end": MARK_END})
        return {row[0]: list(row[1:]) for row in rows}
