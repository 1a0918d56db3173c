"""What the two in-database backends share: their tables, writes, reads and the search skeleton.

The tables are created by migration 0002 (which adds each dialect's full-text
machinery); here they are SQLAlchemy Core tables in their own MetaData, because
the index is a projection of the app data, not part of the ORM model.
`SqlSearchIndex.search` runs the same three steps on both dialects (count,
ranked keyset page, then snippets and timed segment matches for that page only);
subclasses supply the dialect's match, rank and headline SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import BindParameter

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
from pipeline.search.plan import SearchPlan, group_segment_matches, plan_search
from pipeline.search.ranking import MAX_SEGMENT_MATCHES
from pipeline.text import TimedSegment

search_metadata = MetaData()

search_documents = Table(
    "search_documents", search_metadata,
    Column("video_id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("owner_id", Integer),
    Column("owner_name", String(320)),
    Column("status", String(20), nullable=False),
    Column("language", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("duration_seconds", Float),
)

search_segments = Table(
    "search_segments", search_metadata,
    Column("id", Integer, primary_key=True),
    Column("video_id", Integer, ForeignKey("search_documents.video_id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("start_seconds", Float, nullable=False),
    Column("end_seconds", Float, nullable=False),
    Column("text", Text, nullable=False),
)

_DOCUMENT_FIELDS = ("title", "description", "summary", "transcript", "owner_id", "owner_name", "status",
                    "language", "created_at", "updated_at", "duration_seconds")


class SqlSearchIndex:
    backend_name: ClassVar[str]
    dialect: ClassVar[str]
    # Tables beyond the two plain ones that the dialect's migration creates.
    extra_tables: ClassVar[tuple[str, ...]] = ()
    # The dialect's INSERT with ON CONFLICT support (sqlite.insert / postgresql.insert).
    dialect_insert: ClassVar[Any]  # the dialect's insert(), which has ON CONFLICT

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != self.dialect:
            raise ValueError(f"{type(self).__name__} needs a {self.dialect} engine, got {engine.dialect.name}")
        self.engine = engine

    # --- dialect-specific SQL -------------------------------------------------------------
    def matching_documents_sql(self, filters: str) -> str:
        """SELECT video_id, score (higher is better), title, status, created_at of documents matching :all_terms."""
        raise NotImplementedError

    def matching_segments_sql(self) -> str:
        """FROM/WHERE selecting segments `s` that contain any of :any_term."""
        raise NotImplementedError

    def snippet_candidates(self, conn: Connection, plan: SearchPlan, ids: list[int]) -> dict[int, list[str]]:
        raise NotImplementedError

    def all_terms(self, terms: Sequence[str]) -> str:
        raise NotImplementedError

    def any_term(self, terms: Sequence[str]) -> str:
        raise NotImplementedError

    # --- SearchIndex ----------------------------------------------------------------------
    def ensure(self) -> None:
        """Check that migration 0002 is applied: the schema belongs to Alembic, not to this class."""
        required = {search_documents.name, search_segments.name, *self.extra_tables}
        missing = required - set(inspect(self.engine).get_table_names())
        if missing:
            raise RuntimeError(f"search tables missing ({', '.join(sorted(missing))}): "
                               "run the database migrations (`alembic upgrade head` / pipeline.db.session.migrate)")

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(search_documents.c.video_id).limit(1))
        except SQLAlchemyError as exc:
            raise SearchIndexUnavailable(f"{self.backend_name} search index unreachable: {exc}") from exc

    def upsert(self, document: SearchDocument) -> None:
        row = {"video_id": document.video_id, **{name: getattr(document, name) for name in _DOCUMENT_FIELDS}}
        statement = self.dialect_insert(search_documents).values(row)
        # ON CONFLICT rather than delete-then-insert: concurrent reindexes of one video
        # serialize on the row instead of failing on the primary key.
        statement = statement.on_conflict_do_update(
            index_elements=["video_id"], set_={name: statement.excluded[name] for name in _DOCUMENT_FIELDS})
        with self.engine.begin() as conn:
            conn.execute(statement)
            conn.execute(delete(search_segments).where(search_segments.c.video_id == document.video_id))
            if document.segments:
                conn.execute(insert(search_segments), [
                    {"video_id": document.video_id, "position": position, "start_seconds": segment.start,
                     "end_seconds": segment.end, "text": segment.text}
                    for position, segment in enumerate(document.segments)])

    def delete(self, video_id: int) -> None:
        with self.engine.begin() as conn:
            # Explicit, not ON DELETE CASCADE: SQLite enforces that only with PRAGMA foreign_keys.
            conn.execute(delete(search_segments).where(search_segments.c.video_id == video_id))
            conn.execute(delete(search_documents).where(search_documents.c.video_id == video_id))

    def get(self, video_id: int) -> SearchDocument | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(search_documents).where(search_documents.c.video_id == video_id)).one_or_none()
            if row is None:
                return None
            segments = conn.execute(
                select(search_segments.c.start_seconds, search_segments.c.end_seconds, search_segments.c.text)
                .where(search_segments.c.video_id == video_id).order_by(search_segments.c.position)).all()
        return SearchDocument(**row._asdict(), segments=tuple(TimedSegment(*segment) for segment in segments))

    def search(self, query: SearchQuery) -> SearchPage:
        plan = plan_search(query)
        if not plan.terms:
            return SearchPage(hits=[], total=0)
        filters, filter_params, typed = _filters(plan)
        matching = self.matching_documents_sql(filters)
        params = {"all_terms": self.all_terms(plan.terms), **filter_params}
        keyset = ""
        if plan.after is not None:
            keyset = "WHERE m.score < :after_score OR (m.score = :after_score AND m.video_id > :after_id)"
            params |= {"after_score": plan.after.score, "after_id": plan.after.video_id}
        with self.engine.connect() as conn:
            count = text(f"SELECT count(*) FROM ({matching}) AS m").bindparams(*typed)
            total = conn.execute(count, params).scalar_one()
            ranked = (text(f"SELECT m.* FROM ({matching}) AS m {keyset} ORDER BY m.score DESC, m.video_id LIMIT :n")
                      .bindparams(*typed).columns(created_at=UTCDateTime))
            rows = conn.execute(ranked, params | {"n": plan.limit + 1}).all()
            page, next_cursor = plan.page_of([CursorPosition(row.score, row.video_id) for row in rows])
            ids = [position.video_id for position in page]
            snippets = self.snippet_candidates(conn, plan, ids) if ids else {}
            matches = self._segment_matches(conn, plan, ids) if ids else {}
        hits = [
            SearchHit(video_id=row.video_id, title=row.title, score=row.score, status=row.status,
                      created_at=row.created_at, snippet=best_snippet(snippets.get(row.video_id, [])),
                      matches=matches.get(row.video_id, ()))
            for row in rows[: len(page)]
        ]
        return SearchPage(hits=hits, total=total, next_cursor=next_cursor)

    def _segment_matches(self, conn: Connection, plan: SearchPlan,
                         ids: list[int]) -> dict[int, tuple[SegmentMatch, ...]]:
        # A segment matches if it says any query word: the words of a multi-word
        # query are often spoken in different segments.
        statement = text(f"""
            SELECT video_id, start_seconds, end_seconds, text FROM (
                SELECT s.video_id, s.start_seconds, s.end_seconds, s.text, s.position,
                       row_number() OVER (PARTITION BY s.video_id ORDER BY s.start_seconds, s.position) AS n
                {self.matching_segments_sql()} AND s.video_id IN :ids
            ) AS ranked
            WHERE n <= :cap ORDER BY video_id, start_seconds, position
        """).bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(statement, {"any_term": self.any_term(plan.terms), "ids": ids, "cap": MAX_SEGMENT_MATCHES})
        return group_segment_matches(rows.tuples())


def _filters(plan: SearchPlan) -> tuple[str, dict[str, Any], list[BindParameter]]:
    """SQL conditions on documents `d` (each starting with AND), their parameters, and the typed ones.

    Dates must bind through UTCDateTime: SQLite stores them as naive UTC text, and
    only the same conversion compares correctly.
    """
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for name, value, condition in (("status", plan.status, "d.status = :status"),
                                   ("owner_id", plan.owner_id, "d.owner_id = :owner_id"),
                                   ("created_from", plan.created_from, "d.created_at >= :created_from"),
                                   ("created_to", plan.created_to, "d.created_at <= :created_to")):
        if value is not None:
            conditions.append(f"AND {condition}")
            params[name] = value
    typed = [bindparam(name, type_=UTCDateTime()) for name in ("created_from", "created_to") if name in params]
    return " ".join(conditions), params, typed
