"""Search modes: text (the index's full-text search), semantic (passage vectors) and hybrid (both, fused).

Hybrid takes the best candidates of each side and fuses their ranks with
reciprocal rank fusion (Cormack et al., 2009: score = sum of 1 / (k + rank)),
which needs no score calibration between BM25 and cosine similarity. Every hit
found by meaning carries the moment of its best passage (`SearchHit.moment`);
with a `MomentFinder`, the page's moments and matches are then placed to the
second (pipeline/search/moments.py).

When the vector side has nothing to add (no vectors indexed, none similar
enough, or a backend without vectors), hybrid answers exactly as text search
does, cursor included: exact-word search ranks as before.
Semantic and fused pages use an offset cursor tied to the search that issued it.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from pipeline.embeddings import Embedder, query_vector
from pipeline.search.base import (
    InvalidCursor,
    RankedPage,
    RanksBeforeDescribing,
    SearchHit,
    SearchIndex,
    SearchPage,
    SearchQuery,
    SegmentMatch,
)
from pipeline.search.cursor import pack_token, unpack_token
from pipeline.search.moments import MomentFinder
from pipeline.search.ranking import MAX_LIMIT, SNIPPET_WORDS
from pipeline.search.vectors import VectorHit, VectorIndex, VectorsLoading

SearchMode = Literal["hybrid", "text", "semantic"]
MODES: tuple[SearchMode, ...] = ("hybrid", "text", "semantic")

RRF_K = 60
# Candidates taken from each side before fusing: the page and one more (the cursor), at least this many.
# Each text candidate costs its snippet and matches, so more would slow every search for ranks no page shows.
CANDIDATES = 20
# Fused pages reach this deep at most; beyond it, text mode pages on.
MAX_DEPTH = 1000


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass
class HybridSearch:
    text_index: SearchIndex
    vectors: VectorIndex | None
    embedder: Callable[[], Embedder] | None  # called on first use: the API loads the model lazily
    min_similarity: float = 0.25
    unavailable_reason: str | None = None
    moments: MomentFinder | None = None

    @property
    def semantic_available(self) -> bool:
        return self.vectors is not None and self.embedder is not None

    def warm_up(self) -> None:
        """Load what a first semantic search needs (the query embedder, the vectors, the moments' embedder), so that
        the first searches after start wait for none of it."""
        if not self.semantic_available:
            return
        assert self.vectors is not None and self.embedder is not None
        self.vectors.warm_up(self.embedder().model_id)
        if self.moments is not None:
            self.moments.sentence_embedder()

    def search(self, query: SearchQuery, mode: SearchMode = "hybrid") -> SearchPage:
        page = self._search(query, mode)
        return self.moments.place(page, query.text) if self.moments is not None else page

    def _search(self, query: SearchQuery, mode: SearchMode) -> SearchPage:
        # The passage vectors know no language: a search in one language is a text search in its analysis.
        if mode == "text" or not self.semantic_available or query.language is not None:
            page = self.text_index.search(query)
            fallback = "a language filter searches by words" if query.language else self.unavailable_reason or "no vectors"
            return replace(
                page,
                extra={**page.extra, "mode": "text"} if mode == "text" else {**page.extra, "mode": "text", "fallback": fallback},
            )
        offset = None
        if query.cursor is not None:
            offset = _decode_offset(query.cursor, _fingerprint(query, mode))
            if offset is None and mode == "hybrid":  # a text cursor from a page hybrid answered as text
                return _as_text(self.text_index.search(query))
            if offset is None:
                raise InvalidCursor("malformed search cursor")
        start = offset or 0
        limit = max(1, min(query.limit, MAX_LIMIT))
        depth = min(max(CANDIDATES, start + limit + 1), MAX_DEPTH)  # the page and one more, from each side
        try:
            semantic = self._semantic(query, depth)
        except VectorsLoading as loading:
            page = self.text_index.search(query)
            return replace(page, extra={**page.extra, "mode": "text", "fallback": str(loading)})
        if mode == "semantic":
            hits = [_vector_only_hit(hit) for hit in semantic]
            return _page(hits[start : start + limit], start, limit, len(hits), query, mode, len(hits) > start + limit)
        if not semantic:
            return _as_text(self.text_index.search(query))
        text_page, describe = self._text_candidates(replace(query, limit=depth, cursor=None))
        by_text = [video_id for video_id, _ in text_page.ranked]
        text_ids = set(by_text)
        by_vector = {hit.video_id: hit for hit in semantic}
        fused = reciprocal_rank_fusion([by_text, list(by_vector)])
        order = sorted(fused, key=lambda vid: (-fused[vid], vid))
        window = order[start : start + limit]
        # Only the text hits the page shows are described (snippets and matches cost more than the ranking).
        text_hits = describe([vid for vid in window if vid in text_ids])
        hits = [
            _fused_hit(text_hits.get(vid), by_vector.get(vid), fused[vid])
            for vid in window
            if vid in text_hits or vid in by_vector
        ]
        total = text_page.total + sum(1 for vid in by_vector if vid not in text_ids)
        more = len(order) > start + limit
        return replace(_page(hits, start, limit, total, query, mode, more), total_exact=text_page.total_exact)

    def _text_candidates(self, query: SearchQuery) -> tuple[RankedPage, Callable[[list[int]], dict[int, SearchHit]]]:
        """The text side's ranking, and how to describe the hits a page shows."""
        if isinstance(self.text_index, RanksBeforeDescribing):
            ranked = self.text_index.rank(query)
            return ranked, lambda video_ids: self.text_index.describe(ranked, video_ids)
        page = self.text_index.search(query)  # described already
        by_id = {hit.video_id: hit for hit in page.hits}
        ranked = RankedPage((), [(hit.video_id, hit.score) for hit in page.hits], page.total, None, page.total_exact)
        return ranked, lambda video_ids: {video_id: by_id[video_id] for video_id in video_ids}

    def _semantic(self, query: SearchQuery, depth: int) -> list[VectorHit]:
        assert self.vectors is not None and self.embedder is not None
        embedder = self.embedder()
        return self.vectors.search(
            query_vector(embedder, query.text), embedder.model_id, replace(query, cursor=None), depth, self.min_similarity
        )


def _as_text(page: SearchPage) -> SearchPage:
    return replace(page, extra={**page.extra, "mode": "text"})


def _moment(hit: VectorHit) -> SegmentMatch:
    # Title and summary passages have no time: such a hit opens at the start.
    return SegmentMatch(start=hit.start or 0.0, end=hit.end or 0.0, text=hit.text)


def _passage_snippet(text: str) -> str:
    words = text.split()
    cut = " ".join(words[: SNIPPET_WORDS * 2])
    return html.escape(cut + ("…" if len(words) > SNIPPET_WORDS * 2 else ""))


def _vector_only_hit(hit: VectorHit, score: float | None = None) -> SearchHit:
    # No `matches`: those say where the query's words are spoken, and none of them is.
    return SearchHit(
        video_id=hit.video_id,
        title=hit.title,
        score=hit.score if score is None else score,
        snippet=_passage_snippet(hit.text),
        status=hit.status,
        created_at=hit.created_at,
        moment=_moment(hit),
    )


def _fused_hit(text_hit: SearchHit | None, vector_hit: VectorHit | None, score: float) -> SearchHit:
    if text_hit is None:
        assert vector_hit is not None
        return _vector_only_hit(vector_hit, score)
    moment = _moment(vector_hit) if vector_hit is not None else (text_hit.matches[0] if text_hit.matches else None)
    return replace(text_hit, score=score, moment=moment)


def _page(
    window: list[SearchHit], start: int, limit: int, total: int, query: SearchQuery, mode: SearchMode, more: bool
) -> SearchPage:
    """The page of hits `window` (from `start`); `more`: hits follow it."""
    more = more and start + limit < MAX_DEPTH
    cursor = _encode_offset(start + limit, _fingerprint(query, mode)) if more else None
    return SearchPage(hits=window, total=max(total, start + len(window) + more), next_cursor=cursor, extra={"mode": mode})


def _fingerprint(query: SearchQuery, mode: str) -> str:
    identity = [
        mode,
        query.text,
        query.status,
        query.owner_id,
        *(value.isoformat() if value else None for value in (query.created_from, query.created_to)),
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _encode_offset(offset: int, fingerprint: str) -> str:
    return pack_token({"o": offset, "m": fingerprint})


def _decode_offset(cursor: str, fingerprint: str) -> int | None:
    """The offset of a cursor this search issued; None for a cursor that is not an offset cursor."""
    try:
        payload = unpack_token(cursor)
        offset, issued_for = payload["o"], payload["m"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidCursor("malformed search cursor")
    if issued_for != fingerprint:
        raise InvalidCursor("this cursor belongs to a different search")
    return offset
