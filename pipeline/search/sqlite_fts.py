"""Search in a SQLite app database: FTS5 with BM25 ranking.

`search_documents_fts` is an external-content FTS5 table over `search_texts`
(porter stemming over unicode61), kept in step by triggers from the migrations,
so the text is stored once. Ranking is bm25() with per-column weights from
`ranking.FIELD_WEIGHTS` (title counts most); multi-word queries are AND: every
word must appear somewhere in the document.

The FTS5 cursor always drives (`CROSS JOIN` fixes the join order): each probe of
FTS5 by rowid would set bm25() up again over the whole doclist, which is what
made a filtered search take seconds at 100,000 videos.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from pipeline.search.base import SegmentMatch
from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.plan import SearchPlan
from pipeline.search.ranking import FIELD_WEIGHTS, SNIPPET_FIELDS, SNIPPET_WORDS
from pipeline.search.segments import (
    StoredSegments,
    decode_segments,
    first_matches,
    is_sliced,
    mark_offsets,
    sliced_segments_at,
    snippet_from_highlight,
)
from pipeline.search.sql_store import PageDetail, SqlSearchIndex

# Column order of search_documents_fts, as the migrations create it.
_FTS_COLUMNS = ("title", "description", "summary", "transcript")


class SqliteFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "sqlite-fts5"
    dialect: ClassVar[str] = "sqlite"
    extra_tables: ClassVar[tuple[str, ...]] = ("search_documents_fts",)
    dialect_insert = staticmethod(sqlite_insert)

    def all_terms(self, terms: Sequence[str]) -> str:
        # Quoted, each word is a plain FTS5 string whatever it spells (OR, NEAR, ...);
        # juxtaposed strings are ANDed.
        return " ".join(f'"{term}"' for term in terms)

    def any_term(self, terms: Sequence[str]) -> str:
        return " OR ".join(f'"{term}"' for term in terms)

    def matching_sql(self, filters: str) -> tuple[str, str]:
        weights = ", ".join(str(FIELD_WEIGHTS[column]) for column in _FTS_COLUMNS)
        # bm25() is lower-is-better; negated so every backend's score is higher-is-better.
        return (f"-bm25(search_documents_fts, {weights})",
                f"""FROM search_documents_fts CROSS JOIN search_documents AS d
                    ON d.video_id = search_documents_fts.rowid
                    WHERE search_documents_fts MATCH :all_terms {filters}""")

    def page_details(self, conn: Connection, plan: SearchPlan, ids: list[int]) -> dict[int, PageDetail]:
        def snippet(field: str) -> str:
            return (f"snippet(search_documents_fts, {_FTS_COLUMNS.index(field)}, :mark_start, :mark_end, '…', "
                    f"{SNIPPET_WORDS}) AS {field}_snippet")

        # The transcript is marked whole once (highlight): its snippet and the timed
        # segments that say the words both come from those marks.
        statement = text(f"""
            SELECT t.video_id, t.title, t.transcript, t.segments, {snippet('summary')}, {snippet('description')},
                   {snippet('title')}, highlight(search_documents_fts, 3, :mark_start, :mark_end) AS marked
            FROM search_documents_fts CROSS JOIN search_texts AS t ON t.video_id = search_documents_fts.rowid
            WHERE search_documents_fts MATCH :all_terms AND search_documents_fts.rowid IN :ids
        """).bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(statement, {"all_terms": self.all_terms(plan.terms), "ids": ids,
                                        "mark_start": MARK_START, "mark_end": MARK_END}).all()
        details = {}
        for row in rows:
            marked = row.marked or ""
            if is_sliced(row.segments):
                matches = sliced_segments_at(row.transcript, row.segments, mark_offsets(marked))
            else:
                matches = self._probe_segments(conn, plan, decode_segments(row.transcript, row.segments))
            snippets = {"summary": row.summary_snippet, "description": row.description_snippet,
                        "title": row.title_snippet}
            # The transcript's snippet is made only where it can be the one shown (see best_snippet).
            if not any(MARK_START in (snippets[f] or "") for f in SNIPPET_FIELDS[:SNIPPET_FIELDS.index("transcript")]):
                snippets["transcript"] = snippet_from_highlight(marked, SNIPPET_WORDS)
            details[row.video_id] = PageDetail(title=row.title, matches=matches, snippets=snippets)
        return details

    def _probe_segments(self, conn: Connection, plan: SearchPlan,
                        stored: StoredSegments) -> tuple[SegmentMatch, ...]:
        """Segments kept with their own text (not slices of the transcript): matched in a scratch FTS5 table.

        The scratch table lives in this connection's temp schema and inside the
        read transaction, which rolls back when the connection is returned.
        """
        conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_segment_probe "
                          "USING fts5(text, tokenize='porter unicode61')"))
        conn.execute(text("DELETE FROM temp.search_segment_probe"))
        conn.execute(text("INSERT INTO temp.search_segment_probe(rowid, text) VALUES (:i, :text)"),
                     [{"i": i, "text": segment.text} for i, segment in enumerate(stored.segments)])
        positions = conn.execute(text("SELECT rowid FROM temp.search_segment_probe "
                                      "WHERE search_segment_probe MATCH :any_term"),
                                 {"any_term": self.any_term(plan.terms)}).scalars().all()
        return first_matches(stored.segments, positions)
