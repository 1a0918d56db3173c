"""The OpenSearch request bodies, built by pure functions: asserted without a cluster."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from pipeline.search.base import SearchDocument, SearchQuery
from pipeline.search.cursor import CursorPosition
from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.opensearch import document_from_source, document_source, index_body, search_body
from pipeline.search.plan import plan_search
from pipeline.search.ranking import TOTAL_CAP
from pipeline.text import TimedSegment

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def body_for(**query: object) -> dict:
    return search_body(plan_search(SearchQuery(**{"text": "Volcanoes erupting", **query})))  # type: ignore[arg-type]


def test_mapping_is_explicit_with_english_text_keyword_filters_dates_and_nested_segments() -> None:
    mapping = index_body()["mappings"]
    assert mapping["dynamic"] == "strict"
    fields = mapping["properties"]
    for name in ("title", "description", "summary", "transcript"):
        assert (fields[name]["type"], fields[name]["analyzer"]) == ("text", "english")
    assert {fields[name]["type"] for name in ("status", "language", "owner_name")} == {"keyword"}
    assert {fields[name]["type"] for name in ("video_id", "owner_id")} == {"long"}
    assert {fields[name]["type"] for name in ("created_at", "updated_at")} == {"date"}
    assert fields["duration_seconds"]["type"] == "float"
    segments = fields["segments"]
    assert segments["type"] == "nested"
    assert segments["properties"]["text"]["analyzer"] == "english"
    assert {segments["properties"][name]["type"] for name in ("start", "end")} == {"float"}


def test_full_text_is_an_and_multi_match_across_boosted_fields() -> None:
    must = body_for()["query"]["bool"]["must"]
    assert must == [
        {
            "multi_match": {
                "query": "volcanoes erupting",
                "type": "cross_fields",
                "operator": "and",
                "fields": ["title^10", "summary^4", "description^2", "transcript^1"],
            }
        }
    ]


def test_user_syntax_reaches_opensearch_as_plain_words() -> None:
    must = body_for(text='title:"lava* OR (sea -x')["query"]["bool"]["must"]
    assert must[0]["multi_match"]["query"] == "title lava sea x"


def test_filters_default_to_ready_status_only() -> None:
    assert body_for()["query"]["bool"]["filter"] == [{"term": {"status": "ready"}}]
    assert body_for(status=None)["query"]["bool"]["filter"] == []


def test_owner_and_inclusive_date_range_filters_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    filters = body_for(status="failed", owner_id=7, created_from=T0.astimezone(cet), created_to=T0 + timedelta(days=1))["query"][
        "bool"
    ]["filter"]
    assert filters == [
        {"term": {"status": "failed"}},
        {"term": {"owner_id": 7}},
        {"range": {"created_at": {"gte": "2024-03-01T12:00:00+00:00", "lte": "2024-03-02T12:00:00+00:00"}}},
    ]
    only_from = body_for(created_from=T0)["query"]["bool"]["filter"][-1]
    assert only_from == {"range": {"created_at": {"gte": "2024-03-01T12:00:00+00:00"}}}


def test_segments_come_from_a_scoreless_nested_query_with_sorted_inner_hits() -> None:
    (nested,) = [clause["nested"] for clause in body_for()["query"]["bool"]["should"]]
    assert nested["path"] == "segments"
    assert nested["score_mode"] == "none"
    assert nested["query"] == {"match": {"segments.text": {"query": "volcanoes erupting", "operator": "or"}}}
    assert nested["inner_hits"]["size"] == 5
    assert nested["inner_hits"]["sort"] == [{"segments.start": "asc"}]


def test_highlight_uses_private_marks_so_snippets_can_be_escaped() -> None:
    highlight = body_for()["highlight"]
    assert (highlight["pre_tags"], highlight["post_tags"]) == ([MARK_START], [MARK_END])
    assert "encoder" not in highlight  # escaping happens once, in highlight.render_snippet
    assert set(highlight["fields"]) == {"title", "summary", "description", "transcript"}
    assert all(field["number_of_fragments"] == 1 for field in highlight["fields"].values())


def test_first_page_sorts_deterministically_and_counts_every_match() -> None:
    body = body_for(limit=10)
    assert body["sort"] == [{"_score": "desc"}, {"video_id": "asc"}]
    assert body["size"] == 11
    assert body["track_total_hits"] == TOTAL_CAP
    assert "search_after" not in body


def test_search_after_continues_from_the_cursor_and_over_fetches_ties() -> None:
    plan = replace(
        plan_search(SearchQuery(text="volcano", limit=10)), after=CursorPosition(score=0.39837256, video_id=42, ties=3)
    )
    body = search_body(plan)
    widened, video_id = body["search_after"]
    assert video_id == 42
    assert widened > 0.39837256
    # Read back as a float32 (as OpenSearch does), the widened score is the cursor's score.
    assert struct.unpack("<f", struct.pack("<f", widened)) == struct.unpack("<f", struct.pack("<f", 0.39837256))
    assert body["size"] == 10 + 1 + 3


def test_document_source_round_trips() -> None:
    document = SearchDocument(
        video_id=3,
        title="T",
        description="D",
        owner_id=None,
        owner_name=None,
        transcript="a b",
        summary="S",
        status="ready",
        language=None,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=1),
        duration_seconds=None,
        segments=(TimedSegment(0.0, 1.25, "a"), TimedSegment(1.25, 2.5, "b")),
    )
    source = document_source(document)
    assert source["created_at"] == "2024-03-01T12:00:00+00:00"
    assert source["segments"] == [{"start": 0.0, "end": 1.25, "text": "a"}, {"start": 1.25, "end": 2.5, "text": "b"}]
    assert set(source) == set(index_body()["mappings"]["properties"])
    assert document_from_source(source) == document
