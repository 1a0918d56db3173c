"""A real clip with three spoken topics through the pipeline: chapters at the topic changes, and search by
meaning that finds the video, and the right passage, from words never spoken in it."""

from __future__ import annotations

import io
import re

import pytest
import webvtt
from fastapi.testclient import TestClient

from pipeline import keys
from pipeline.chapters import CHAPTER_PROMPT
from pipeline.db.session import session_scope
from pipeline.db.videos import load_chapters
from pipeline.embeddings import embedder_from_settings
from pipeline.search import SearchQuery
from pipeline.search.factory import search_index_from_settings
from pipeline.search.hybrid import HybridSearch
from pipeline.search.terms import STOP_WORDS
from pipeline.search.vectors import SqlVectorIndex
from serving_api.main import create_app

pytestmark = pytest.mark.e2e

API = "/api/v1"
ASSETS = ["source_video", "transcript", "chunk_summaries", "video_summary", "passage_embeddings", "search_document", "chapters"]


@pytest.fixture(scope="module")
def topics_clip(module_harness, topics_video):
    path, changes = topics_video
    vid = module_harness.register(path, title="Sunday notes", description="")
    result = module_harness.run(vid, assets=ASSETS)
    assert result.success
    return vid, changes, result


def test_chapters_start_within_five_seconds_of_each_topic_change(module_harness, topics_clip):
    vid, changes, result = topics_clip
    with session_scope(module_harness.engine) as session:
        chapters = load_chapters(session, vid)
    assert len(chapters) >= 2, chapters
    starts = [c.start for c in chapters[1:]]
    for change in changes:
        assert min(abs(start - change) for start in starts) <= 5.0, (change, chapters)
    assert all(c.title.strip() and c.gist.strip() for c in chapters), chapters
    assert chapters[0].start == 0.0
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["chapters_are_well_formed"] is True

    # The WebVTT chapters track parses (webvtt-py), one cue per chapter with its title and times.
    track = module_harness.store.get_bytes(keys.chapters_vtt_key(vid)).decode()
    cues = webvtt.from_buffer(io.StringIO(track))
    assert [cue.text for cue in cues] == [c.title for c in chapters]
    for cue, chapter in zip(cues, chapters, strict=True):  # webvtt-py gives whole seconds
        assert abs(cue.start_in_seconds - chapter.start) < 1 and abs(cue.end_in_seconds - chapter.end) < 1


def test_the_api_serves_chapters_and_the_track(module_harness, topics_clip):
    vid, _, _ = topics_clip
    with TestClient(create_app(module_harness.settings)) as client:
        body = client.get(f"{API}/videos/{vid}/chapters").json()
        assert len(body["chapters"]) >= 2 and body["chapters"][1]["title"]
        track = client.get(body["vtt_url"])
        assert track.status_code == 200 and track.text.startswith("WEBVTT")
        assert client.get(f"{API}/videos/{vid}/watch").json()["chapters_url"] == body["vtt_url"]

        # Search by meaning, with no word in common with the speech, over HTTP.
        hits = client.get(f"{API}/videos/search", params={"q": "soccer athletes celebrating a victory"}).json()
        assert hits["mode"] == "hybrid" and hits["hits"][0]["video_id"] == vid


@pytest.mark.parametrize(
    ("query", "topic"), [("soccer athletes celebrating a victory", 2), ("molten rock erupting from a peak", 0)]
)
def test_a_paraphrase_finds_the_video_at_the_right_passage(module_harness, topics_clip, query, topic):
    vid, changes, _ = topics_clip
    settings = module_harness.settings
    text_index = search_index_from_settings(settings.search, module_harness.engine)
    embedder = embedder_from_settings(settings.embeddings, settings.openai)
    search = HybridSearch(
        text_index, SqlVectorIndex(module_harness.engine), lambda: embedder, settings.search.semantic_min_similarity
    )
    spoken = " ".join(s.text for s in text_index.get(vid).segments)
    words = lambda text: set(re.findall(r"[a-z0-9]+", text.lower())) - STOP_WORDS  # noqa: E731
    assert len(words(spoken)) > 50 and not words(query) & words(spoken)  # no content word in common
    assert search.search(SearchQuery(text=query), "text").hits == []
    topic_start = [0.0, *changes][topic]
    for mode in ("semantic", "hybrid"):
        hit = search.search(SearchQuery(text=query), mode).hits[0]
        assert hit.video_id == vid
        # The moment is the start of the passage in which the topic is spoken.
        assert hit.moment is not None and hit.moment.start <= topic_start + 1.0 < hit.moment.end, (mode, hit.moment)


def test_chapter_titles_come_from_the_llm_with_the_openai_provider(module_harness, topics_clip, fake_openai):
    vid, _, _ = topics_clip
    settings = module_harness.settings.updated(
        SUMMARIZER_PROVIDER="openai",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=fake_openai.api_key,
        SUMMARIZER_MODEL="fake-model",
    )
    fake_openai.responder = lambda body: "Title: A chapter named by the model\nGist: It says what happens here."
    fake_openai.fail_next(429, 1, {"retry-after-ms": "10"})

    assert module_harness.run(vid, settings=settings, assets=["chapters"]).success

    with session_scope(module_harness.engine) as session:
        chapters = load_chapters(session, vid)
    assert len(chapters) >= 2
    assert {(c.title, c.gist) for c in chapters} == {("A chapter named by the model", "It says what happens here.")}
    calls = [r for r in fake_openai.requests if r.system.startswith(CHAPTER_PROMPT)]
    assert len(calls) == len(chapters) + 1  # one per chapter, plus the retried 429
