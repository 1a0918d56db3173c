"""Search in OpenSearch (opensearch-py), for deployments that outgrow the app database.

One document per video (id = video id) with an explicit mapping: text fields,
keyword filters, dates, and the timed transcript segments as a `nested` field so
`inner_hits` can say when a hit's words are spoken.

A video's text goes to the text fields of its language (pipeline/search/analyses.py):
each language with a built-in OpenSearch language analyzer has its own copy of them
(`title_fr`, `segments.text_fr`...; English keeps the plain names), every other
language shares the `standard`-analyzed `*_unstemmed` copy. A query is analysed each
copy's way against that copy only, so each video matches the words as its own
language stems them and is ranked by its own language's term statistics.

The request bodies are built by pure functions (`index_body`, `search_body`,
`document_source`) so their shape is unit-tested without a cluster.
Multi-word queries are AND across fields (`multi_match` `cross_fields` with
`operator: and`): every word must appear, in any field of the video's language.
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

from pipeline import languages
from pipeline.search.analyses import UNSTEMMED, analyses, analysis_of, field_name
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

# The languages with a built-in OpenSearch language analyzer (of the same name); there is none for Tamil.
STEMMED = {code: name for code, name in languages.STEMMED.items() if code != "ta"}
ANALYSES = analyses(STEMMED)
# Each language's analyzer is declared in the index's settings (`{"type": "french"}`): the OpenSearch-compatible test
# server accepts most built-in language analyzers only that way. English keeps the built-in analyzer its fields have
# always had; `standard` (lower-cased words, no stop words) serves the languages without one.
DECLARED_ANALYZERS = {f"videoai_{name}": {"type": name} for code, name in STEMMED.items() if code != "en"}
_ANALYZERS = {
    "en": "english",
    **{code: f"videoai_{name}" for code, name in STEMMED.items() if code != "en"},
    UNSTEMMED: "standard",
}
TEXT_FIELDS = ("title", "description", "summary", "transcript")
# Roughly SNIPPET_WORDS words, as OpenSearch counts fragments in characters.
_FRAGMENT_CHARS = SNIPPET_WORDS * 7


def index_body() -> dict[str, Any]:
    """Settings and explicit mapping for a new index (`dynamic: strict`: no field appears by accident)."""
    text_fields = {}
    for analysis in ANALYSES:
        for field in TEXT_FIELDS:
            text_fields[field_name(field, analysis)] = {"type": "text", "analyzer": _ANALYZERS[analysis]}
        # Offsets let the highlighter find passages in long transcripts without re-analyzing them.
        text_fields[field_name("transcript", analysis)]["index_options"] = "offsets"
    return {
        "settings": {"analysis": {"analyzer": DECLARED_ANALYZERS}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "video_id": {"type": "long"},
                **text_fields,
                "owner_id": {"type": "long"},
                "owner_name": {"type": "keyword"},
                "status": {"type": "keyword"},
                "language": {"type": "keyword"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "duration_seconds": {"type": "float"},
                "segments": {
                    "type": "nested",
                    "properties": {
                        "start": {"type": "float"},
                        "end": {"type": "float"},
                        **{
                            field_name("text", analysis): {"type": "text", "analyzer": _ANALYZERS[analysis]}
                            for analysis in ANALYSES
                        },
                    },
                },
            },
        },
    }


def document_source(document: SearchDocument) -> dict[str, Any]:
    """The document as indexed: its text in the fields of its language's analysis."""
    analysis = analysis_of(document.language, STEMMED)
    return {
        "video_id": document.video_id,
        **{field_name(field, analysis): getattr(document, field) for field in TEXT_FIELDS},
        "owner_id": document.owner_id,
        "owner_name": document.owner_name,
        "status": document.status,
        "language": document.language,
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "duration_seconds": document.duration_seconds,
        "segments": [{"start": s.start, "end": s.end, field_name("text", analysis): s.text} for s in document.segments],
    }


def document_from_source(source: dict[str, Any]) -> SearchDocument:
    analysis = analysis_of(source["language"], STEMMED)
    text = field_name("text", analysis)
    return SearchDocument(
        video_id=source["video_id"],
        **{field: source[field_name(field, analysis)] for field in TEXT_FIELDS},
        owner_id=source["owner_id"],
        owner_name=source["owner_name"],
        status=source["status"],
        language=source["language"],
        created_at=datetime.fromisoformat(source["created_at"]),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        duration_seconds=source["duration_seconds"],
        segments=tuple(TimedSegment(s["start"], s["end"], s[text]) for s in source["segments"]),
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
    searched = (analysis_of(plan.language, STEMMED),) if plan.language is not None else ANALYSES
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
        "_source": ["status", "created_at", "language", *(field_name("title", analysis) for analysis in searched)],
        "query": {
            "bool": {
                # A video has text in one analysis's fields only: the clause of its language alone can match it.
                "must": [
                    {
                        "bool": {
                            "should": [
                                {
                                    "multi_match": {
                                        "query": words,
                                        "type": "cross_fields",
                                        "operator": "and",
                                        "fields": [
                                            f"{field_name(field, analysis)}^{weight:g}" for field, weight in FIELD_WEIGHTS.items()
                                        ],
                                    }
                                }
                                for analysis in searched
                            ],
                            "minimum_should_match": 1,
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
                            "query": {
                                "multi_match": {
                                    "query": words,
                                    "operator": "or",
                                    "fields": [f"segments.{field_name('text', analysis)}" for analysis in searched],
                                }
                            },
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
                field_name(field, analysis): {
                    "fragment_size": _FRAGMENT_CHARS,
                    "number_of_fragments": 1,
                    "no_match_size": _FRAGMENT_CHARS,
                }
                for analysis in searched
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
            self._add_languages()
            return
        try:
            self.client.indices.create(index=self.index_name, body=index_body())
        except RequestError as exc:  # created meanwhile by another process: that is fine
            if exc.error != "resource_already_exists_exception":
                raise

    def _add_languages(self) -> None:
        """An index made before languages gets their analyzers and fields (the fields it has stay as they are); its
        non-English videos move to their language's fields as their search documents are rewritten."""
        body = index_body()
        settings = self.client.indices.get_settings(index=self.index_name)[self.index_name]["settings"]
        declared = settings.get("index", {}).get("analysis", {}).get("analyzer", {})
        if not DECLARED_ANALYZERS.keys() <= declared.keys():
            # Analyzers can only be added to a closed index: it answers nothing for these moments, once.
            self.client.indices.close(index=self.index_name)
            try:
                self.client.indices.put_settings(index=self.index_name, body=body["settings"])
            finally:
                self.client.indices.open(index=self.index_name)
        self.client.indices.put_mapping(index=self.index_name, body=body["mappings"])

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
            analysis = analysis_of(source["language"], STEMMED)
            segments = hit.get("inner_hits", {}).get("segments", {}).get("hits", {}).get("hits", [])
            video_id = int(hit["_id"])
            text = field_name("text", analysis)
            matches = group_segment_matches(
                (video_id, s["_source"]["start"], s["_source"]["end"], s["_source"][text]) for s in segments
            )
            hits.append(
                SearchHit(
                    video_id=video_id,
                    title=source[field_name("title", analysis)],
                    score=hit["_score"],
                    status=source["status"],
                    created_at=datetime.fromisoformat(source["created_at"]),
                    snippet=best_snippet((highlight.get(field_name(field, analysis)) or [None])[0] for field in SNIPPET_FIELDS),
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
