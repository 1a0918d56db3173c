"""The search index's tables, all in one place.

They come from the migrations (0002, reshaped by `search_scale`, which add each
dialect's full-text machinery, and `passage_embeddings`); here they are
SQLAlchemy Core tables in their own MetaData, because the index is a projection
of the app data, not part of the ORM model:

- `search_documents`: one narrow row per video, what searches filter on;
- `search_texts`: the indexed text, and the timed segments packed without a
  second copy of their text (pipeline/search/segments.py);
- `search_passages`: the embedded passages (pipeline/search/vectors.py);
- `search_vector_state`: a generation counter that tells API processes when to
  reload their vector index.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Dialect, Float, Integer, LargeBinary, MetaData, String, Table, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from pipeline.db.models import UTCDateTime

search_metadata = MetaData()


class TextSearchConfig(TypeDecorator):
    """A text search configuration's name: PostgreSQL's `regconfig` (bound with a cast to it), text elsewhere."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        return dialect.type_descriptor(postgresql.REGCONFIG() if dialect.name == "postgresql" else String(32))


search_documents = Table(
    "search_documents",
    search_metadata,
    Column("video_id", Integer, primary_key=True, autoincrement=False),
    Column("status", String(20), nullable=False),
    Column("owner_id", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("language", String(16)),
    Column("duration_seconds", Float),
    Column("owner_name", String(320)),
)

search_texts = Table(
    "search_texts",
    search_metadata,
    Column("video_id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("segments", LargeBinary),
    # The PostgreSQL text search configuration of the video's language (a `regconfig` there: its `search_vector`
    # is analysed with it); unused by SQLite.
    Column("text_config", TextSearchConfig(), nullable=False, server_default="english"),
)

search_passages = Table(
    "search_passages",
    search_metadata,
    Column("id", Integer, primary_key=True),
    Column("video_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("start_seconds", Float),
    Column("end_seconds", Float),
    Column("text", Text, nullable=False),
    Column("model", String(200), nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

search_vector_state = Table(
    "search_vector_state",
    search_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)
