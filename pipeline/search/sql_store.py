"""What the two in-database backends share: their writes, reads and the search skeleton,
over the tables of pipeline/search/tables.py.

`SqlSearchIndex.search` runs the same steps on both dialects, each shaped to
stay fast at 100,000 videos:

1. one ranked keyset page, with the full-text index driving: each match is
   scored once, then checked against the narrow filter row (a dialect may plan
   this step its own way: see SqliteFtsIndex.ranked_rows);
2. a count that stops at `TOTAL_CAP + 1` matches (no ranking involved), skipped
   when the first page already holds every match or step 1 counted them;
3. titles, snippets and the timed segments that say the words, for the page's
   hits only.

Subclasses supply the dialect's match/rank SQL and step 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import (
    Engine,
    bindparam,
    delete,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import BindParameter

from pipeline import languages
from pipeline.db.models import UTCDateTime
from pipeline.search.base import (
    SearchDocument,
    SearchHit,
    SearchIndexUnavailable,
    SearchPage,
    SearchQuery,
    SegmentMatch,
)
from pipeline.search.cursor import CursorPosition
from pipeline.search.highlight import best_snippet
from pipeline.search.plan import SearchPlan, plan_search
from pipeline.search.ranking import SNIPPET_FIELDS, TOTAL_CAP
from pipeline.search.segments import decode_segments, encode_segments
from pipeline.search.tables import search_documents, search_texts

_FILTER_FIELDS = ("status", "owner_id", "created_at", "updated_at", "language", "duration_seconds", "owner_name")
_TEXT_FIELDS = ("title", "description", "summary", "transcript", "segments")
# Written with the texts, not part of a document: how the dialect analyses them.
_WRITTEN_TEXT_FIELDS = (*_TEXT_FIELDS, "text_config")


def text_config(language: str | None) -> str:
    """PostgreSQL's text search configuration for a video in `language`: its Snowball stemmer's, else `simple`
    (lower-cased words)."""
    return languages.stemmer_name(language) or "simple"


# Every configuration a video's text may be analysed with: a query is analysed with each.
TEXT_CONFIGS = tuple(dict.fromkeys(["english", *sorted(languages.STEMMED.values()), "simple"]))


@dataclass(frozen=True)
class PageDetail:
    """What a hit shows besides its rank: title, snippet candidates (SNIPPET_FIELDS order), timed matches."""

    title: str
    snippets: dict[str, str | None]
    matches: tuple[SegmentMatch, ...]


class SqlSearchIndex:
    backend_name: ClassVar[str]
    dialect: ClassVar[str]
    # Tables beyond the two plain ones that the dialect's migration creates.
    extra_tables: ClassVar[tuple[str, ...]] = ()
    # The dialect's INSERT with ON CONFLICT support (sqlite.insert / postgresql.insert).
    dialect_insert: ClassVar[Any]  # the dialect's insert(), which has ON CONFLICT

    @staticmethod
    def stored_transcript(transcript: str) -> Any:
        """The transcript as this dialect's `search_texts` keeps it (see `read_transcript`)."""
        return transcript

    @staticmethod
    def read_transcript(stored: Any) -> str:
        return stored

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != self.dialect:
            raise ValueError(f"{type(self).__name__} needs a {self.dialect} engine, got {engine.dialect.name}")
        self.engine = engine

    # --- dialect-specific SQL -------------------------------------------------------------
    def matching_sql(self, filters: str) -> tuple[str, str]:
        """(score expression, FROM/WHERE) over the documents `d` matching :all_terms; higher scores are better.

        The FROM must let the full-text index drive: the filters are checked per match.
        """
        raise NotImplementedError

    def ranked_rows(
        self, conn: Connection, plan: SearchPlan, filters: str, params: dict[str, Any], typed: list[BindParameter]
    ) -> tuple[Sequence[Any], int | None]:
        """The first `plan.limit + 1` matches after the cursor, best first (video_id, score, status,
        created_at, and whatever page_details needs), and the total where the plan counted it."""
        score, source = self.matching_sql(filters)
        keyset = ""
        if plan.after is not None:
            keyset = "WHERE m.score < :after_score OR (m.score = :after_score AND m.video_id > :after_id)"
        ranked = (
            text(
                f"SELECT m.video_id, m.score, m.status, m.created_at FROM ("
                f"SELECT d.video_id AS video_id, {score} AS score, d.status AS status, "
                f"d.created_at AS created_at {source}) AS m {keyset} "
                f"ORDER BY m.score DESC, m.video_id LIMIT :n"
            )
            .bindparams(*typed)
            .columns(created_at=UTCDateTime)
        )
        return conn.execute(ranked, params | {"n": plan.limit + 1}).all(), None

    def page_details(self, conn: Connection, plan: SearchPlan, rows: Sequence[Any]) -> dict[int, PageDetail]:
        """Details of the page's hits, given their rows from `ranked_rows`."""
        raise NotImplementedError

    def all_terms(self, terms: Sequence[str]) -> str:
        raise NotImplementedError

    def any_term(self, terms: Sequence[str]) -> str:
        raise NotImplementedError

    # --- SearchIndex ----------------------------------------------------------------------
    def ensure(self) -> None:
        """Check that the migrations are applied: the schema belongs to Alembic, not to this class."""
        required = {search_documents.name, search_texts.name, *self.extra_tables}
        missing = required - set(inspect(self.engine).get_table_names())
        if missing:
            raise RuntimeError(
                f"search tables missing ({', '.join(sorted(missing))}): "
                "run the database migrations (`alembic upgrade head` / pipeline.db.session.migrate)"
            )

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(search_documents.c.video_id).limit(1))
        except SQLAlchemyError as exc:
            raise SearchIndexUnavailable(f"{self.backend_name} search index unreachable: {exc}") from exc

    def upsert(self, document: SearchDocument) -> None:
        self.bulk_upsert([document])

    def bulk_upsert(self, documents: Iterable[SearchDocument]) -> int:
        """Index many documents in one transaction; returns how many were written."""
        filter_rows, text_rows = [], []
        for document in documents:
            filter_rows.append({"video_id": document.video_id, **{name: getattr(document, name) for name in _FILTER_FIELDS}})
            text_rows.append(
                {
                    "video_id": document.video_id,
                    "title": document.title,
                    "description": document.description,
                    "summary": document.summary,
                    "transcript": self.stored_transcript(document.transcript),
                    "segments": encode_segments(document.transcript, document.segments),
                    "text_config": text_config(document.language),
                }
            )
        if not filter_rows:
            return 0
        with self.engine.begin() as conn:
            # ON CONFLICT rather than delete-then-insert: concurrent reindexes of one video
            # serialize on the row instead of failing on the primary key.
            for table, rows, fields in (
                (search_documents, filter_rows, _FILTER_FIELDS),
                (search_texts, text_rows, _WRITTEN_TEXT_FIELDS),
            ):
                statement = self.dialect_insert(table)
                statement = statement.on_conflict_do_update(
                    index_elements=["video_id"], set_={name: statement.excluded[name] for name in fields}
                )
                conn.execute(statement, rows)
        return len(filter_rows)

    def delete(self, video_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(search_texts).where(search_texts.c.video_id == video_id))
            conn.execute(delete(search_documents).where(search_documents.c.video_id == video_id))

    def get(self, video_id: int) -> SearchDocument | None:
        statement = (
            select(search_documents, *(search_texts.c[name] for name in _TEXT_FIELDS))
            .join(search_texts, search_texts.c.video_id == search_documents.c.video_id)
            .where(search_documents.c.video_id == video_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(statement).one_or_none()
        if row is None:
            return None
        values = row._asdict()
        values["transcript"] = self.read_transcript(values["transcript"])
        stored = decode_segments(values["transcript"], values.pop("segments"))
        return SearchDocument(**values, segments=stored.segments)

    def search(self, query: SearchQuery) -> SearchPage:
        plan = plan_search(query)
        if not plan.terms:
            return SearchPage(hits=[], total=0)
        filters, filter_params, typed = _filters(plan)
        params = {"all_terms": self.all_terms(plan.terms), **filter_params}
        if plan.after is not None:
            params |= {"after_score": plan.after.score, "after_id": plan.after.video_id}
        with self.engine.connect() as conn:
            rows, counted = self.ranked_rows(conn, plan, filters, params, typed)
            if counted is None and plan.after is None and len(rows) <= plan.limit:
                counted = len(rows)  # the first page holds every match: nothing more to count
            elif counted is None:
                source = self.matching_sql(filters)[1]
                count = text(f"SELECT count(*) FROM (SELECT 1 {source} LIMIT :cap) AS c").bindparams(*typed)
                counted = conn.execute(count, params | {"cap": TOTAL_CAP + 1}).scalar_one()
            page, next_cursor = plan.page_of([CursorPosition(row.score, row.video_id) for row in rows])
            details = self.page_details(conn, plan, rows[: len(page)]) if page else {}
        hits = []
        for row in rows[: len(page)]:
            detail = details[row.video_id]
            hits.append(
                SearchHit(
                    video_id=row.video_id,
                    title=detail.title,
                    score=row.score,
                    status=row.status,
                    created_at=row.created_at,
                    snippet=best_snippet(detail.snippets.get(f) for f in SNIPPET_FIELDS),
                    matches=detail.matches,
                )
            )
        return SearchPage(hits=hits, total=min(counted, TOTAL_CAP), next_cursor=next_cursor, total_exact=counted <= TOTAL_CAP)


def _filters(plan: SearchPlan) -> tuple[str, dict[str, Any], list[BindParameter]]:
    """SQL conditions on documents `d` (each starting with AND), their parameters, and the typed ones.

    Dates must bind through UTCDateTime: SQLite stores them as naive UTC text, and
    only the same conversion compares correctly.
    """
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for name, value, condition in (
        ("status", plan.status, "d.status = :status"),
        ("owner_id", plan.owner_id, "d.owner_id = :owner_id"),
        ("language", plan.language, "d.language = :language"),
        ("created_from", plan.created_from, "d.created_at >= :created_from"),
        ("created_to", plan.created_to, "d.created_at <= :created_to"),
    ):
        if value is not None:
            conditions.append(f"AND {condition}")
            params[name] = value
    typed = [bindparam(name, type_=UTCDateTime()) for name in ("created_from", "created_to") if name in params]
    return " ".join(conditions), params, typed
