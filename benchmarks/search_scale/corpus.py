"""A seeded, reproducible synthetic corpus of video search documents, and the query mix.

Shape (per video): a ~1,500-word transcript in ~100 timed segments of ~15 words
(spoken at ~2.5 words/s, times rounded to milliseconds as the transcriber
stores them), a title, a description and a 4-6 sentence summary drawn from the
transcript. Words come from three pools, as in real speech:

- stop words (~40% of tokens): never searched (pipeline/search/terms.py drops them);
- a general vocabulary of pseudo-words with Zipf frequencies (~50%): its top
  words appear in most videos, its tail in a few;
- the video's topic words (~10%): 2,000 topics of 40 words each, so a topic word
  is in a few percent of the videos and usually in their titles and summaries.

Same seed, same corpus: `documents(n, seed)` yields identical documents on every
machine (numpy's PCG64 with a fixed seed), so runs are comparable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.search.base import SearchDocument, SearchQuery, TimedSegment
from pipeline.search.terms import STOP_WORDS

GENERAL_WORDS = 100_000
TOPICS = 2_000
TOPIC_WORDS = 40
OWNERS = 5_000
WORDS_PER_VIDEO = 1_500
WORDS_PER_SEGMENT = 15
WORDS_PER_SECOND = 2.5
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "ea")]
_STOPS = sorted(w for w in STOP_WORDS if len(w) > 1)


def _pseudo_words(count: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        lengths = rng.integers(2, 5, count)
        syllables = rng.integers(0, len(_SYLLABLES), (count, 4))
        for length, row in zip(lengths.tolist(), syllables.tolist(), strict=True):
            word = "".join(_SYLLABLES[i] for i in row[:length])
            if word not in taken and len(words) < count:
                taken.add(word)
                words.append(word)
    return words


@dataclass(frozen=True)
class Vocabulary:
    general: list[str]  # most frequent first
    topics: list[list[str]]
    general_p: np.ndarray

    @classmethod
    def build(cls, seed: int) -> Vocabulary:
        rng = np.random.default_rng([seed, 1])
        taken = set(STOP_WORDS)
        general = _pseudo_words(GENERAL_WORDS, rng, taken)
        topics = [_pseudo_words(TOPIC_WORDS, rng, taken) for _ in range(TOPICS)]
        ranks = np.arange(1, GENERAL_WORDS + 1, dtype=np.float64)
        p = 1.0 / ranks
        return cls(general=general, topics=topics, general_p=p / p.sum())


def documents(n: int, seed: int = 12) -> Iterator[SearchDocument]:
    """The first `n` videos of the corpus for `seed` (ids 1..n); a prefix of a larger run."""
    vocab = Vocabulary.build(seed)
    general = np.array(vocab.general, dtype=object)
    stops = np.array(_STOPS, dtype=object)
    general_cdf = np.cumsum(vocab.general_p)
    topic_p = 1.0 / np.arange(1, TOPIC_WORDS + 1)
    topic_cdf = np.cumsum(topic_p / topic_p.sum())
    owner_cdf = _owner_cdf()
    for video_id in range(1, n + 1):
        rng = np.random.default_rng([seed, 2, video_id])
        topic = np.array(vocab.topics[int(rng.integers(0, TOPICS))], dtype=object)
        words = _words(rng, WORDS_PER_VIDEO, stops, general, general_cdf, topic, topic_cdf)
        segments: list[TimedSegment] = []
        t = 0.0
        pace = (rng.uniform(0.8, 1.2, len(words)) / WORDS_PER_SECOND).tolist()
        pauses = rng.uniform(0.05, 0.6, len(words)).tolist()
        for n, i in enumerate(range(0, len(words), WORDS_PER_SEGMENT)):
            chunk = words[i:i + WORDS_PER_SEGMENT]
            duration = len(chunk) * pace[n]
            segments.append(TimedSegment(start=round(t, 3), end=round(t + duration, 3),
                                         text=" ".join(chunk).capitalize() + "."))
            t += duration + pauses[n]
        picks = sorted(rng.choice(len(segments), size=int(rng.integers(4, 7)), replace=False))
        summary = " ".join(segments[i].text for i in picks)
        title_words = [*topic[_draw(rng, 2, topic_cdf)], *general[_draw(rng, int(rng.integers(1, 4)), general_cdf)]]
        description = " ".join(_words(rng, int(rng.integers(10, 25)), stops, general, general_cdf, topic, topic_cdf))
        created = EPOCH + timedelta(seconds=float(rng.uniform(0, SPAN_DAYS * 86_400)))
        owner = int(_draw(rng, 1, owner_cdf)[0]) + 1
        status = "ready" if rng.random() < 0.95 else ("failed" if rng.random() < 0.6 else "transcribing")
        yield SearchDocument(
            video_id=video_id, title=" ".join(title_words).title(), description=description.capitalize() + ".",
            owner_id=owner, owner_name=f"user{owner}", transcript=" ".join(s.text for s in segments),
            summary=summary, status=status, language="en", created_at=created,
            updated_at=created + timedelta(minutes=30), duration_seconds=round(t, 3), segments=tuple(segments))


def _owner_cdf() -> np.ndarray:
    """Owners' shares of the videos: a few prolific ones (the top one ~4%), a long tail."""
    p = np.arange(1, OWNERS + 1, dtype=np.float64) ** -0.8
    return np.cumsum(p / p.sum())


