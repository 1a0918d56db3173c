"""Timed segments stored without their text, and finding the ones that say a query's words.

A transcript is its segments' texts joined by single spaces (the transcript
asset builds it so). The index then keeps each segment as three small
integers, not a second copy of its text: milliseconds since the previous
segment ended, duration in milliseconds and length in characters, delta-coded
little-endian uint16 (uint32 when a value does not fit), about 6 bytes per
segment. A document whose transcript is not its joined segments, or whose times
are not whole milliseconds, keeps its segments as JSON with their text.

Which segments say the words is found only for the hits on a page: the engine
marks the words in the transcript (FTS5 `highlight`), `mark_offsets` turns the
marks into character offsets, and `segments_at` maps them to segments.
"""

from __future__ import annotations

import bisect
import json
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.ranking import MAX_SEGMENT_MATCHES
from pipeline.text import TimedSegment

_JSON, _U16, _U32 = b"J", b"H", b"I"
_MARKS = re.compile(f"[{MARK_START}{MARK_END}]")


@dataclass(frozen=True)
class StoredSegments:
    """A document's segments as stored: each segment's text is `transcript[offsets[i]:ends[i]]` when `sliced`."""

    segments: tuple[TimedSegment, ...]
    offsets: tuple[int, ...] = ()  # character offsets in the transcript (sliced only)
    sliced: bool = False


def encode_segments(transcript: str, segments: Sequence[TimedSegment]) -> bytes | None:
    if not segments:
        return None
    values: list[int] = []
    previous_end = 0
    exact = True
    for segment in segments:
        start, end = round(segment.start * 1000), round(segment.end * 1000)
        if start / 1000 != segment.start or end / 1000 != segment.end or start < previous_end or end < start:
            exact = False
            break
        values += [start - previous_end, end - start, len(segment.text)]
        previous_end = end
    if not exact or " ".join(segment.text for segment in segments) != transcript:
        return _JSON + json.dumps([[s.start, s.end, s.text] for s in segments], ensure_ascii=False).encode()
    kind, code = (_U16, "H") if max(values) < 1 << 16 else (_U32, "I")
    return kind + struct.pack(f"<{len(values)}{code}", *values)


def decode_segments(transcript: str, blob: bytes | None) -> StoredSegments:
    if not blob:
        return StoredSegments(())
    kind, body = blob[:1], blob[1:]
    if kind == _JSON:
        return StoredSegments(tuple(TimedSegment(start, end, text) for start, end, text in json.loads(body)))
    size = 2 if kind == _U16 else 4
    values = struct.unpack(f"<{len(body) // size}{'H' if kind == _U16 else 'I'}", body)
    segments: list[TimedSegment] = []
    offsets: list[int] = []
    clock = offset = 0
    for i in range(0, len(values), 3):
        gap, duration, length = values[i:i + 3]
        start = clock + gap
        clock = start + duration
        segments.append(TimedSegment(start / 1000, clock / 1000, transcript[offset:offset + length]))
        offsets.append(offset)
        offset += length + 1
    return StoredSegments(tuple(segments), tuple(offsets), sliced=True)


def mark_offsets(highlighted: str) -> list[int]:
    """Offsets, in the unmarked text, where MARK_START opened a highlighted word."""
    offsets = []
    for count, mark in enumerate(_MARKS.finditer(highlighted)):
        if mark.group() == MARK_START:
            offsets.append(mark.start() - count)
    return offsets


def segments_at(stored: StoredSegments, offsets: Iterable[int]) -> tuple[TimedSegment, ...]:
    """The (sliced) segments holding these character offsets, by start time, at most MAX_SEGMENT_MATCHES."""
    hit = sorted({bisect.bisect_right(stored.offsets, offset) - 1 for offset in offsets} - {-1})
    return first_matches(stored.segments, hit)


def first_matches(segments: Sequence[TimedSegment], positions: Iterable[int]) -> tuple[TimedSegment, ...]:
    chosen = sorted(positions, key=lambda i: (segments[i].start, i))
    return tuple(segments[i] for i in chosen[:MAX_SEGMENT_MATCHES])


def snippet_from_highlight(highlighted: str, words: int) -> str:
    """About `words` words of a highlighted text around its best passage, as FTS5's snippet() picks one.

    The passage with the most distinct marked words wins (then the most marks,
    then the earliest); "…" stands for text cut at either end.
    """
    tokens = highlighted.split()
    marked = [i for i, token in enumerate(tokens) if MARK_START in token]
    if not marked:
        return " ".join(tokens[:words]) + ("…" if len(tokens) > words else "")
    best: tuple[int, int, int] | None = None
    for index in marked:
        start = max(0, min(index - 3, len(tokens) - words))
        window = [tokens[i] for i in marked if start <= i < start + words]
        score = (len({_MARKS.sub("", token).lower() for token in window}) * 1000 + len(window), -start)
        if best is None or score > best[:2]:
            best = (*score, start)
    assert best is not None
    start = best[2]
    text = " ".join(tokens[start:start + words])
    return ("…" if start > 0 else "") + text + ("…" if start + words < len(tokens) else "")
