"""The OpenSearch request bodies, built by pure functions: asserted without a cluster."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from pipeline.search.analyses import field_name
from pipeline.search.base import SearchDocument, SearchQuery
from pipeline.search.cursor import CursorPosition
from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.opensearch import ANALYSES, document_from_source, document_source, index_body, search_body
from pipeline.search.plan import plan_search
from pipeline.search.ranking import TOTAL_CAP
from pipeline.text import TimedSegment

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def body_for(**query: object) -> dict:
    return search_body(plan_search(SearchQuery(**{"text": "Volcanoes erupting", **query})))  # type: ignore[arg-type]


def test_mapping_is_explicit_with_text_per_language_keyword_filters_dates_and_nested_segments() -> None:
    body = index_body()
    mapping = body["mappings"]
    assert mapping["dynamic"] == "strict"
    fields = mapping["properties"]
    declared = body["settings"]["analysis"]["analyzer"]
    for name in ("title", "description", "summary", "transcript"):
        assert (fields[name]["type"], fields[name]["analyzer"]) == ("text", "english")
        assert declared[fields[f"{name}_fr"]["analyzer"]] == {"type": "french"}
        assert declared[fields[f"{name}_el"]["analyzer"]] == {"type": "greek"}
        assert fields[f"{name}_unstemmed"]["analyzer"] == "standard"
        assert f"{name}_ta" not in fields  # OpenSearch has no Tamil analyzer: Tamil is unstemmed
    assert {fields[name]["type"] for name in ("status", "language", "owner_name")} == {"keyword"}
    assert {fields[name]["type"] for name in ("video_id", "owner_id")} == {"long"}
    assert {fields[name]["type"] for name in ("created_at", "updated_at")} == {"date"}
    assert fields["duration_seconds"]["type"] == "float"
    segments = fields["segments"]
    assert segments["type"] == "nested"
    assert segments["properties"]["text"]["analyzer"] == "english"
    assert declared[segments["properties"]["text_de"]["analyzer"]] == {"type": "german"}
    assert {segments["properties"][name]["type"] for name in ("start", "end")} == {"float"}


def _language_clauses(body: dict) -> list[dict]:
    (must,) = body["query"]["bool"]["must"]
    assert must["bool"]["minimum_should_match"] == 1
    return [clause["multi_match"] for clause in must["bool"]["should"]]


def test_full_text_is_an_and_multi_match_across_boosted_fields_of_each_language() -> None:
    clauses = _language_clauses(body_for())
    assert clauses[0] == {
        "query": "volcanoes erupting",
        "type": "cross_fields",
        "operator": "and",
        "fields": ["title^10", "summary^4", "description^2", "transcript^1"],
    }
    assert clauses[-1]["fields"] == [
        "title_unstemmed^10",
        "summary_unstemmed^4",
        "description_unstemmed^2",
        "transcript_unstemmed^1",
    ]
    assert len(clauses) == len(ANALYSES)
    assert all(clause["query"] == "volcanoes erupting" and clause["operator"] == "and" for clause in clauses)


def test_a_language_filter_searches_that_languages_fields_only() -> None:
    body = body_for(language="fr")
    assert {"term": {"language": "fr"}} in body["query"]["bool"]["filter"]
    (clause,) = _language_clauses(body)
    assert clause["fields"] == ["title_fr^10", "summary_fr^4", "description_fr^2", "transcript_fr^1"]
    (nested,) = [clause["nested"] for clause in body["query"]["bool"]["should"]]
    assert nested["query"]["multi_match"]["fields"] == ["segments.text_fr"]
    assert set(body["highlight"]["fields"]) == {"title_fr", "summary_fr", "description_fr", "transcript_fr"}
    assert body["_source"] == ["status", "created_at", "language", "title_fr"]
    # A language without an OpenSearch analyzer is searched through the unstemmed fields.
    (clause,) = _language_clauses(body_for(language="ta"))
    assert clause["fields"][0] == "title_unstemmed^10"


def test_user_syntax_reaches_opensearch_as_plain_words() -> None:
    clauses = _language_clauses(body_for(text='title:"lava* OR (sea -x'))
    assert {clause["query"] for clause in clauses} == {"title lava sea x"}


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
    assert nested["query"] == {
        "multi_match": {
            "query": "volcanoes erupting",
            "operator": "or",
            "fields": [f"segments.{field_name('text', analysis)}" for analysis in ANALYSES],
        }
    }
    assert nested["inner_hits"]["size"] == 5
    assert nested["inner_hits"]["sort"] == [{"segments.start": "asc"}]


def test_highlight_uses_private_marks_so_snippets_can_be_escaped() -> None:
    highlight = body_for()["highlight"]
    assert (highlight["pre_tags"], highlight["post_tags"]) == ([MARK_START], [MARK_END])
    assert "encoder" not in highlight  # escaping happens once, in highlight.render_snippet
    assert {"title", "summary", "description", "transcript", "transcript_es", "title_unstemmed"} <= set(highlight["fields"])
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
    assert set(source) <= set(index_body()["mappings"]["properties"])
    assert document_from_source(source) == document
    # A video in another language is stored in its language's fields (a language without a stemmer: unstemmed).
    for language, analysis in (("fr", "fr"), ("cy", "unstemmed")):
        source = document_source(replace(document, language=language))
        assert (source[f"title_{analysis}"], source[f"transcript_{analysis}"]) == ("T", "a b")
        assert "title" not in source
        assert source["segments"][0] == {"start": 0.0, "end": 1.25, f"text_{analysis}": "a"}
        assert set(source) <= set(index_body()["mappings"]["properties"])
        assert document_from_source(source) == replace(document, language=language)
