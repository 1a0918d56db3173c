"""Search in a PostgreSQL app database: tsvector + GIN, ranked by ts_rank_cd.

The weighted document vector (title A, summary B, description C, transcript D)
and the segments' vectors are stored generated columns from migration 0002.
Queries go through websearch_to_tsquery, which never raises on any input; the
terms it gets are already plain words (see terms.py), ANDed for documents and
ORed for segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Connection

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.plan import SearchPlan
from pipeline.search.ranking import FIELD_WEIGHTS, SNIPPET_FIELDS, SNIPPET_WORDS
from pipeline.search.sql_store import SqlSearchIndex

# ts_rank_cd takes weights in {D, C, B, A} order, relative to 1.0.
_RANK_WEIGHTS = "{" + ",".join(
    str(FIELD_WEIGHTS[field] / FIELD_WEIGHTS["title"]) for field in ("transcript", "description", "summary", "title")
) + "}"

# Fragment-based headlines: on a long transcript, show the passage with the words, not its opening.
_HEADLINE_OPTIONS = (f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxFragments=1, '
                     f"MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, FragmentDelimiter=\" … \"")


class PostgresFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "postgresql-fts"
    dialect: ClassVar[str] = "postgresql"
    dialect_insert = staticmethod(postgresql_insert)

    def all_terms(self, terms: Sequence[str]) -> str:
        return " ".join(terms)

    def any_term(self, terms: Sequence[str]) -> str:
        return " or ".join(terms)

    def matching_documents_sql(self, filters: str) -> str:
        # float8: the cursor carries the score back as a double, and keyset
        # comparisons must see exactly the value that was ranked.
        return f"""
            SELECT d.video_id AS video_id,
                   ts_rank_cd('{_RANK_WEIGHTS}'::float4[], d.search_vector, q.query)::float8 AS score,
                   d.title AS title, d.status AS status, d.created_at AS created_at
            FROM search_documents AS d, websearch_to_tsquery('english', :all_terms) AS q(query)
            WHERE d.search_vector @@ q.query {filters}"""

    def matching_segments_sql(self) -> str:
        return """
            FROM search_segments AS s
            WHERE s.search_vector @@ websearch_to_tsquery('english', :any_term)"""

    def snippet_candidates(self, conn: Connection, plan: SearchPlan, ids: list[int]) -> dict[int, list[str]]:
        # ts_headline re-parses the text, so it runs for the page's documents only.
        columns = ", ".join(f"ts_headline('english', d.{field}, q.query, :options)" for field in SNIPPET_FIELDS)
        statement = text(f"""
            SELECT d.video_id, {columns}
            FROM search_documents AS d, websearch_to_tsquery('english', :all_terms) AS q(query)
            WHERE d.video_id IN :ids
        """).bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(statement, {"all_terms": self.all_terms(plan.terms), "ids": ids,
                                        "options": _HEADLINE_OPTIONS})
        return {row[0]: list(row[1:]) for row in rows}
