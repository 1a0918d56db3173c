"""Passages: what semantic search embeds for a video.

The timed transcript is cut into passages of about 30-60 s, plus one passage
for the title and one for the summary. A passage is whole sentences (so it
starts when its first sentence is spoken), never spans a topic change (the
boundaries `pipeline.chapters` finds), and begins with the last sentence of
the passage before it in the same topic, so words said across a cut are still
read together. Each transcript passage keeps its sentences' times: a hit found
by meaning opens at its best sentence (`pipeline.search.moments`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.sentences import timed_sentences
from pipeline.text import TimedSegment

MIN_PASSAGE_SECONDS = 30.0
MAX_PASSAGE_SECONDS = 60.0
# The sentence carried over into the next passage, when it is no longer than this.
MAX_OVERLAP_SECONDS = 15.0
# What the cutting does: part of passage_embeddings' code version, so passages cut another way show stale.
PASSAGES_VERSION = "passages:sentences+topics+overlap"

TITLE, SUMMARY, TRANSCRIPT = "title", "summary", "transcript"


@dataclass(frozen=True)
class Passage:
    kind: str  # TITLE | SUMMARY | TRANSCRIPT
    start: float | None  # seconds; None for the title and summary
    end: float | None
    text: str
    # A transcript passage's sentences with their times; its text is their texts joined by spaces.
    sentences: tuple[TimedSegment, ...] = ()


def split_transcript(
    segments: Sequence[TimedSegment],
    min_seconds: float = MIN_PASSAGE_SECONDS,
    max_seconds: float = MAX_PASSAGE_SECONDS,
    *,
    topic_starts: Sequence[float] = (),
) -> list[Passage]:
    """The transcript's sentences grouped into passages of `min_seconds`-`max_seconds`, topic by topic.

    The next passage of the same topic starts with the last sentence of the one before.
    A passage closes once its new sentences (those after that one) span `min_seconds`,
    so passages are as many as without the overlap, or earlier when the next sentence
    would take it past `max_seconds` (a single longer sentence is a passage of its own).
    A topic's last new sentences spanning less than half the minimum join the passage
    before them (when that stays within the maximum), so no passage is a stray sentence.
    """
    changes = sorted(topic_starts)
    topics: dict[int, list[TimedSegment]] = {}
    for segment in segments:
        # Topic changes are segment starts (chapters are cut there).
        topics.setdefault(bisect.bisect_right(changes, segment.start + 1e-6), []).append(segment)
    return [passage for topic in topics.values() for passage in _pack(timed_sentences(topic), min_seconds, max_seconds)]


def _pack(sentences: list[TimedSegment], min_seconds: float, max_seconds: float) -> list[Passage]:
    passages, first, new = [], 0, 0  # `new`: the first sentence not carried over from the passage before
    while first < len(sentences):
        last = new
        while (
            last + 1 < len(sentences)
            and sentences[last].end - sentences[new].start < min_seconds
            and sentences[last + 1].end - sentences[first].start <= max_seconds
        ):
            last += 1
        rest = sentences[last + 1 :]
        if rest and (rest[-1].end - rest[0].start < min_seconds / 2 and rest[-1].end - sentences[first].start <= max_seconds):
            last = len(sentences) - 1  # a short tail joins this passage
        group = sentences[first : last + 1]
        passages.append(Passage(TRANSCRIPT, group[0].start, group[-1].end, " ".join(s.text for s in group), tuple(group)))
        if last + 1 >= len(sentences):
            break
        carried, following = sentences[last], sentences[last + 1]
        overlap = (
            last > first and carried.end - carried.start <= MAX_OVERLAP_SECONDS and following.end - carried.start <= max_seconds
        )
        first, new = (last if overlap else last + 1), last + 1
    return passages


def video_passages(
    title: str, summary: str, segments: Sequence[TimedSegment], topic_starts: Sequence[float] = ()
) -> list[Passage]:
    """The title, the summary and the transcript's passages (empty texts left out)."""
    passages = [Passage(TITLE, None, None, title.strip()), Passage(SUMMARY, None, None, summary.strip())]
    return [p for p in passages if p.text] + split_transcript(segments, topic_starts=topic_starts)
