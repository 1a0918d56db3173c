"""The search index interface and its value types.

Every backend (SQLite FTS5, PostgreSQL full-text, OpenSearch) implements
`SearchIndex` and passes the same contract tests (tests/search/).
Documents are keyed by video id: indexing a video again replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from pipeline.text import TimedSegment


@dataclass(frozen=True)
class SearchDocument:
    video_id: int
    title: str
    description: str
    owner_id: int | None
    owner_name: str | None
    transcript: str
    summary: str
    status: str
    language: str | None
    created_at: datetime
    updated_at: datetime
    duration_seconds: float | None = None
    segments: tuple[TimedSegment, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    text: str
    status: str | None = "ready"  # None: any status
    owner_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 20
    cursor: str | None = None  # opaque, from a previous page's next_cursor
    language: str | None = None  # only videos in this language (ISO 639-1), searched with its analysis


# Where the query's words are spoken: a transcript segment that matched.
SegmentMatch = TimedSegment


@dataclass(frozen=True)
class SearchHit:
    video_id: int
    title: str
    score: float
    snippet: str  # highlighted with <mark>...</mark>
    status: str
    created_at: datetime
    matches: tuple[SegmentMatch, ...] = ()
    # Where to open the video: its best passage (semantic/hybrid search), else None.
    moment: SegmentMatch | None = None


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    total: int  # matches, counted up to ranking.TOTAL_CAP
    next_cursor: str | None = None
    total_exact: bool = True  # False: there are at least `total` matches (counting stopped there)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RankedPage:
    """A page's videos and scores, best first, before their hits are described (title, snippet, matches)."""

    terms: tuple[str, ...]
    ranked: list[tuple[int, float]]
    total: int
    next_cursor: str | None = None
    total_exact: bool = True


@runtime_checkable
class RanksBeforeDescribing(Protocol):
    """An index that ranks a page apart from describing its hits: a page's hits cost more than its ranking, and
    hybrid search shows only some of the text side's candidates."""

    def rank(self, query: SearchQuery) -> RankedPage: ...

    def describe(self, page: RankedPage, video_ids: Iterable[int]) -> dict[int, SearchHit]:
        """The hits of these videos of `page` (a video deleted since it was ranked has none)."""
        ...


class InvalidCursor(ValueError):
    """A pagination cursor that this index did not issue (or is malformed)."""


class SearchIndexUnavailable(RuntimeError):
    """The index cannot be reached (raised by `SearchIndex.ping`)."""


@runtime_checkable
class SearchIndex(Protocol):
    backend_name: ClassVar[str]

    def ensure(self) -> None:
        """Create the index / tables if missing (idempotent)."""
        ...

    def upsert(self, document: SearchDocument) -> None: ...

    def bulk_upsert(self, documents: Iterable[SearchDocument]) -> int:
        """Index many documents at once; returns how many were written."""
        ...

    def delete(self, video_id: int) -> None: ...

    def get(self, video_id: int) -> SearchDocument | None: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def ping(self) -> None:
        """Raise if the index is unreachable."""
        ...
