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

from collections.abc import Iterator, Sequence
from typing import Any

from pipeline.summarization.text import split_sentences
from pipeline.text import TimedSegment, TimedWord

MAX_SENTENCE_SECONDS = 15.0


def _segment_words(segment: TimedSegment) -> list[TimedWord]:
    """The segment's words with their times: its own, or else shares of its span by position in its text."""
    if segment.words:
        return list(segment.words)
    tokens = segment.text.split()
    if not tokens:
        return []
    span, length = segment.end - segment.start, max(len(segment.text), 1)
    offsets, position = [], 0
    for token in tokens:
        position = segment.text.index(token, position)
        offsets.append(position)
        position += len(token)
    starts = [segment.start + span * offset / length for offset in offsets]
    return [
        TimedWord(round(start, 3), round(end, 3), token)
        for start, end, token in zip(starts, [*starts[1:], segment.end], tokens, strict=True)
    ]


def timed_words(segments: Sequence[TimedSegment]) -> list[TimedWord]:
    """Every word of the transcript in order, each one whitespace-free, with when it is spoken."""
    words = []
    for segment in segments:
        for word in _segment_words(segment):
            # A recogniser's word may hold a space ("Mr. Smith"); sentence splitting counts tokens.
            words += [TimedWord(word.start, word.end, token) for token in word.text.split()]
    return words


def _spans(words: list[TimedWord]) -> Iterator[list[TimedWord]]:
    """The words grouped by sentence (the splitter's sentences are runs of whole tokens)."""
    position = 0
    for sentence in split_sentences(" ".join(w.text for w in words)):
        count = len(sentence.split())
        yield words[position : position + count]
        position += count
    if position < len(words):  # only if the splitter ever dropped a token: keep every word
        yield words[position:]


def timed_sentences(segments: Sequence[TimedSegment], max_seconds: float = MAX_SENTENCE_SECONDS) -> list[TimedSegment]:
    """The transcript's sentences, each from its first word's start to its last word's end."""
    sentences = []
    for span in _spans(timed_words(segments)):
        piece: list[TimedWord] = []
        for word in span:
            if piece and word.end - piece[0].start > max_seconds:
                sentences.append(_sentence(piece))
                piece = []
            piece.append(word)
        if piece:
            sentences.append(_sentence(piece))
    return sentences


def _sentence(words: Sequence[TimedWord]) -> TimedSegment:
    return TimedSegment(words[0].start, max(words[-1].end, words[0].start), " ".join(w.text for w in words))


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
