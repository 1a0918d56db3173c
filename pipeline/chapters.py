"""Chapters: the timed transcript split where its topic changes, each with a title and a one-sentence gist.

Boundaries (TextTiling, Hearst 1997, with embeddings instead of word counts):
at every segment start, the text spoken in the `window` seconds before it and
the text spoken in the `window` seconds after it are embedded and compared. A
topic change is a valley of that similarity; its depth (how far it lies below
the nearest peaks on both sides) ranks the candidates, and the deepest ones are
taken while every chapter stays at least `min_seconds` long and the valley is
clearly deeper than the typical one (mean + half a standard deviation).

Titles and gists come from a `ChapterWriter`: offline, the chapter's most
distinctive words and its most central sentence; with an LLM, one short
request per chapter. Chapters are also written as a WebVTT chapters track.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pipeline.embeddings import embed_joined
from pipeline.summarization.providers import OpenAIChatSummarizer, SummaryProvider, select_sentences
from pipeline.summarization.text import content_words, split_sentences
from pipeline.text import Chapter, TimedSegment

DEFAULT_MIN_SECONDS = 15.0
TITLE_MAX_WORDS = 6
GIST_MAX_CHARS = 200
# Chapters may end this long after the last word (whisper timestamps are a little loose).
COVER_TOLERANCE_SECONDS = 1.0

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ChapterSpan:
    start: float
    end: float
    segments: tuple[TimedSegment, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments)


def _spoken(segments: Sequence[TimedSegment]) -> list[TimedSegment]:
    return [s for s in segments if s.text.strip()]


def boundary_similarities(segments: Sequence[TimedSegment], embed: Embed, window: float) -> np.ndarray:
    """Similarity across each segment start i (1..n-1) of the `window` seconds before and after it."""
    if len(segments) < 2:
        return np.zeros(0, dtype=np.float32)
    starts = [s.start for s in segments]
    in_order = starts == sorted(starts)
    lefts, rights = [], []
    for i in range(1, len(segments)):
        t = starts[i]
        if in_order:
            left: Sequence[int] = range(bisect.bisect_left(starts, t - window, 0, i), i)
            right: Sequence[int] = range(i, bisect.bisect_left(starts, t + window, i))
        else:
            left = [j for j in range(i) if starts[j] >= t - window]
            right = [j for j in range(i, len(segments)) if starts[j] < t + window]
        lefts.append(left or [i - 1])
        rights.append(right or [i])
    vectors = embed_joined(embed, [s.text for s in segments], lefts + rights)
    return np.einsum("ij,ij->i", vectors[: len(lefts)], vectors[len(lefts) :])


def depth_scores(similarities: np.ndarray) -> np.ndarray:
    """TextTiling depth: how far each point lies below the peaks reached climbing left and right."""
    depths = np.zeros_like(similarities)
    for i, value in enumerate(similarities):
        left = value
        for j in range(i - 1, -1, -1):
            if similarities[j] < left:
                break
            left = similarities[j]
        right = value
        for j in range(i + 1, len(similarities)):
            if similarities[j] < right:
                break
            right = similarities[j]
        depths[i] = (left - value) + (right - value)
    return depths


def segment_chapters(
    segments: Sequence[TimedSegment],
    embed: Embed,
    *,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    window: float | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> list[ChapterSpan]:
    """Topical chapters covering [start, end] (default: the speech); none without speech.

    Speech shorter than two minimum chapters gives one chapter.
    """
    spoken = _spoken(segments)
    if not spoken:
        return []
    start = min(start, spoken[0].start)
    end = max(end if end is not None else spoken[-1].end, spoken[-1].end)
    window = window or min_seconds
    cuts: list[int] = []
    if end - start >= 2 * min_seconds and len(spoken) > 1:
        similarities = boundary_similarities(spoken, embed, window)
        depths = depth_scores(similarities)
        threshold = float(depths.mean() + depths.std() / 2)
        for k in np.argsort(-depths, kind="stable"):
            i = int(k) + 1  # depth k is the boundary before segment k + 1
            t = spoken[i].start
            if depths[k] <= max(threshold, 1e-6):
                break
            times = [start, end, *(spoken[c].start for c in cuts)]
            if all(abs(t - other) >= min_seconds for other in times):
                cuts.append(i)
    cuts.sort()
    bounds = [0, *cuts, len(spoken)]
    times = [start, *(spoken[c].start for c in cuts), end]
    return [ChapterSpan(times[n], times[n + 1], tuple(spoken[bounds[n] : bounds[n + 1]])) for n in range(len(cuts) + 1)]


# --- titles and gists -----------------------------------------------------------------------------


class ChapterWriter(Protocol):
    def write(self, spans: Sequence[ChapterSpan], context: str) -> list[tuple[str, str]]:
        """A (title, gist) per chapter; `context` is what the video is about overall (may be empty)."""
        ...

    def identity(self) -> str: ...


def _title_case(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else ""


class ExtractiveChapterWriter:
    """Offline: the title names the chapter's most representative words (frequent here, rare in the other
    chapters, and closest in meaning to the chapter as a whole); the gist is its most central sentence
    (TextRank)."""

    def __init__(self, embed: Embed, language: str | None = None) -> None:
        self.embed = embed
        self.language = language  # whose function words are never title words

    def write(self, spans: Sequence[ChapterSpan], context: str) -> list[tuple[str, str]]:
        counts = [Counter(w for w in content_words(span.text, self.language) if w.isalpha() and len(w) >= 4) for span in spans]
        document_frequency = Counter(word for count in counts for word in count)
        results = []
        for span, count in zip(spans, counts, strict=True):
            sentences = split_sentences(span.text)
            gist = _clip(select_sentences(sentences, 1, self.language)[0], GIST_MAX_CHARS) if sentences else ""
            results.append((self._title(span.text, count, document_frequency, len(spans)), gist))
        return results

    def _title(self, text: str, count: Counter, document_frequency: Counter, chapters: int) -> str:
        words = sorted(count)
        if not words:
            return "Untitled"
        vectors = self.embed([text, *words])
        meaning = vectors[1:] @ vectors[0]
        scores = {
            w: float(meaning[i]) + 0.1 * math.log(count[w]) + 0.2 * math.log(chapters / document_frequency[w])
            for i, w in enumerate(words)
        }
        chosen: list[str] = []
        for word in sorted(words, key=lambda w: (-scores[w], w)):
            if not any(word[:5] == other[:5] for other in chosen):  # one form per word (lava / lavas)
                chosen.append(word)
            if len(chosen) == 3:
                break
        return _title_case(chosen).capitalize()

    def identity(self) -> str:
        return "extractive-keywords-textrank"


CHAPTER_PROMPT_VERSION = "chapters-v1"
CHAPTER_PROMPT = (
    "You name one chapter of a video from its transcript. Answer with exactly two lines:\n"
    f"Title: a title of at most {TITLE_MAX_WORDS} words\n"
    "Gist: one sentence saying what the chapter is about\n"
    "Use only information from the transcript. No quotes or other text."
)
_LINE = re.compile(r"^\s*(title|gist)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


class LlmChapterWriter:
    """Titles and gists from the summarizer's OpenAI-compatible chat model; the offline writer fills in
    whatever the model's answer lacks."""

    def __init__(self, summarizer: OpenAIChatSummarizer, embed: Embed, language: str | None = None) -> None:
        self.summarizer = summarizer  # writes in the video's language (its prompts say so)
        self.fallback = ExtractiveChapterWriter(embed, language)

    def write(self, spans: Sequence[ChapterSpan], context: str) -> list[tuple[str, str]]:
        offline = self.fallback.write(spans, context)
        results = []
        for span, (fallback_title, fallback_gist) in zip(spans, offline, strict=True):
            material = (f"The whole video: {context}\n\n" if context else "") + f"This chapter: {span.text}"
            fields = {key.lower(): value for key, value in _LINE.findall(self.summarizer.complete(CHAPTER_PROMPT, material))}
            title = " ".join(fields.get("title", "").strip("\"'").split()[:TITLE_MAX_WORDS]) or fallback_title
            gist = split_sentences(fields.get("gist", ""))[:1]
            results.append((title, _clip(gist[0], GIST_MAX_CHARS) if gist else fallback_gist))
        return results

    def identity(self) -> str:
        return f"{self.summarizer.model}:{CHAPTER_PROMPT_VERSION}"


