"""Passages: what semantic search embeds for a video.

The timed transcript is cut into passages of about 30-60 s (whole segments, so
each passage starts when its first words are spoken), plus one passage for the
title and one for the summary. A search hit's moment is its best passage's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.text import TimedSegment

MIN_PASSAGE_SECONDS = 30.0
MAX_PASSAGE_SECONDS = 60.0

TITLE, SUMMARY, TRANSCRIPT = "title", "summary", "transcript"


@dataclass(frozen=True)
class Passage:
    kind: str  # TITLE | SUMMARY | TRANSCRIPT
    start: float | None  # seconds; None for the title and summary
    end: float | None
    text: str


def split_transcript(segments: Sequence[TimedSegment], min_seconds: float = MIN_PASSAGE_SECONDS,
                     max_seconds: float = MAX_PASSAGE_SECONDS) -> list[Passage]:
    """Consecutive segments grouped into passages of `min_seconds`-`max_seconds`.

    A passage closes once it spans `min_seconds`, or earlier when the next segment
    would take it past `max_seconds`. A last passage shorter than half the minimum
    joins the one before it (when that stays within the maximum), so no passage is
    a stray sentence.
    """
    groups: list[list[TimedSegment]] = []
    current: list[TimedSegment] = []
    for segment in segments:
        if not segment.text.strip():
            continue
        if current and segment.end - current[0].start > max_seconds:
            groups.append(current)
            current = []
        current.append(segment)
        if current[-1].end - current[0].start >= min_seconds:
            groups.append(current)
            current = []
    if current:
        short = current[-1].end - current[0].start < min_seconds / 2
        if groups and short and current[-1].end - groups[-1][0].start <= max_seconds:
            groups[-1] = groups[-1] + current
        else:
            groups.append(current)
    return [Passage(TRANSCRIPT, group[0].start, group[-1].end, " ".join(s.text.strip() for s in group))
            for group in groups]


def video_passages(title: str, summary: str, segments: Sequence[TimedSegment]) -> list[Passage]:
    """The title, the summary and the transcript's passages (empty texts left out)."""
    passages = [Passage(TITLE, None, None, title.strip()), Passage(SUMMARY, None, None, summary.strip())]
    return [p for p in passages if p.text] + split_transcript(segments)
