"""Timed sentences: a transcript's sentences and when each is spoken.

Passages are cut along them, and a hit found by meaning opens at the best of
its passage's sentences. A sentence's times come from its words' when the
transcript has word timestamps; otherwise each segment's time is shared out
over its words by their position in its text (speech runs at a fairly even
rate within a segment). Sentences end where the summarizer's splitter says
(`split_sentences`), and a sentence never runs longer than
`MAX_SENTENCE_SECONDS`, so an unpunctuated transcript still gets short units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from pipeline.summarization.text import split_sentences
from pipeline.text import TimedSegment

MAX_SENTENCE_SECONDS = 15.0
# What `str.split()` splits into: runs of anything but whitespace.
_WORD = re.compile(r"\S+")


def _timed_words(segments: Sequence[TimedSegment]) -> tuple[list[float], list[float], list[str]]:
    """Every word of the transcript in order, each one whitespace-free, with when it is spoken: their
    starts, ends and texts. A word's times are its own, or else shares of its segment's span by its
    position in the segment's text (to the millisecond)."""
    # Shared-out times are computed for the whole transcript at once: a segment's word starts, then its end.
    shares: list[float] = []
    for segment in segments:
        if not segment.words:
            start, span, length = segment.start, segment.end - segment.start, max(len(segment.text), 1)
            shares += [start + span * offset / length for offset in _word_offsets(segment.text)]
            shares.append(segment.end)
    rounded = to_milliseconds(np.array(shares))
    starts: list[float] = []
    ends: list[float] = []
    texts: list[str] = []
    position = 0
    for segment in segments:
        if segment.words:
            for word in segment.words:
                # A recogniser's word may hold a space ("Mr. Smith"); sentence splitting counts tokens.
                tokens = word.text.split()
                starts += [word.start] * len(tokens)
                ends += [word.end] * len(tokens)
                texts += tokens
            continue
        tokens = segment.text.split()
        starts += rounded[position : position + len(tokens)]
        ends += rounded[position + 1 : position + len(tokens) + 1]
        texts += tokens
        position += len(tokens) + 1
    return starts, ends, texts


def _word_offsets(text: str) -> Iterable[int]:
    """Where each of `text.split()`'s words begins in `text`."""
    words = text.split(" ")
    if words != text.split():  # other spacing than single spaces between words
        return (word.start() for word in _WORD.finditer(text))
    return accumulate(map((1).__add__, map(len, words[:-1])), initial=0)  # each word and its space


def to_milliseconds(seconds: np.ndarray) -> list[float]:
    """`round(s, 3)` of each value, as Python rounds it (the exact value's nearest thousandth, ties to even),
    without a call per value: n / 1000 is the float nearest to n thousandths, which is what `round` gives.
    Values whose thousandths lie too near a half for the float product to tell are rounded one by one."""
    thousandths = seconds * 1000.0
    nearest = np.rint(thousandths)
    doubtful = np.abs(np.abs(thousandths - nearest) - 0.5) <= 1e-9 * np.maximum(1.0, np.abs(thousandths))
    rounded = (nearest / 1000.0).tolist()
    for i in np.flatnonzero(doubtful).tolist():
        rounded[i] = round(float(seconds[i]), 3)
    return rounded


def _spans(texts: list[str]) -> Iterator[tuple[int, int]]:
    """The words grouped by sentence, as (first, after last) indexes (the splitter's sentences are runs of whole tokens)."""
    position = 0
    for sentence in split_sentences(" ".join(texts)):
        count = len(sentence.split())
        yield position, position + count
        position += count
    if position < len(texts):  # only if the splitter ever dropped a token: keep every word
        yield position, len(texts)


def timed_sentences(segments: Sequence[TimedSegment], max_seconds: float = MAX_SENTENCE_SECONDS) -> list[TimedSegment]:
    """The transcript's sentences, each from its first word's start to its last word's end."""
    starts, ends, texts = _timed_words(segments)
    sentences = []
    for first, stop in _spans(texts):
        if max(ends[first:stop]) - starts[first] > max_seconds:  # cut where the sentence grows too long
            for word in range(first + 1, stop):
                if ends[word] - starts[first] > max_seconds:
                    sentences.append(_sentence(starts, ends, texts, first, word))
                    first = word
        sentences.append(_sentence(starts, ends, texts, first, stop))
    return sentences


def _sentence(starts: list[float], ends: list[float], texts: list[str], first: int, stop: int) -> TimedSegment:
    return TimedSegment(starts[first], max(ends[stop - 1], starts[first]), " ".join(texts[first:stop]))


# --- a passage's sentences as stored with it --------------------------------------------------


def sentences_to_json(sentences: Sequence[TimedSegment]) -> list[list[float]]:
    """`[[start, end, offset], ...]`: each sentence's times and where it begins in the passage's text,
    the sentences' texts joined by single spaces."""
    stored, offset = [], 0
    for sentence in sentences:
        stored.append([sentence.start, sentence.end, offset])
        offset += len(sentence.text) + 1
    return stored


def sentences_from_json(stored: Sequence[Sequence[Any]], text: str) -> list[TimedSegment]:
    """The passage's sentences back from `sentences_to_json` and the passage's text."""
    offsets = [int(offset) for _, _, offset in stored] + [len(text)]
    return [
        TimedSegment(float(start), float(end), text[offsets[i] : offsets[i + 1]].strip())
        for i, (start, end, _) in enumerate(stored)
    ]


def estimated_sentences(text: str, start: float, end: float) -> list[TimedSegment]:
    """Sentences of a passage stored without their times: the passage's span shared out by position."""
    return timed_sentences([TimedSegment(start, end, text)], max_seconds=float("inf"))
