"""Segments stored as numbers next to the transcript, and finding the ones a query's words are in."""

from __future__ import annotations

import pytest

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.segments import (
    decode_segments,
    encode_segments,
    mark_offsets,
    sliced_segments_at,
    snippet_from_highlight,
)
from pipeline.text import TimedSegment

SEGMENTS = (
    TimedSegment(0.0, 2.5, "Hello there."),
    TimedSegment(2.61, 5.0, "The river flows."),
    TimedSegment(60.123, 100.5, "Ünïcode wörds, too."),
)
TRANSCRIPT = " ".join(s.text for s in SEGMENTS)


def test_segments_of_a_joined_transcript_are_stored_as_numbers_and_come_back_exactly() -> None:
    blob = encode_segments(TRANSCRIPT, SEGMENTS)
    assert blob is not None and len(blob) == 1 + 2 * 3 * len(SEGMENTS) and "river" not in blob.decode("latin-1")
    stored = decode_segments(TRANSCRIPT, blob)
    assert stored.sliced and stored.segments == SEGMENTS
    assert [TRANSCRIPT[o : o + len(s.text)] for o, s in zip(stored.offsets, SEGMENTS, strict=True)] == [s.text for s in SEGMENTS]


@pytest.mark.parametrize(
    ("transcript", "segments"),
    [
        ("something else entirely", SEGMENTS),  # transcript is not the joined segments
        (TRANSCRIPT, (TimedSegment(0.0001, 2.5, "Hello there."), *SEGMENTS[1:])),  # not whole milliseconds
        (TRANSCRIPT, (TimedSegment(3.0, 2.5, "Hello there."), *SEGMENTS[1:])),  # ends before it starts
        (TRANSCRIPT, (SEGMENTS[1], SEGMENTS[0], SEGMENTS[2])),  # out of order
    ],
)
def test_other_segments_keep_their_text(transcript: str, segments: tuple[TimedSegment, ...]) -> None:
    stored = decode_segments(transcript, encode_segments(transcript, segments))
    assert not stored.sliced and stored.segments == segments


def test_long_gaps_and_no_segments() -> None:
    long = (TimedSegment(0.0, 1.0, "a"), TimedSegment(3600.0, 3601.5, "b"))
    assert decode_segments("a b", encode_segments("a b", long)).segments == long
    assert encode_segments("", ()) is None and decode_segments("", None).segments == ()


def test_marks_map_to_the_segments_that_hold_them() -> None:
    marked = TRANSCRIPT.replace("river", f"{MARK_START}river{MARK_END}").replace("wörds", f"{MARK_START}wörds{MARK_END}")
    offsets = mark_offsets(marked)
    assert [TRANSCRIPT[o : o + 5] for o in offsets] == ["river", "wörds"]
    blob = encode_segments(TRANSCRIPT, SEGMENTS)
    assert blob is not None and sliced_segments_at(TRANSCRIPT, blob, offsets) == SEGMENTS[1:]
    many = tuple(TimedSegment(float(i), i + 0.5, f"magma {i}") for i in range(8))
    text = " ".join(s.text for s in many)
    blob = encode_segments(text, many)
    assert blob is not None
    marks = mark_offsets(text.replace("magma", f"{MARK_START}magma{MARK_END}"))
    assert [s.start for s in sliced_segments_at(text, blob, marks)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_snippet_prefers_the_passage_with_most_distinct_words() -> None:
    words = [f"w{i}" for i in range(100)]
    words[10] = f"{MARK_START}lava{MARK_END}"
    words[60] = f"{MARK_START}lava{MARK_END}"
    words[64] = f"{MARK_START}sea{MARK_END}"
    snippet = snippet_from_highlight(" ".join(words), 10)
    assert snippet.startswith("…w57 ") and "sea" in snippet and snippet.endswith("…")
    assert snippet_from_highlight("just a few words", 10) == "just a few words"
