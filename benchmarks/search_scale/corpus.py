"""A seeded archive shaped like real speech, written as `load_corpus` JSON lines, and the query mix.

Words are real English with real frequencies (PyPI `wordfreq`, the top
`VOCABULARY` words). Each video is ~10 minutes of speech: ~100 timed segments
of one sentence each (~15 words, ~2.5 words a second, with pauses), in 3-4
contiguous topic blocks. A sentence draws each word either from the video's
current topic (`TOPIC_SHARE`) or from everyday English at its real frequency,
stop words included, so stop words are as common as in speech and the top
content words ("like", "people", "time", ...) occur in most videos.

A topic is a coherent set of real content words: the content words below the
everyday top are grouped by meaning (k-means over their embeddings from the
default embedder, seeded), so a passage about one topic reads as one and
searching by meaning has something to find. Within a topic, words keep
their relative real frequencies (flattened, so its rarer words occur too).

Owners follow a long tail (a few prolific, most with a handful of videos);
creation dates spread over two years. Same seed, same corpus: `documents(n,
seed)` yields identical videos (numpy PCG64, fixed seeds), a prefix of any
larger run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from pipeline.search.base import SearchDocument, SearchQuery
from pipeline.search.terms import STOP_WORDS
from pipeline.text import TimedSegment

VOCABULARY = 30_000
# The commonest content words are everyday speech, in no topic.
EVERYDAY_CONTENT_WORDS = 400
TOPICS = 400
TOPIC_SHARE = 0.3
OWNERS = 5_000
SEGMENTS = (90, 111)  # per video, drawn in this range
WORDS_PER_SENTENCE = (8, 23)
WORDS_PER_SECOND = 2.5
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730


# The corpus's words are ASCII letters only.
_WORD = re.compile(r"[a-z]+")


class Embedder(Protocol):
    model_id: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


_BUILT: dict[tuple[str, int], Vocabulary] = {}


@dataclass(frozen=True)
class Vocabulary:
    words: np.ndarray  # every word, commonest first (object array of str)
    cdf: np.ndarray  # cumulative real frequencies over `words`
    topics: list[np.ndarray]  # each topic's words
    topic_cdfs: list[np.ndarray]

    @classmethod
    def build(cls, embedder: Embedder, seed: int = 12) -> Vocabulary:
        """The vocabulary for `seed`, its topics grouped by `embedder` (built once per process)."""
        key = (embedder.model_id, seed)
        if key not in _BUILT:
            _BUILT[key] = cls._build(embedder, seed)
        return _BUILT[key]

    @classmethod
    def _build(cls, embedder: Embedder, seed: int) -> Vocabulary:
        from wordfreq import top_n_list, word_frequency

        words = [w for w in top_n_list("en", VOCABULARY * 2) if w.isascii() and w.isalpha() and (len(w) > 1 or w in ("a", "i"))][
            :VOCABULARY
        ]
        frequency = np.array([word_frequency(w, "en") for w in words])
        content = [i for i, w in enumerate(words) if w not in STOP_WORDS and len(w) > 2]
        topical = np.array(content[EVERYDAY_CONTENT_WORDS:])
        labels = _kmeans(embedder.embed([words[i] for i in topical]), TOPICS, np.random.default_rng([seed, 1]))
        topics, topic_cdfs = [], []
        for label in range(TOPICS):
            members = topical[labels == label]
            if len(members) < 8:
                continue
            weights = np.sqrt(frequency[members])  # flattened: a topic's rarer words are said too
            topics.append(np.array([words[i] for i in members], dtype=object))
            topic_cdfs.append(np.cumsum(weights / weights.sum()))
        return cls(np.array(words, dtype=object), np.cumsum(frequency / frequency.sum()), topics, topic_cdfs)


def _kmeans(vectors: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 12) -> np.ndarray:
    """Cluster labels of L2-normalized `vectors` (spherical k-means, seeded)."""
    centres = vectors[rng.choice(len(vectors), k, replace=False)]
    labels = np.zeros(len(vectors), dtype=np.int64)
    for _ in range(rounds):
        labels = np.argmax(vectors @ centres.T, axis=1)
        order = np.argsort(labels, kind="stable")
        present, starts = np.unique(labels[order], return_index=True)  # a centre nothing is nearest to stays
        sums = np.add.reduceat(vectors[order], starts, axis=0)
        centres[present] = sums / np.maximum(np.linalg.norm(sums, axis=1), 1e-12)[:, None]
    return labels


def _draw(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(k)), len(cdf) - 1)


def _owner_cdf() -> np.ndarray:
    """Owners' shares of the videos: a few prolific ones (the top one ~3 %), a long tail."""
    p = np.arange(1, OWNERS + 1, dtype=np.float64) ** -0.8
    return np.cumsum(p / p.sum())


def _sentence(rng: np.random.Generator, vocab: Vocabulary, topic: int) -> str:
    length = int(rng.integers(*WORDS_PER_SENTENCE))
    topical = rng.random(length) < TOPIC_SHARE
    words = vocab.words[_draw(rng, vocab.cdf, length)]
    words[topical] = vocab.topics[topic][_draw(rng, vocab.topic_cdfs[topic], int(topical.sum()))]
    return " ".join(words.tolist()).capitalize() + "."


