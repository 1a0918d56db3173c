"""Transcript file formats: WebVTT captions, JSON, word counts."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.text import TimedSegment, word_count
from pipeline.transcription import TranscriptResult, to_webvtt, transcript_to_json

SEGMENTS = (
    TimedSegment(0.0, 2.5, "The volcano woke up."),
    TimedSegment(2.5, 61.25, "Lava & ash <everywhere> --> run!"),
    TimedSegment(3599.9995, 3725.042, "An hour in."),
)

CUE_TIMING = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}$")


def test_webvtt_structure() -> None:
    vtt = to_webvtt(SEGMENTS)
    assert vtt.startswith("WEBVTT\n\n")
    blocks = vtt[len("WEBVTT\n\n") :].strip("\n").split("\n\n")
    assert len(blocks) == 3
    for number, block in enumerate(blocks, start=1):
        identifier, timing, _text = block.split("\n")
        assert identifier == str(number)
        assert CUE_TIMING.match(timing), timing


def test_webvtt_timestamps_and_escaping() -> None:
    vtt = to_webvtt(SEGMENTS)
    assert "00:00:00.000 --> 00:00:02.500\nThe volcano woke up." in vtt
    assert "00:00:02.500 --> 00:01:01.250\nLava &amp; ash &lt;everywhere&gt; --&gt; run!" in vtt
    assert "01:00:00.000 --> 01:02:05.042\nAn hour in." in vtt  # 3599.9995 rounds up to the hour


def test_webvtt_of_nothing_is_still_valid() -> None:
    assert to_webvtt(()) == "WEBVTT\n\n"


def test_json_round_trip() -> None:
    result = TranscriptResult("en", 0.98, 3725.1, 3725.042, SEGMENTS)
    data = json.loads(json.dumps(transcript_to_json(result)))
    assert data["text"] == "The volcano woke up. Lava & ash <everywhere> --> run! An hour in."
    assert data["word_count"] == 11
    assert data["segments"][1] == {"start": 2.5, "end": 61.25, "text": "Lava & ash <everywhere> --> run!", "words": []}


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("   ", 0), ("Hot lava flowed.", 3), ("Don't panic — it's 100 years old!", 6), ("a-b  c\nd", 4)],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count
