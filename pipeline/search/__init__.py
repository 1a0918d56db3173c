"""Full-text search over videos, behind one interface with several backends."""

from pipeline.search.base import (
    InvalidCursor,
    SearchDocument,
    SearchHit,
    SearchIndex,
    SearchIndexUnavailable,
    SearchPage,
    SearchQuery,
    SegmentMatch,
)

__all__ = [
    "InvalidCursor",
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "SearchIndexUnavailable",
    "SearchPage",
    "SearchQuery",
    "SegmentMatch",
]
