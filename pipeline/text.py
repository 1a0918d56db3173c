"""Timed text: the segment and chapter types and the word rule that transcription, summarization, chapters
and search share."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TimedSegment:
    """A stretch of speech: seconds from the start of the video, and what was said."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Chapter:
    """A titled stretch of the video: seconds from the start, a short title and a one-sentence gist."""

    start: float
    end: float
    title: str
    gist: str


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def word_count(text: str) -> int:
    """Words, not whitespace runs: "don't" is one word and a lone dash none."""
    return len(_WORD.findall(text))