def video(video_id: int, vocab: Vocabulary, seed: int = 12, owner_cdf: np.ndarray | None = None) -> SearchDocument:
    """Video `video_id` of the corpus for `seed`."""
    rng = np.random.default_rng([seed, 2, video_id])
    owner_cdf = _owner_cdf() if owner_cdf is None else owner_cdf
    topics = rng.choice(len(vocab.topics), int(rng.integers(3, 5)), replace=False).tolist()
    count = int(rng.integers(*SEGMENTS))
    # Contiguous topic blocks of at least 15 segments each.
    cuts = sorted(rng.choice(np.arange(15, count - 14), len(topics) - 1, replace=False).tolist())
    while any(b - a < 15 for a, b in zip([0, *cuts], [*cuts, count], strict=True)):
        cuts = sorted(rng.choice(np.arange(15, count - 14), len(topics) - 1, replace=False).tolist())
    segments: list[TimedSegment] = []
    firsts: list[str] = []
    t = 0.0
    block = 0
    for i in range(count):
        if block < len(cuts) and i == cuts[block]:
            block += 1
        text = _sentence(rng, vocab, topics[block])
        if len(firsts) == block:
            firsts.append(text)
        duration = len(text.split()) / WORDS_PER_SECOND * float(rng.uniform(0.85, 1.15))
        segments.append(TimedSegment(round(t, 3), round(t + duration, 3), text))
        t += duration + float(rng.uniform(0.1, 0.8))
    main = vocab.topics[topics[0]]
    title = " ".join(main[_draw(rng, vocab.topic_cdfs[topics[0]], 3)].tolist()).title()
    created = EPOCH + timedelta(seconds=float(rng.uniform(0, SPAN_DAYS * 86_400)))
    owner = int(_draw(rng, owner_cdf, 1)[0]) + 1
    return SearchDocument(
        video_id=video_id,
        title=title,
        description=_sentence(rng, vocab, topics[0]),
        owner_id=owner,
        owner_name=f"user{owner}",
        transcript=" ".join(s.text for s in segments),
        summary=" ".join(firsts),
        status="ready",
        language="en",
        created_at=created,
        updated_at=created,
        duration_seconds=round(t, 3),
        segments=tuple(segments),
    )


def documents(n: int, vocab: Vocabulary, seed: int = 12, first: int = 1) -> Iterator[SearchDocument]:
    """Videos `first` .. `first + n - 1` of the corpus for `seed`."""
    owner_cdf = _owner_cdf()
    for video_id in range(first, first + n):
        yield video(video_id, vocab, seed, owner_cdf)


def document_frequencies(sample: Sequence[SearchDocument]) -> dict[str, float]:
    """The share of `sample`'s videos each searchable word occurs in."""
    counts: Counter[str] = Counter()
    for document in sample:
        counts.update(set(_WORD.findall(document.transcript.lower())) - STOP_WORDS)
    return {word: n / len(sample) for word, n in counts.items()}


@dataclass(frozen=True)
class BenchQuery:
    kind: str  # word class, then "+owner" / "+dates" when filtered
    query: SearchQuery


WORD_CLASSES = ("frequent", "common", "rare", "topic", "two words")
KINDS = tuple(f"{c}{f}" for f in ("", "+owner", "+dates") for c in WORD_CLASSES)


def query_mix(count: int, vocab: Vocabulary, shares: dict[str, float], seed: int = 12) -> list[BenchQuery]:
    """`count` queries cycling through `KINDS`; words and filters seeded.

    Word classes by the share of videos a word occurs in (`shares`, measured on
    a sample of the corpus): frequent = content words in 40-100 %, common = in
    1-10 %, rare = in at most 0.5 % (or in one video of a small sample), topic = one of a topic's five
    commonest words, two words = a common and a frequent word (both must match).
    An owner filter picks an owner by the owners' long tail; a date window is 7-60 days.
    """
    rng = np.random.default_rng([seed, 3])
    rare = max(0.005, min(shares.values()))
    classes = {
        "frequent": sorted(w for w, s in shares.items() if s >= 0.4),
        "common": sorted(w for w, s in shares.items() if 0.01 <= s <= 0.1),
        "rare": sorted(w for w, s in shares.items() if s <= rare),
    }
    for name, members in classes.items():
        if not members:
            raise ValueError(f"the corpus sample has no {name} words: sample more videos")

    def pick(name: str) -> str:
        return classes[name][int(rng.integers(0, len(classes[name])))]

    out: list[BenchQuery] = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        word_class = kind.split("+")[0]
        if word_class == "topic":
            topic = vocab.topics[int(rng.integers(0, len(vocab.topics)))]
            words = str(topic[int(rng.integers(0, min(5, len(topic))))])
        elif word_class == "two words":
            words = f"{pick('common')} {pick('frequent')}"
        else:
            words = pick(word_class)
        owner = random_owner(rng) if kind.endswith("owner") else None
        dates = date_window(rng) if kind.endswith("dates") else (None, None)
        out.append(BenchQuery(kind, SearchQuery(text=words, owner_id=owner, created_from=dates[0], created_to=dates[1])))
    return out


def random_owner(rng: np.random.Generator) -> int:
    """An owner drawn by the owners' long tail (prolific ones most often)."""
    return int(_draw(rng, _owner_cdf(), 1)[0]) + 1


def date_window(rng: np.random.Generator) -> tuple[datetime, datetime]:
    """A creation-date window of 7-60 days inside the corpus's two years."""
    start = EPOCH + timedelta(days=float(rng.uniform(0, SPAN_DAYS - 60)))
    return start, start + timedelta(days=float(rng.uniform(7, 60)))
