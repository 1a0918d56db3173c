"""Chapter boundaries, titles, checks and the WebVTT track, without Dagster (real WordLlama)."""

from __future__ import annotations

import io

import pytest
import webvtt

from pipeline.chapters import (
    Chapter,
    ExtractiveChapterWriter,
    chapter_problems,
    make_chapters,
    to_webvtt_chapters,
)
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.samples import TOPIC_SCRIPTS
from pipeline.summarization import split_sentences
from pipeline.text import TimedSegment


@pytest.fixture(scope="module")
def embed():
    return WordLlamaEmbedder().embed


def _timed(sentences: list[str], start: float = 0.0, seconds: float = 3.5) -> list[TimedSegment]:
    return [TimedSegment(start + i * seconds, start + (i + 1) * seconds, s) for i, s in enumerate(sentences)]


def test_boundaries_fall_where_the_topic_changes(embed):
    sentences = [s for script in TOPIC_SCRIPTS for s in split_sentences(script)]
    segments = _timed(sentences)
    changes = [
        len(split_sentences(TOPIC_SCRIPTS[0])) * 3.5,
        (len(split_sentences(TOPIC_SCRIPTS[0])) + len(split_sentences(TOPIC_SCRIPTS[1]))) * 3.5,
    ]
    chapters = make_chapters(segments, embed, ExtractiveChapterWriter(embed), min_seconds=15)
    assert [c.start for c in chapters[1:]] == changes
    assert "volcano" in chapters[0].title.lower() and "football" in chapters[2].title.lower()
    assert chapter_problems(chapters, segments, 15) == []


def test_silence_gives_no_chapter_and_short_speech_one(embed):
    writer = ExtractiveChapterWriter(embed)
    assert make_chapters([], embed, writer) == []
    assert make_chapters([TimedSegment(0, 1, "  ")], embed, writer) == []
    short = _timed(["The volcano erupted.", "Bread needs yeast.", "The striker scored."])  # 10.5 s
    (only,) = make_chapters(short, embed, writer, min_seconds=15, duration=12.0)
    assert (only.start, only.end) == (0.0, 12.0) and only.title
    assert chapter_problems([only], short, 15) == []


def test_chapter_problems_name_what_is_wrong():
    segments = _timed(["one.", "two.", "three.", "four.", "five.", "six."])  # 0-21 s
    good = [Chapter(0, 10, "A", "a."), Chapter(10, 21, "B", "b.")]
    assert chapter_problems(good, segments, 5) == []
    assert "overlaps" in " ".join(chapter_problems([Chapter(0, 12, "A", ""), Chapter(10, 21, "B", "")], segments, 5))
    assert "under 15s" in " ".join(chapter_problems(good, segments, 15))
    assert "cover" in " ".join(chapter_problems([Chapter(0, 10, "A", ""), Chapter(10, 15, "B", "")], segments, 5))
    assert "no title" in " ".join(chapter_problems([Chapter(0, 21, " ", "")], segments, 5))
    assert chapter_problems([], segments, 5) == ["speech without chapters"]
    assert chapter_problems([], [], 5) == []


def test_webvtt_chapters_track_parses_with_one_cue_per_chapter():
    chapters = [Chapter(0, 61.5, "Intro --> start", "x"), Chapter(61.5, 3725.25, "Two\nlines", "y")]
    track = to_webvtt_chapters(chapters)
    cues = webvtt.from_buffer(io.StringIO(track))
    assert [(c.start, c.end, c.text) for c in cues] == [
        ("00:00:00.000", "00:01:01.500", "Intro → start"),
        ("00:01:01.500", "01:02:05.250", "Two lines"),
    ]
    assert to_webvtt_chapters([]) == "WEBVTT\n\n"
