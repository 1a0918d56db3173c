"""Search in OpenSearch (opensearch-py), for deployments that outgrow the app database.

One document per video (id = video id) with an explicit mapping: english-analyzed
text fields, keyword filters, dates, and the timed transcript segments as a
`nested` field so `inner_hits` can say when a hit's words are spoken.

The request bodies are built by pure functions (`index_body`, `search_body`,
`document_source`) so their shape is unit-tested without a cluster.
Multi-word queries are AND across fields (`multi_match` `cross_fields` with
`operator: and`): every word must appear, in any field.
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import NotFoundError, RequestError

from pipeline.search.base import (
    SearchDocument,
    SearchHit,
    SearchIndexUnavailable,
    SearchPage,
    SearchQuery,
)
from pipeline.search.cursor import CursorPosition
from pipeline.search.highlight import MARK_END, MARK_START, best_snippet
from pipeline.search.plan import SearchPlan, group_segment_matches, plan_search
from pipeline.search.ranking import FIELD_WEIGHTS, MAX_SEGMENT_MATCHES, SNIPPET_FIELDS, SNIPPET_WORDS, TOTAL_CAP
from pipeline.text import TimedSegment

Refresh = bool | Literal["wait_for"]

_TEXT = {"type": "text", "analyzer": "english"}
# Roughly SNIPPET_WORDS words, as OpenSearch counts fragments in characters.
_FRAGMENT_CHARS = SNIPPET_WORDS * 7


def index_body() -> dict[str, Any]:
    """Settings and explicit mapping for a new index (`dynamic: strict`: no field appears by accident)."""
    return {
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "video_id": {"type": "long"},
                "title": _TEXT,
                "description": _TEXT,
                "summary": _TEXT,
                # Offsets let the highlighter find passages in long transcripts without re-analyzing them.
                "transcript": {**_TEXT, "index_options": "offsets"},
                "owner_id": {"type": "long"},
                "owner_name": {"type": "keyword"},
                "status": {"type": "keyword"},
                "language": {"type": "keyword"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "duration_seconds": {"type": "float"},
                "segments": {
                    "type": "nested",
                    "properties": {"start": {"type": "float"}, "end": {"type": "float"}, "text": _TEXT},
                },
            },
        },
    }


def document_source(document: SearchDocument) -> dict[str, Any]:
    return {
        "video_id": document.video_id,
        "title": document.title,
        "description": document.description,
        "summary": document.summary,
        "transcript": document.transcript,
        "owner_id": document.owner_id,
        "owner_name": document.owner_name,
        "status": document.status,
        "language": document.language,
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "duration_seconds": document.duration_seconds,
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in document.segments],
    }


def document_from_source(source: dict[str, Any]) -> SearchDocument:
    return SearchDocument(
        video_id=source["video_id"],
        title=source["title"],
        description=source["description"],
        owner_id=source["owner_id"],
        owner_name=source["owner_name"],
        transcript=source["transcript"],
        summary=source["summary"],
        status=source["status"],
        language=source["language"],
        created_at=datetime.fromisoformat(source["created_at"]),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        duration_seconds=source["duration_seconds"],
        segments=tuple(TimedSegment(s["start"], s["end"], s["text"]) for s in source["segments"]),
    )


def search_body(plan: SearchPlan) -> dict[str, Any]:
    """The _search request for one page: `limit + 1` hits, the extra one only says whether more exist.

    After a cursor, `search_after` carries the cursor's score widened to the top
    of its float32 rounding interval, and the page asks for `ties` more hits.
    OpenSearch reads the widened value back as the very same float32 score, so
    nothing changes there. A server that ranks by more precise scores than it
    reports (osmem) would otherwise skip or repeat tied hits forever; widened, it
    returns the tied hits already seen (`ties` of them) again, and `search`
    drops them.
    """
    words = " ".join(plan.terms)
    filters: list[dict[str, Any]] = []
    if plan.status is not None:
        filters.append({"term": {"status": plan.status}})
    if plan.owner_id is not None:
        filters.append({"term": {"owner_id": plan.owner_id}})
    if plan.language is not None:
        filters.append({"term": {"language": plan.language}})
    bounds = {op: _iso(value) for op, value in (("gte", plan.created_from), ("lte", plan.created_to)) if value}
    if bounds:
        filters.append({"range": {"created_at": bounds}})
    body: dict[str, Any] = {
        "size": plan.limit + 1 + (plan.after.ties if plan.after else 0),
        "track_total_hits": TOTAL_CAP,  # counted exactly up to here, "gte" beyond
        "_source": ["title", "status", "created_at"],
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": words,
                            "type": "cross_fields",
                            "operator": "and",
                            "fields": [f"{field}^{weight:g}" for field, weight in FIELD_WEIGHTS.items()],
                        }
                    }
                ],
                "filter": filters,
                # Scores nothing (score_mode none); there only to collect the segments that
                # say any of the words, in time order, as inner hits.
                "should": [
                    {
                        "nested": {
                            "path": "segments",
                            "score_mode": "none",
                            "query": {"match": {"segments.text": {"query": words, "operator": "or"}}},
                            "inner_hits": {
                                "name": "segments",
                                "size": MAX_SEGMENT_MATCHES,
                                "sort": [{"segments.start": "asc"}],
                            },
                        }
                    }
                ],
            },
        },
        # video_id breaks score ties so search_after pages are deterministic.
        "sort": [{"_score": "desc"}, {"video_id": "asc"}],
        "highlight": {
            "pre_tags": [MARK_START],
            "post_tags": [MARK_END],
            "fields": {
                field: {"fragment_size": _FRAGMENT_CHARS, "number_of_fragments": 1, "no_match_size": _FRAGMENT_CHARS}
                for field in SNIPPET_FIELDS
            },
        },
    }
    if plan.after is not None:
        body["search_after"] = [_float32_upper_edge(plan.after.score), plan.after.video_id]
    return body


class OpenSearchIndex:
    backend_name: ClassVar[str] = "opensearch"

    def __init__(self, client_or_url: OpenSearch | str, index_name: str, *, refresh: Refresh = False) -> None:
        """`refresh` is passed to every write: "wait_for" makes a write visible to the next search (tests)."""
        self.client = OpenSearch(hosts=[client_or_url]) if isinstance(client_or_url, str) else client_or_url
        self.index_name = index_name
        self.refresh_policy = refresh

    def ensure(self) -> None:
        if self.client.indices.exists(index=self.index_name):
            return
        try:
            self.client.indices.create(index=self.index_name, body=index_body())
        except RequestError as exc:  # created meanwhile by another process: that is fine
            if exc.error != "resource_already_exists_exception":
                raise

    def ping(self) -> None:
        if not self.client.ping():
            raise SearchIndexUnavailable(f"OpenSearch unreachable for index {self.index_name!r}")

    def upsert(self, document: SearchDocument) -> None:
        self.client.index(
            index=self.index_name, id=str(document.video_id), body=document_source(document), refresh=self.refresh_policy
        )

    def bulk_upsert(self, documents: Iterable[SearchDocument]) -> int:
        """Index many documents in bulk requests; returns how many were indexed (errors raise)."""
        actions = (
            {"_op_type": "index", "_index": self.index_name, "_id": str(d.video_id), "_source": document_source(d)}
            for d in documents
        )
        indexed, _errors = helpers.bulk(self.client, actions, refresh=self.refresh_policy)
        return indexed

    def delete(self, video_id: int) -> None:
        with contextlib.suppress(NotFoundError):
            self.client.delete(index=self.index_name, id=str(video_id), refresh=self.refresh_policy)

    def get(self, video_id: int) -> SearchDocument | None:
        try:
            response = self.client.get(index=self.index_name, id=str(video_id))
        except NotFoundError:
            return None
        return document_from_source(response["_source"])

    def refresh(self) -> None:
        """Make every write so far visible to search."""
        self.client.indices.refresh(index=self.index_name)

    def search(self, query: SearchQuery) -> SearchPage:
        plan = plan_search(query)
        if not plan.terms:
            return SearchPage(hits=[], total=0)
        response = self.client.search(index=self.index_name, body=search_body(plan))
        found = [hit for hit in response["hits"]["hits"] if plan.after is None or _ranks_after(hit["sort"], plan.after)]
        page, next_cursor = plan.page_of([CursorPosition(hit["sort"][0], hit["sort"][1]) for hit in found])
        hits = []
        for hit in found[: len(page)]:
            source, highlight = hit["_source"], hit.get("highlight", {})
            segments = hit.get("inner_hits", {}).get("segments", {}).get("hits", {}).get("hits", [])
            video_id = int(hit["_id"])
            matches = group_segment_matches(
                (video_id, s["_source"]["start"], s["_source"]["end"], s["_source"]["text"]) for s in segments
            )
            hits.append(
                SearchHit(
                    video_id=video_id,
                    title=source["title"],
                    score=hit["_score"],
                    status=source["status"],
                    created_at=datetime.fromisoformat(source["created_at"]),
                    snippet=best_snippet((highlight.get(field) or [None])[0] for field in SNIPPET_FIELDS),
                    matches=matches.get(video_id, ()),
                )
            )
        total = response["hits"]["total"]
        exact = total.get("relation", "eq") == "eq" and total["value"] <= TOTAL_CAP
        return SearchPage(hits=hits, total=min(total["value"], TOTAL_CAP), next_cursor=next_cursor, total_exact=exact)


def _ranks_after(sort: list[Any], position: CursorPosition) -> bool:
    score, video_id = sort
    return score < position.score or (score == position.score and video_id > position.video_id)


def _float32_upper_edge(score: float) -> float:
    """The largest double that still rounds to `score` as a float32 (scores are float32 in Lucene)."""
    if not score > 0:
        return score
    (bits,) = struct.unpack("<I", struct.pack("<f", score))
    (exact,) = struct.unpack("<f", struct.pack("<I", bits))
    (above,) = struct.unpack("<f", struct.pack("<I", bits + 1))
    return math.nextafter((exact + above) / 2, 0.0)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the search index")
    return value.isoformat()
