"""Timed text: the segment and chapter types and the word rule that transcription, summarization, chapters
and search share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TimedWord:
    """One spoken word (with its punctuation, as the recogniser wrote it) and when it is said."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class TimedSegment:
    """A stretch of speech: seconds from the start of the video, and what was said.

    `words` are its words, in order, with their own times when the recogniser gave them
    (empty for transcripts made without word timestamps).
    """

    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...] = ()


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


def words_to_json(words: Sequence[TimedWord]) -> list[list[Any]] | None:
    """A segment's words as stored (`[[start, end, word], ...]`); None when it has none."""
    return [[w.start, w.end, w.text] for w in words] or None


def words_from_json(stored: Sequence[Sequence[Any]] | None) -> tuple[TimedWord, ...]:
    return tuple(TimedWord(float(start), float(end), str(text)) for start, end, text in stored or ())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference`: (substitutions + deletions + insertions) / the
    reference's words, on lower-cased words without punctuation (a word-level Levenshtein distance)."""
    ref = [w.lower() for w in _WORD.findall(reference)]
    hyp = [w.lower() for w in _WORD.findall(hypothesis)]
    if not ref:
        raise ValueError("the reference has no words")
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / len(ref)