def chapter_writer_for(provider: SummaryProvider, embed: Embed, language: str | None = None) -> ChapterWriter:
    """Titles from the summarizer's LLM when it has one, else offline; in `language` (the speech's)."""
    if isinstance(provider, OpenAIChatSummarizer):
        return LlmChapterWriter(provider, embed, language)
    return ExtractiveChapterWriter(embed, language)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def make_chapters(
    segments: Sequence[TimedSegment],
    embed: Embed,
    writer: ChapterWriter,
    *,
    context: str = "",
    min_seconds: float = DEFAULT_MIN_SECONDS,
    duration: float | None = None,
) -> list[Chapter]:
    spans = segment_chapters(segments, embed, min_seconds=min_seconds, end=duration)
    named = writer.write(spans, context) if spans else []
    return [Chapter(span.start, span.end, title, gist) for span, (title, gist) in zip(spans, named, strict=True)]


# --- checks and WebVTT ----------------------------------------------------------------------------


def chapter_problems(chapters: Sequence[Chapter], segments: Sequence[TimedSegment], min_seconds: float) -> list[str]:
    """What is wrong with `chapters` (empty when they are ordered, don't overlap, cover the speech, and
    each lasts at least `min_seconds` unless there is only one)."""
    spoken = _spoken(segments)
    if not chapters:
        return ["speech without chapters"] if spoken else []
    problems = [f"chapter {i} ends before it starts" for i, c in enumerate(chapters) if c.end <= c.start]
    problems += [
        f"chapter {i} overlaps or leaves a gap after chapter {i - 1}"
        for i in range(1, len(chapters))
        if abs(chapters[i].start - chapters[i - 1].end) > 1e-6
    ]
    problems += [f"chapter {i} has no title" for i, c in enumerate(chapters) if not c.title.strip()]
    if len(chapters) > 1:
        problems += [
            f"chapter {i} lasts {c.end - c.start:.1f}s, under {min_seconds:g}s"
            for i, c in enumerate(chapters)
            if c.end - c.start < min_seconds
        ]
    if spoken and (chapters[0].start > spoken[0].start or chapters[-1].end < spoken[-1].end - COVER_TOLERANCE_SECONDS):
        problems.append(
            f"chapters cover {chapters[0].start:.1f}-{chapters[-1].end:.1f}s, "
            f"speech is {spoken[0].start:.1f}-{spoken[-1].end:.1f}s"
        )
    return problems


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def to_webvtt_chapters(chapters: Sequence[Chapter]) -> str:
    """A WebVTT chapters track (`<track kind="chapters">`): one cue per chapter, its title as the text."""
    cues = [
        f"chapter-{i + 1}\n{_timestamp(c.start)} --> {_timestamp(c.end)}\n{_one_line(c.title)}" for i, c in enumerate(chapters)
    ]
    return "WEBVTT\n\n" + "".join(cue + "\n\n" for cue in cues)


def _one_line(text: str) -> str:
    # A cue's text ends at a blank line and may not contain "-->".
    return " ".join(text.replace("-->", "→").split())
