"""Search in a SQLite app database: FTS5 with BM25 ranking.

Two external-content FTS5 tables over `search_texts`, kept in step by triggers
from the migrations, so the text is stored once: FTS5's only stemmer is Porter's
English one, so `search_documents_fts` (porter over unicode61) holds the English
videos (and those without speech) and `search_documents_fts_unstemmed` (unicode61,
diacritics removed) every other language's, matched by their words as said; each
table's statistics are its own. Transcripts are kept packed and read through a view
per table (pipeline/db/packed_text.py). Ranking is bm25() with per-column weights from
`ranking.FIELD_WEIGHTS` (title counts most); multi-word queries are AND: every
word must appear somewhere in the document. A search asks both tables (the one of
its `language` when it has one) and merges their best rows.

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
from pipeline.search.sql_store import PageDetail, SqlSearchIndex, text_config


class _Fts(NamedTuple):
    """One of the full-text tables, and the tokenizer its words are matched with."""

    table: str
    tokenize: str


_STEMMED = _Fts("search_documents_fts", "porter unicode61")
_UNSTEMMED = _Fts("search_documents_fts_unstemmed", "unicode61 remove_diacritics 2")
_BY_TABLE = {fts.table: fts for fts in (_STEMMED, _UNSTEMMED)}
# Column order of both tables, as the migrations create them.
_FTS_COLUMNS = ("title", "description", "summary", "transcript")
_WEIGHTS = ", ".join(str(FIELD_WEIGHTS[column]) for column in _FTS_COLUMNS)
# The same bm25() as matching_sql's score, as FTS5's rank: what lets FTS5 sort the matches itself.
_RANK = f"bm25({_WEIGHTS})"


def _fts_of(language: str | None) -> _Fts:
    """The table a video in `language` is indexed in: English (or no language) is the one Porter stems."""
    return _STEMMED if text_config(language) == "english" else _UNSTEMMED


def _snippet(fts: str, field: str) -> str:
    return f"snippet({fts}, {_FTS_COLUMNS.index(field)}, :mark_start, :mark_end, '…', {SNIPPET_WORDS}) AS {field}_snippet"


def _detail_columns(fts: _Fts) -> str:
    """What a hit shows. The transcript is marked whole once (highlight): its snippet and the timed segments that
    say the words both come from those marks. The last column says which table the hit came from."""
    return (
        f"d.status, d.created_at, t.title, {fts.table}.transcript, t.segments, {_snippet(fts.table, 'summary')}, "
        f"{_snippet(fts.table, 'description')}, {_snippet(fts.table, 'title')}, "
        f"highlight({fts.table}, 3, :mark_start, :mark_end) AS marked, '{fts.table}' AS fts"
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
    fts: str


class SqliteFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "sqlite-fts5"
    dialect: ClassVar[str] = "sqlite"
    extra_tables: ClassVar[tuple[str, ...]] = tuple(_BY_TABLE)
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
        return _matching_sql(tuple(_BY_TABLE.values()), filters)

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

        Each table searched is asked on its own and the best rows of both kept (a table
        without a match, such as the unstemmed one of an English-only archive, costs one
        empty lookup).
        """
        searched = (_fts_of(plan.language),) if plan.language is not None else tuple(_BY_TABLE.values())
        if plan.owner_id is None and plan.created_from is None and plan.created_to is None:
            rows = [row for fts in searched for row in self._ranked_by_fts5(conn, fts, plan, filters, params, typed)]
            rows.sort(key=lambda row: (-row.score, row.video_id))
            return rows[: plan.limit + 1], None
        score, source = _matching_sql(searched, filters)
        statement = text(f"SELECT m.video_id AS video_id, {score} AS score, m.fts AS fts {source}").bindparams(*typed)
        matches = conn.execute(statement, params).all()
        total = len(matches)
        if plan.after is not None:
            after = plan.after
            matches = [m for m in matches if m.score < after.score or (m.score == after.score and m.video_id > after.video_id)]
        top = heapq.nsmallest(plan.limit + 1, matches, key=lambda m: (-m.score, m.video_id))
        details: dict[int, Any] = {}
        for fts in searched:
            ids = [m.video_id for m in top if m.fts == fts.table]
            if not ids:
                continue
            page = (
                text(f"""
                SELECT {fts.table}.rowid AS video_id, NULL AS score, {_detail_columns(fts)}
                FROM {fts.table} CROSS JOIN search_documents AS d ON d.video_id = {fts.table}.rowid
                     CROSS JOIN search_texts AS t ON t.video_id = {fts.table}.rowid
                WHERE {fts.table} MATCH :all_terms AND +{fts.table}.rowid IN :ids
            """)
                .bindparams(bindparam("ids", expanding=True))
                .columns(created_at=UTCDateTime)
            )
            # `+rowid`: one walk of the doclist, not a fresh full-text lookup per id.
            details |= {row.video_id: row for row in conn.execute(page, params | _MARKS | {"ids": ids})}
        return [_Hit(*details[m.video_id])._replace(score=m.score) for m in top], total

    def _ranked_by_fts5(
        self,
        conn: Connection,
        fts: _Fts,
        plan: SearchPlan,
        filters: str,
        params: dict[str, Any],
        typed: list[BindParameter],
    ) -> list[_Hit]:
        """The page's rows of one table (with the tie at its edge), best first."""
        table = fts.table
        keyset = ""
        if plan.after is not None:
            keyset = f"AND (-{table}.rank < :after_score OR (-{table}.rank = :after_score AND {table}.rowid > :after_id))"
        statement = (
            text(f"""
            SELECT {table}.rowid AS video_id, -{table}.rank AS score, {_detail_columns(fts)}
            FROM {table} CROSS JOIN search_documents AS d ON d.video_id = {table}.rowid
                 CROSS JOIN search_texts AS t ON t.video_id = {table}.rowid
            WHERE {table} MATCH :all_terms AND {table}.rank MATCH :rank {filters} {keyset}
            ORDER BY {table}.rank
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
                matches = self._probe_segments(conn, _BY_TABLE[row.fts], plan, decode_segments(row.transcript, row.segments))
            snippets = {"summary": row.summary_snippet, "description": row.description_snippet, "title": row.title_snippet}
            # The transcript's snippet is made only where it can be the one shown (see best_snippet).
            if not any(MARK_START in (snippets[f] or "") for f in SNIPPET_FIELDS[: SNIPPET_FIELDS.index("transcript")]):
                snippets["transcript"] = snippet_from_highlight(marked, SNIPPET_WORDS)
            details[row.video_id] = PageDetail(title=row.title, matches=matches, snippets=snippets)
        return details

    def _probe_segments(self, conn: Connection, fts: _Fts, plan: SearchPlan, stored: StoredSegments) -> tuple[SegmentMatch, ...]:
        """Segments kept with their own text (not slices of the transcript): matched in a scratch FTS5 table with
        the tokenizer of the video's table.

        The scratch table lives in this connection's temp schema and inside the
        read transaction, which rolls back when the connection is returned.
        """
        probe = f"{fts.table}_segment_probe"
        conn.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{probe} USING fts5(text, tokenize='{fts.tokenize}')"))
        conn.execute(text(f"DELETE FROM temp.{probe}"))
        conn.execute(
            text(f"INSERT INTO temp.{probe}(rowid, text) VALUES (:i, :text)"),
            [{"i": i, "text": segment.text} for i, segment in enumerate(stored.segments)],
        )
        positions = (
            conn.execute(
                text(f"SELECT rowid FROM temp.{probe} WHERE {probe} MATCH :any_term"),
                {"any_term": self.any_term(plan.terms)},
            )
            .scalars()
            .all()
        )
        return first_matches(stored.segments, positions)


def _matching_sql(searched: Sequence[_Fts], filters: str) -> tuple[str, str]:
    """matching_sql over the tables `searched`, each match's table in `m.fts`."""
    # bm25() is lower-is-better; negated so every backend's score is higher-is-better.
    per_table = " UNION ALL ".join(
        f"""SELECT d.video_id AS video_id, -bm25({fts.table}, {_WEIGHTS}) AS score, '{fts.table}' AS fts
            FROM {fts.table} CROSS JOIN search_documents AS d ON d.video_id = {fts.table}.rowid
            WHERE {fts.table} MATCH :all_terms {filters}"""
        for fts in searched
    )
    return "m.score", f"FROM ({per_table}) AS m"
