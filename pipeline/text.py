"""Timed text: the segment type and the word rule that transcription, summarization and search share."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TimedSegment:
    """A stretch of speech: seconds from the start of the video, and what was said."""

    start: float
    end: float
    text: str


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def word_count(text: str) -> int:
    """Words, not whitespace runs: "don't" is one word and a lone dash none."""
    return len(_WORD.findall(text))
