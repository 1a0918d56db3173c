"""Search in a PostgreSQL app database: tsvector + GIN, ranked by ts_rank_cd.

The weighted document vector (title A, summary B, description C, transcript D)
is a stored generated column of `search_texts` with a GIN index (migrations
0002, search_scale and languages), analysed with the text search configuration
of the video's language (`text_config`: `french`, `german`..., `simple` for a
language without a stemmer). A query is analysed with every configuration and
the results ORed (one constant tsquery: the GIN index still answers), so each
video matches the query's words as its own language stems them. Queries go through websearch_to_tsquery, which never
raises on any input; the terms it gets are already plain words (see terms.py),
ANDed for documents and ORed for segments. Which segments say the words is
worked out for the page's hits only, from their texts (no segment index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Connection

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.plan import SearchPlan
from pipeline.search.ranking import FIELD_WEIGHTS, SNIPPET_FIELDS, SNIPPET_WORDS
from pipeline.search.segments import decode_segments, first_matches
from pipeline.search.sql_store import TEXT_CONFIGS, PageDetail, SqlSearchIndex

# ts_rank_cd takes weights in {D, C, B, A} order, relative to 1.0.
_RANK_WEIGHTS = (
    "{"
    + ",".join(str(FIELD_WEIGHTS[field] / FIELD_WEIGHTS["title"]) for field in ("transcript", "description", "summary", "title"))
    + "}"
)

# Fragment-based headlines: on a long transcript, show the passage with the words, not its opening.
_HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxFragments=1, '
    f'MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, FragmentDelimiter=" … "'
)


# The query's words, analysed as each language's texts are.
_QUERY = "(SELECT " + " || ".join(f"websearch_to_tsquery('{config}', :all_terms)" for config in TEXT_CONFIGS) + ")"


class PostgresFtsIndex(SqlSearchIndex):
    backend_name: ClassVar[str] = "postgresql-fts"
    dialect: ClassVar[str] = "postgresql"
    dialect_insert = staticmethod(postgresql_insert)

    def all_terms(self, terms: Sequence[str]) -> str:
        return " ".join(terms)

    def any_term(self, terms: Sequence[str]) -> str:
        return " or ".join(terms)

    def matching_sql(self, filters: str) -> tuple[str, str]:
        # float8: the cursor carries the score back as a double, and keyset
        # comparisons must see exactly the value that was ranked.
        return (
            f"ts_rank_cd('{_RANK_WEIGHTS}'::float4[], t.search_vector, q.query)::float8",
            f"""FROM search_texts AS t JOIN search_documents AS d ON d.video_id = t.video_id,
                         {_QUERY} AS q(query)
                    WHERE t.search_vector @@ q.query {filters}""",
        )

    def page_details(self, conn: Connection, plan: SearchPlan, rows: Sequence[Any]) -> dict[int, PageDetail]:
        # ts_headline re-parses the text, so it runs for the page's documents only.
        columns = ", ".join(
            f"ts_headline(t.text_config, t.{field}, q.query, :options) AS {field}_snippet" for field in SNIPPET_FIELDS
        )
        statement = text(f"""
            SELECT t.video_id, t.title, t.transcript, t.segments, t.text_config::text AS config, {columns}
            FROM search_texts AS t, LATERAL websearch_to_tsquery(t.text_config, :all_terms) AS q(query)
            WHERE t.video_id IN :ids
        """).bindparams(bindparam("ids", expanding=True))
        ids = [row.video_id for row in rows]
        found = conn.execute(statement, {"all_terms": self.all_terms(plan.terms), "ids": ids, "options": _HEADLINE_OPTIONS}).all()
        stored = {row.video_id: decode_segments(row.transcript, row.segments) for row in found}
        configs = {row.video_id: row.config for row in found}
        # One statement tells which of the page's segments say any of the words.
        owners = [(video_id, i) for video_id, s in stored.items() for i in range(len(s.segments))]
        texts = [stored[video_id].segments[i].text for video_id, i in owners]
        said: dict[int, list[int]] = {}
        if texts:
            said_rows = conn.execute(
                text("""
                SELECT s.n - 1
                FROM unnest(CAST(:texts AS text[]), CAST(:configs AS regconfig[])) WITH ORDINALITY AS s(body, config, n)
                WHERE to_tsvector(s.config, s.body) @@ websearch_to_tsquery(s.config, :any_term)
            """),
                {"texts": texts, "configs": [configs[video_id] for video_id, _ in owners], "any_term": self.any_term(plan.terms)},
            ).scalars()
            for index in said_rows:
                video_id, position = owners[index]
                said.setdefault(video_id, []).append(position)
        return {
            row.video_id: PageDetail(
                title=row.title,
                matches=first_matches(stored[row.video_id].segments, said.get(row.video_id, [])),
                snippets={field: getattr(row, f"{field}_snippet") for field in SNIPPET_FIELDS},
            )
            for row in found
        }
