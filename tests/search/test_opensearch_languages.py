"""OpenSearch's side of search in each video's language, over HTTP: each video's words go to its language's fields
(analysed by OpenSearch's language analyzers), a query is analysed each language's way, and an index made before languages
is brought up to the new layout. Against OPENSEARCH_URL when it names a cluster, else the OpenSearch-compatible
server the suite starts (osmem: it stems English, French, German, Spanish, Italian, Portuguese and Russian, and
analyses the other languages' declared analyzers as `standard`; see README, "Videos in any language")."""

from __future__ import annotations

import pytest

from pipeline.search import SearchQuery
from pipeline.search.analyses import field_name
from pipeline.search.opensearch import ANALYSES, OpenSearchIndex, index_body
from tests.search.test_contract import ICELAND
from tests.search.test_languages import FRENCH, SPANISH

pytestmark = [pytest.mark.integration]


def _scores(index: OpenSearchIndex, text: str, **filters: object) -> dict[int, float]:
    page = index.search(SearchQuery(text=text, **filters))  # type: ignore[arg-type]
    return {hit.video_id: hit.score for hit in page.hits}


def test_a_videos_words_are_stored_in_its_languages_fields_only(opensearch_search_index: OpenSearchIndex) -> None:
    index = opensearch_search_index
    for document in (ICELAND, FRENCH):
        index.upsert(document)
    stored = index.client.get(index=index.index_name, id=str(FRENCH.video_id))["_source"]
    assert stored["title_fr"] == FRENCH.title
    assert "title" not in stored and "title_es" not in stored
    assert {segment["text_fr"] for segment in stored["segments"]} == {s.text for s in FRENCH.segments}
    assert index.get(FRENCH.video_id) == FRENCH
    assert index.get(ICELAND.video_id) == ICELAND


def test_a_query_is_analysed_each_languages_way(opensearch_search_index: OpenSearchIndex) -> None:
    index = opensearch_search_index
    for document in (ICELAND, FRENCH, SPANISH):
        index.upsert(document)
    # The Spanish video says "gases", which Spanish stems to "gas" and English to "gase".
    assert set(_scores(index, "gas")) == {ICELAND.video_id, SPANISH.video_id}
    assert set(_scores(index, "gas", language="es")) == {SPANISH.video_id}


def test_an_index_made_before_languages_gets_their_analyzers_and_fields(opensearch_search_index: OpenSearchIndex) -> None:
    index = opensearch_search_index
    index.client.indices.delete(index=index.index_name)
    other_languages = {
        field_name(field, analysis)
        for analysis in ANALYSES
        if analysis != "en"
        for field in ("title", "description", "summary", "transcript")
    }
    mappings = index_body()["mappings"]
    english_only = {
        **mappings,
        "properties": {
            **{name: spec for name, spec in mappings["properties"].items() if name not in other_languages},
            "segments": {
                "type": "nested",
                "properties": {
                    "start": {"type": "float"},
                    "end": {"type": "float"},
                    "text": mappings["properties"]["segments"]["properties"]["text"],
                },
            },
        },
    }
    index.client.indices.create(index=index.index_name, body={"mappings": english_only})
    index.upsert(ICELAND)
    index.ensure()
    index.ensure()  # once brought up to date, nothing more to do
    index.upsert(FRENCH)
    assert list(_scores(index, "scientifique", language="fr")) == [FRENCH.video_id]
    assert list(_scores(index, "erupting")) == [ICELAND.video_id]