def _draw(rng: np.random.Generator, k: int, cdf: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(k)), len(cdf) - 1)


def _words(rng: np.random.Generator, k: int, stops: np.ndarray, general: np.ndarray, general_cdf: np.ndarray,
           topic: np.ndarray, topic_cdf: np.ndarray) -> list[str]:
    pool = rng.random(k)
    out = np.empty(k, dtype=object)
    is_stop, is_topic = pool < 0.40, pool >= 0.90
    is_general = ~is_stop & ~is_topic
    out[is_stop] = stops[rng.integers(0, len(stops), int(is_stop.sum()))]
    out[is_general] = general[_draw(rng, int(is_general.sum()), general_cdf)]
    out[is_topic] = topic[_draw(rng, int(is_topic.sum()), topic_cdf)]
    return out.tolist()


@dataclass(frozen=True)
class BenchQuery:
    kind: str
    query: SearchQuery


# The goal's mix: single common words, rare words, two-word queries, with and without owner/date filters.
GOAL_KINDS = ("common", "rare", "topic", "two words", "common+owner", "rare+owner", "common+dates", "two words+dates")
# Words in 40-100% of the videos (the top of the Zipf vocabulary): reported apart, not in the goal's mix.
STRESS_KINDS = ("frequent", "frequent+owner", "frequent+dates")


def query_mix(count: int = 300, seed: int = 12, kinds: tuple[str, ...] = GOAL_KINDS) -> list[BenchQuery]:
    """`count` queries cycling through `kinds`; words and filters are seeded.

    Word classes by the share of videos they occur in (measured on this corpus):
    frequent = general words ranked 1-60 (40-100%), common = ranked 1,000-5,000
    (about 1-6%), topic = a topic's words (under 0.1%, in titles too), rare =
    ranked 50,000-100,000 (under 0.1%). Two words = two common words (AND).
    """
    vocab = Vocabulary.build(seed)
    rng = np.random.default_rng([seed, 3])
    owner_cdf = _owner_cdf()
    out: list[BenchQuery] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        words = {
            "frequent": lambda: vocab.general[int(rng.integers(0, 60))],
            "common": lambda: vocab.general[int(rng.integers(1_000, 5_000))],
            "topic": lambda: vocab.topics[int(rng.integers(0, TOPICS))][int(rng.integers(0, 10))],
            "rare": lambda: vocab.general[int(rng.integers(GENERAL_WORDS // 2, GENERAL_WORDS))],
            "two words": lambda: " ".join(vocab.general[int(j)] for j in rng.integers(1_000, 5_000, 2)),
        }[kind.split("+")[0]]()
        owner = int(_draw(rng, 1, owner_cdf)[0]) + 1 if kind.endswith("owner") else None
        start = EPOCH + timedelta(days=float(rng.uniform(0, SPAN_DAYS - 60)))
        dates = (start, start + timedelta(days=float(rng.uniform(7, 60)))) if kind.endswith("dates") else (None, None)
        out.append(BenchQuery(kind, SearchQuery(text=words, owner_id=owner, created_from=dates[0],
                                                created_to=dates[1])))
    return out
