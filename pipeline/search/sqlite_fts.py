"""Search in a SQLite app database: FTS5 with BM25 ranking.

`search_documents_fts` is an external-content FTS5 table over `search_texts`
(porter stemming over unicode61), kept in step by triggers from the migrations,
so the text is stored once; transcripts are kept packed and read through the
view `search_texts_unpacked` (pipeline/db/packed_text.py). Ranking is bm25() with per-column weights from
`ranking.FIELD_WEIGHTS` (title counts most); multi-word queries are AND: every
word must appear somewhere in the document.

The FTS5 cursor always drives (`CROSS JOIN` fixes the join order): each probe of
FTS5 by rowid would set bm25() up again over the whole doclist, which is what
made a filtered search take seconds at 100,000 videos.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import BindParameter

from pipeline.db.models import UTCDateTime
from pipeline.db.packed_text import pack_text, unpack_text
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

_FTS = "search_documents_fts"
# Column order of search_documents_fts, as the migrations create it.
_FTS_COLUMNS = ("title", "description", "summary", "transcript")
_WEIGHTS = ", ".join(str(FIELD_WEIGHTS[column]) for column in _FTS_COLUMNS)
# The same bm25() as matching_sql's score, as FTS5's rank: what lets FTS5 sort the matches itself.
_RANK = f"bm25({_WEIGHTS})"


def _snippet(field: str) -> str:
    return f"snippet({_FTS}, {_FTS_COLUMNS.index(field)}, :mark_start, :mark_end, '…', {SNIPPET_WORDS}) AS {field}_snippet"


# What a hit shows. The transcript is marked whole once (highlight): its snippet
# and the timed segments that say the words both come from those marks.
_DETAIL_COLUMNS = (
    f"d.status, d.created_at, t.title, {_FTS}.transcript, t.segments, {_snippet('summary')}, "
    f"{_snippet('description')}, {_snippet('title')}, "
    f"highlight({_FTS}, 3, :mark_start, :mark_end) AS marked"
)
_MARKS = {"mark_start": MARK_START, "mark_end": MARK_END}


class _Hit(NamedTuple):
    """A ranked row with its details: the columns of the statements below, in their order."""

    video_id: int
    score: float
    status: str
    created_at: datetime
    title: str
    transcript: str
    segments: bytes | None
    summary_snippet: str | None
    description_snippet: str | None
    title_snippet: str | None
    marked: str | None


class SqliteFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "sqlite-fts5"
    dialect: ClassVar[str] = "sqlite"
    extra_tables: ClassVar[tuple[str, ...]] = ("search_documents_fts",)
    dialect_insert = staticmethod(sqlite_insert)

    @staticmethod
    def stored_transcript(transcript: str) -> bytes:
        return pack_text(transcript)

    @staticmethod
    def read_transcript(stored: Any) -> str:
        return unpack_text(stored)

    def all_terms(self, terms: Sequence[str]) -> str:
        # Quoted, each word is a plain FTS5 string whatever it spells (OR, NEAR, ...);
        # juxtaposed strings are ANDed.
        return " ".join(f'"{term}"' for term in terms)

    def any_term(self, terms: Sequence[str]) -> str:
        return " OR ".join(f'"{term}"' for term in terms)

    def matching_sql(self, filters: str) -> tuple[str, str]:
        # bm25() is lower-is-better; negated so every backend's score is higher-is-better.
        return (
            f"-bm25({_FTS}, {_WEIGHTS})",
            f"""FROM {_FTS} CROSS JOIN search_documents AS d ON d.video_id = {_FTS}.rowid
                    WHERE {_FTS} MATCH :all_terms {filters}""",
        )

    def ranked_rows(
        self, conn: Connection, plan: SearchPlan, filters: str, params: dict[str, Any], typed: list[BindParameter]
    ) -> tuple[list[_Hit], int | None]:
        """The page's rows with their details, by one of two plans (benchmarks/README.md, `search_scale`):

        - no owner or date filter (most rows pass): FTS5 sorts every match by `rank`
          itself, and the filter row, the text and highlight()/snippet() are read only
          for the rows taken, best first, until the page is full;
        - an owner or date filter (few rows pass): the filter is checked first in the
          full-text index's rowid order, bm25() is computed only for the rows that
          pass, and their number is the exact total; then the page's details.
        """
        if plan.owner_id is None and plan.created_from is None and plan.created_to is None:
            return self._ranked_by_fts5(conn, plan, filters, params, typed), None
        score, source = self.matching_sql(filters)
        statement = text(f"SELECT d.video_id AS video_id, {score} AS score {source}").bindparams(*typed)
        matches = conn.execute(statement, params).all()
        total = len(matches)
        if plan.after is not None:
            after = plan.after
            matches = [m for m in matches if m.score < after.score or (m.score == after.score and m.video_id > after.video_id)]
        top = heapq.nsmallest(plan.limit + 1, matches, key=lambda m: (-m.score, m.video_id))
        details = {}
        if top:
            page = (
                text(f"""
                SELECT {_FTS}.rowid AS video_id, NULL AS score, {_DETAIL_COLUMNS}
                FROM {_FTS} CROSS JOIN search_documents AS d ON d.video_id = {_FTS}.rowid
                     CROSS JOIN search_texts AS t ON t.video_id = {_FTS}.rowid
                WHERE {_FTS} MATCH :all_terms AND +{_FTS}.rowid IN :ids
            """)
                .bindparams(bindparam("ids", expanding=True))
                .columns(created_at=UTCDateTime)
            )
            # `+rowid`: one walk of the doclist, not a fresh full-text lookup per id.
            details = {row.video_id: row for row in conn.execute(page, params | _MARKS | {"ids": [m.video_id for m in top]})}
        return [_Hit(*details[m.video_id])._replace(score=m.score) for m in top], total

    def _ranked_by_fts5(
        self, conn: Connection, plan: SearchPlan, filters: str, params: dict[str, Any], typed: list[BindParameter]
    ) -> list[_Hit]:
        keyset = ""
        if plan.after is not None:
            keyset = f"AND (-{_FTS}.rank < :after_score OR (-{_FTS}.rank = :after_score AND {_FTS}.rowid > :after_id))"
        statement = (
            text(f"""
            SELECT {_FTS}.rowid AS video_id, -{_FTS}.rank AS score, {_DETAIL_COLUMNS}
            FROM {_FTS} CROSS JOIN search_documents AS d ON d.video_id = {_FTS}.rowid
                 CROSS JOIN search_texts AS t ON t.video_id = {_FTS}.rowid
            WHERE {_FTS} MATCH :all_terms AND {_FTS}.rank MATCH :rank {filters} {keyset}
            ORDER BY {_FTS}.rank
        """)
            .bindparams(*typed)
            .columns(created_at=UTCDateTime)
        )
        result = conn.execute(statement, params | _MARKS | {"rank": _RANK})
        # FTS5 orders ties arbitrarily; read on through the tie at the page's edge, then order by id too.
        rows: list[_Hit] = []
        for row in result:
            if len(rows) > plan.limit and row.score < rows[plan.limit].score:
                break
            rows.append(_Hit(*row))
        result.close()
        rows.sort(key=lambda row: (-row.score, row.video_id))
        return rows[: plan.limit + 1]

    def page_details(self, conn: Connection, plan: SearchPlan, rows: Sequence[_Hit]) -> dict[int, PageDetail]:
        details = {}
        for row in rows:
            marked = row.marked or ""
            if is_sliced(row.segments):
                matches = sliced_segments_at(row.transcript, row.segments, mark_offsets(marked))
            else:
                matches = self._probe_segments(conn, plan, decode_segments(row.transcript, row.segments))
            snippets = {"summary": row.summary_snippet, "description": row.description_snippet, "title": row.title_snippet}
            # The transcript's snippet is made only where it can be the one shown (see best_snippet).
            if not any(MARK_START in (snippets[f] or "") for f in SNIPPET_FIELDS[: SNIPPET_FIELDS.index("transcript")]):
                snippets["transcript"] = snippet_from_highlight(marked, SNIPPET_WORDS)
            details[row.video_id] = PageDetail(title=row.title, matches=matches, snippets=snippets)
        return details

    def _probe_segments(self, conn: Connection, plan: SearchPlan, stored: StoredSegments) -> tuple[SegmentMatch, ...]:
        """Segments kept with their own text (not slices of the transcript): matched in a scratch FTS5 table.

        The scratch table lives in this connection's temp schema and inside the
        read transaction, which rolls back when the connection is returned.
        """
        conn.execute(
            text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_segment_probe USING fts5(text, tokenize='porter unicode61')")
        )
        conn.execute(text("DELETE FROM temp.search_segment_probe"))
        conn.execute(
            text("INSERT INTO temp.search_segment_probe(rowid, text) VALUES (:i, :text)"),
            [{"i": i, "text": segment.text} for i, segment in enumerate(stored.segments)],
        )
        positions = (
            conn.execute(
                text("SELECT rowid FROM temp.search_segment_probe WHERE search_segment_probe MATCH :any_term"),
                {"any_term": self.any_term(plan.terms)},
            )
            .scalars()
            .all()
        )
        return first_matches(stored.segments, positions)
