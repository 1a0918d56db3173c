"""A SearchQuery made safe to run, and the page built from a backend's ranked rows.

Every backend calls `plan_search` first and `SearchPlan.page_of` last, so
sanitizing, limits, date handling and cursors behave identically everywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pipeline.search.base import SearchQuery, SegmentMatch
from pipeline.search.cursor import CursorPosition, decode_cursor, encode_cursor
from pipeline.search.ranking import MAX_LIMIT, MAX_SEGMENT_MATCHES
from pipeline.search.terms import query_terms


@dataclass(frozen=True)
class SearchPlan:
    terms: tuple[str, ...]  # plain words; every one must match (AND)
    status: str | None
    owner_id: int | None
    created_from: datetime | None  # UTC, inclusive
    created_to: datetime | None  # UTC, inclusive
    limit: int
    after: CursorPosition | None  # keyset: rank strictly after this position
    language: str | None = None  # only videos in this language

    @property
    def fingerprint(self) -> str:
        bounds = [value.isoformat() if value else None for value in (self.created_from, self.created_to)]
        identity = [self.terms, self.status, self.owner_id, *bounds, *([self.language] if self.language else [])]
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]

    def page_of(self, ranked: Sequence[CursorPosition]) -> tuple[list[CursorPosition], str | None]:
        """Backends fetch `limit + 1` rows: the extra one only says whether another page exists."""
        page = list(ranked[: self.limit])
        if len(ranked) <= self.limit:
            return page, None
        last = page[-1]
        ties = sum(1 for position in page if position.score == last.score)
        if self.after is not None and self.after.score == last.score:
            ties += self.after.ties
        return page, encode_cursor(replace(last, ties=ties), self.fingerprint)


def plan_search(query: SearchQuery) -> SearchPlan:
    """Raises InvalidCursor for a cursor this search did not issue. Naive datetimes are read as UTC."""
    plan = SearchPlan(
        terms=query_terms(query.text),
        status=query.status,
        owner_id=query.owner_id,
        created_from=_utc(query.created_from),
        created_to=_utc(query.created_to),
        limit=max(1, min(query.limit, MAX_LIMIT)),
        after=None,
        language=query.language,
    )
    if query.cursor is None:
        return plan
    return replace(plan, after=decode_cursor(query.cursor, plan.fingerprint))


def group_segment_matches(rows: Iterable[tuple[int, float, float, str]]) -> dict[int, tuple[SegmentMatch, ...]]:
    """(video_id, start, end, text) rows, each video's in start order, to at most MAX_SEGMENT_MATCHES per video."""
    grouped: dict[int, list[SegmentMatch]] = {}
    for video_id, start, end, text in rows:
        matches = grouped.setdefault(video_id, [])
        if len(matches) < MAX_SEGMENT_MATCHES:
            matches.append(SegmentMatch(start=start, end=end, text=text))
    return {video_id: tuple(matches) for video_id, matches in grouped.items()}


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
