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
from itertools import accumulate, islice
from operator import add, sub
from typing import TypeGuard

from pipeline.search.highlight import MARK_END, MARK_START
from pipeline.search.ranking import MAX_SEGMENT_MATCHES
from pipeline.text import TimedSegment

_JSON, _U16, _U32 = b"J", b"H", b"I"
_MARKS = re.compile(f"[{MARK_START}{MARK_END}]")
_STARTS = re.compile(MARK_START)


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
    if blob[:1] == _JSON:
        return StoredSegments(tuple(TimedSegment(start, end, text) for start, end, text in json.loads(blob[1:])))
    layout = _layout(blob)
    return StoredSegments(tuple(_segment(transcript, layout, i) for i in range(len(layout[0]))), layout[2], sliced=True)


_Layout = tuple[list[int], list[int], tuple[int, ...], tuple[int, ...]]  # starts, ends (ms), offsets, lengths


def _layout(blob: bytes) -> _Layout:
    # Sums over slices and map(): a page decodes ~100 segments per hit, so no Python loop per segment.
    size, code = (2, "H") if blob[:1] == _U16 else (4, "I")
    values = struct.unpack(f"<{(len(blob) - 1) // size}{code}", memoryview(blob)[1:])
    durations, lengths = values[1::3], values[2::3]
    ends = list(accumulate(map(add, values[0::3], durations)))
    starts = list(map(sub, ends, durations))
    offsets = tuple(accumulate(map((1).__add__, lengths[:-1]), initial=0))
    return starts, ends, offsets, lengths


def _segment(transcript: str, layout: _Layout, i: int) -> TimedSegment:
    starts, ends, offsets, lengths = layout
    return TimedSegment(starts[i] / 1000, ends[i] / 1000, transcript[offsets[i] : offsets[i] + lengths[i]])


def sliced_segments_at(transcript: str, blob: bytes, offsets: Iterable[int]) -> tuple[TimedSegment, ...]:
    """The segments (of a sliced blob) holding these character offsets, by start, at most MAX_SEGMENT_MATCHES.

    Only the segments returned are built: a page's hits have ~100 segments each.
    """
    layout = _layout(blob)
    hit = sorted({bisect.bisect_right(layout[2], offset) - 1 for offset in offsets} - {-1}, key=lambda i: (layout[0][i], i))
    return tuple(_segment(transcript, layout, i) for i in hit[:MAX_SEGMENT_MATCHES])


def is_sliced(blob: bytes | None) -> TypeGuard[bytes]:
    return blob is not None and blob[:1] not in (b"", _JSON)


def mark_offsets(highlighted: str) -> list[int]:
    """Offsets, in the unmarked text, where MARK_START opened a highlighted word."""
    pieces = highlighted.replace(MARK_END, "").split(MARK_START)
    return list(accumulate(map(len, pieces[:-1])))


def first_matches(segments: Sequence[TimedSegment], positions: Iterable[int]) -> tuple[TimedSegment, ...]:
    chosen = sorted(positions, key=lambda i: (segments[i].start, i))
    return tuple(segments[i] for i in chosen[:MAX_SEGMENT_MATCHES])


def snippet_from_highlight(highlighted: str, words: int, lead: int = 3, candidates: int = 32) -> str:
    """About `words` words of a highlighted text around its best passage, as FTS5's snippet() picks one.

    Windows start `lead` words before each of the first `candidates` marks; the
    one with the most distinct marked words wins (then the most marks, then the
    earliest). "…" stands for text cut at either end. Only the windows are split
    into words, not the whole (long) text.
    """
    marks = [m.start() for m in islice(_STARTS.finditer(highlighted), candidates)]
    if not marks:
        marks = [0]
    best: tuple[int, int, int, list[str]] | None = None
    for mark in marks:
        begin = mark
        for _ in range(lead):
            begin = max(0, highlighted.rfind(" ", 0, max(0, begin - 1)) + 1)
            if begin == 0:
                break
        tokens = highlighted[begin : begin + words * 64].split(None, words)[:words]
        marked = [_MARKS.sub("", t).lower() for t in tokens if MARK_START in t]
        score = (len(set(marked)) * 1000 + len(marked), -begin)
        if best is None or score > best[:2]:
            best = (*score, begin, tokens)
    assert best is not None
    begin, tokens = best[2], best[3]
    rest = highlighted[begin:].split(None, words)
    return ("…" if highlighted[:begin].strip() else "") + " ".join(tokens) + ("…" if len(rest) > words else "")
