"""Moments to the second: matches moved to the searched word by its time, and a passage's best sentence,
read from the app database (SQLite and PostgreSQL) for the hits of a page."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.db.models import Video, VideoStatus
from pipeline.db.session import session_scope
from pipeline.db.videos import VideoRepository
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.passages import video_passages
from pipeline.search.base import SearchHit, SearchPage
from pipeline.search.moments import WORD_LEAD_SECONDS, MomentFinder, best_sentence, says, word_match
from pipeline.text import TimedSegment, TimedWord
from pipeline.transcription import TranscriptResult


def _words(start: float, text: str, seconds_per_word: float = 0.5) -> tuple[TimedWord, ...]:
    return tuple(
        TimedWord(start + i * seconds_per_word, start + (i + 1) * seconds_per_word, word) for i, word in enumerate(text.split())
    )


def _segment(start: float, text: str, seconds_per_word: float = 0.5) -> TimedSegment:
    words = _words(start, text, seconds_per_word)
    return TimedSegment(start, words[-1].end, text, words)


def test_a_searched_word_in_any_of_its_forms_moves_the_match_to_when_it_is_said():
    segment = _segment(10.0, "Then the old Volcanoes, smoking quietly, woke up.")
    moved = word_match(segment, segment.words, ("volcano",))
    # From just before the word is said, so it is heard from its first sound.
    assert (moved.start, moved.end, moved.text) == (11.5 - WORD_LEAD_SECONDS, segment.end, "Volcanoes, smoking quietly, woke up.")
    assert word_match(segment, segment.words, ("smoke", "woke")).start == 12.0 - WORD_LEAD_SECONDS  # the first said
    assert word_match(segment, segment.words, ("lava",)) == segment  # not said: the segment as it was
    assert word_match(segment, (), ("volcano",)) == segment  # no word times: the segment as it was
    assert says("running", ["run"]) and says("studies", ["study"]) and says("earthquake's", ["earthquakes"])
    assert not says("artist", ["art"]) and not says("nearby", ["near"])


def test_the_best_sentence_is_the_one_closest_in_meaning():
    embedder = WordLlamaEmbedder()
    sentences = [
        TimedSegment(0, 3, "Welcome back to the channel."),
        TimedSegment(3, 7, "The humpback whales swim south each winter."),
        TimedSegment(7, 9, "Preheat the oven before anything else."),
    ]
    query = embedder.embed(["marine mammals migrating"])[0]
    assert best_sentence(query, sentences, embedder.embed) == sentences[1]
    assert best_sentence(query, [], embedder.embed) is None


def _transcribed_video(engine, segments: list[TimedSegment]) -> VideoRepository:
    with session_scope(engine) as session:
        video = Video(title="Field notes", description="", status=VideoStatus.READY.value, duration_seconds=60.0)
        session.add(video)
        session.flush()
        video_id = video.id
    repository = VideoRepository(engine, video_id)
    repository.save_transcript(TranscriptResult("en", 1.0, 60.0, 60.0, tuple(segments)), {}, "t.json", "t.vtt")
    return repository


def _hit(video_id: int, matches: tuple[TimedSegment, ...] = (), moment: TimedSegment | None = None) -> SearchHit:
    return SearchHit(
        video_id=video_id,
        title="Field notes",
        score=1.0,
        snippet="",
        status="ready",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        matches=matches,
        moment=moment,
    )


def test_a_page_of_hits_gets_word_moments_and_best_sentences_from_the_database(migrated_engine):
    segments = [
        _segment(0.0, "Welcome back to the channel."),
        _segment(4.13, "The humpback whales swim thousands of kilometres south."),
        _segment(9.07, "Their songs carry across the open ocean."),
        _segment(14.0, "Now a word about our sponsor today."),
    ]
    repository = _transcribed_video(migrated_engine, segments)
    # A transcript without word times (made before they were kept) in the same page.
    older = _transcribed_video(migrated_engine, [TimedSegment(0.0, 6.0, "The whales of the north sing.")])
    # Reading back gives the words as transcribed.
    assert repository.segments() == segments and older.segments()[0].words == ()

    embedder = WordLlamaEmbedder()
    passages = video_passages("Field notes", "", repository.segments())
    repository.save_passages(embedder.model_id, passages, embedder.embed([p.text for p in passages]))
    (passage,) = [p for p in passages if p.start is not None]
    finder = MomentFinder(migrated_engine)

    # Found by its words: the matches as a text index returns them (whole segments, no words), their times
    # as an engine keeping float32 gives them back.
    as_indexed = tuple(TimedSegment(float(np.float32(s.start)), s.end, s.text) for s in segments[1:3])
    older_match = TimedSegment(0.0, 6.0, "The whales of the north sing.")
    page = finder.place(
        SearchPage([_hit(repository.video_id, as_indexed), _hit(older.video_id, (older_match,))], total=2), "whales songs"
    )
    first, second = page.hits
    assert [(m.start + WORD_LEAD_SECONDS, m.text) for m in first.matches] == [
        (pytest.approx(5.13), "whales swim thousands of kilometres south."),
        (pytest.approx(9.57), "songs carry across the open ocean."),
    ]
    assert first.moment == first.matches[0]
    assert second.matches == (older_match,) and second.moment == older_match  # no word times: its segment
    # Several words: the moment is the first match saying the most of them, not merely the first match.
    one, both, again = (
        TimedSegment(20.0, 24.0, "The whales dived."),
        TimedSegment(30.0, 34.0, "The whales sang their songs."),
        TimedSegment(40.0, 44.0, "Songs of whales."),
    )
    page = finder.place(SearchPage([_hit(older.video_id, (one, both, again))], total=1), "whales songs")
    assert page.hits[0].moment == both

    # Found by meaning: the passage's sentence closest to the query, with its stored times.
    passage_moment = TimedSegment(float(np.float32(passage.start)), passage.end, passage.text)
    page = finder.place(SearchPage([_hit(repository.video_id, moment=passage_moment)], total=1), "marine mammals migrating")
    moment = page.hits[0].moment
    assert moment is not None and (moment.start, moment.text) == (4.13, segments[1].text)

    # A passage stored without its sentences (or not stored here): sentences placed by position in its text.
    unknown = TimedSegment(100.0, 110.0, "Welcome back. The whales swim south in winter.")
    moment = finder.place(SearchPage([_hit(older.video_id, moment=unknown)], total=1), "marine mammals").hits[0].moment
    assert moment is not None and moment.text == "The whales swim south in winter."
    assert moment.start == pytest.approx(100.0 + 10.0 * 14 / 46, abs=0.01) and moment.end == 110.0


def test_title_and_summary_moments_and_pages_without_terms_stay_as_they_are(sqlite_engine):
    finder = MomentFinder(sqlite_engine, sentence_embedder=lambda: pytest.fail("nothing to embed"))
    title = TimedSegment(0.0, 0.0, "Field notes")
    page = SearchPage([_hit(1, moment=title)], total=1)
    assert finder.place(page, "notes") == page
    assert finder.place(page, "the and of") is page  # only stop words: nothing was searched for
