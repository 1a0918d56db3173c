"""Moments: the second at which a search hit should open its video.

A hit found by its words opens where the first searched word is said: the
matched segment's words carry their own times (faster-whisper's word
timestamps), so the match is moved to start at that word (`word_match`).
A hit found by meaning carries its best passage (30-60 s); it opens at the
passage's sentence closest in meaning to the query (`best_sentence`), by a
small fast embedding model (WordLlama: ~10 sentences in a millisecond),
whatever model found the passage.

Both need data the search engines don't keep: `MomentFinder` reads the word
times of the matched segments and the sentences of the found passages from the
app database, for the hits of the returned page only (one query each).
Transcripts made without word times, and passages stored without their
sentences, keep working: the match stays its segment, and a passage's
sentences are placed by their position in its text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Engine, Integer, bindparam, cast, func, select
from sqlalchemy.orm import QueryableAttribute

from pipeline.db.models import TranscriptSegment, VideoPassage
from pipeline.embeddings import Embedder, query_vector
from pipeline.passages import TRANSCRIPT
from pipeline.search.base import SearchHit, SearchPage
from pipeline.search.terms import query_terms
from pipeline.sentences import estimated_sentences, sentences_from_json
from pipeline.text import TimedSegment, TimedWord, words_from_json

Embed = Callable[[list[str]], np.ndarray]

# Times read back from another store may have lost a little precision.
_SAME_TIME = 0.0015
# A word's moment opens this much before the recogniser's start for it: whisper's word starts lag the first
# sound by ~0.1 s (more after a pause), and the word should be heard from its beginning.
WORD_LEAD_SECONDS = 0.2
_NOT_WORD = re.compile(r"[^\w']+")
# Endings that the engines' stemmers (Porter, Snowball) take off: "volcanoes" matches "volcano".
_ENDINGS = ("'s", "ing", "ies", "es", "ed", "ly", "er", "s")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    word = _NOT_WORD.sub("", word.lower().replace("’", "'"))
    for ending in _ENDINGS:
        if len(word) > len(ending) + 2 and word.endswith(ending):
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=1024)
def _forms(terms: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The terms' stems, and those stems less their last letter: a light stemmer's stems of one word may
    differ by a letter ("runn"/"run", "stud"/"study")."""
    stems = frozenset(_stem(term) for term in terms)
    return stems, frozenset(stem[:-1] for stem in stems if len(stem) > 3)


def says(word: str, terms: Iterable[str]) -> bool:
    """Whether the spoken `word` is one of the searched `terms`, or a form of one."""
    stem = _stem(word)
    stems, shortened = _forms(tuple(terms))
    return bool(stem) and (stem in stems or (len(stem) > 3 and stem[:-1] in stems) or stem in shortened)


def said_terms(words: Iterable[str], terms: Iterable[str]) -> set[str]:
    """Which of `terms` the spoken `words` say (by the rule of `says`), each word stemmed once."""
    stems = {_stem(word) for word in words} - {""}
    shortened = {stem[:-1] for stem in stems if len(stem) > 3}
    found = set()
    for term in terms:
        stem = _stem(term)
        if stem in stems or stem in shortened or (len(stem) > 3 and stem[:-1] in stems):
            found.add(term)
    return found


def word_match(segment: TimedSegment, words: Sequence[TimedWord], terms: Sequence[str]) -> TimedSegment:
    """The matched `segment` from the first of its `words` that says a searched term: just before that word's
    start (WORD_LEAD_SECONDS), to the segment's end, with the text from that word on. The segment itself when
    no word says one."""
    lowered, position = segment.text.lower(), 0
    for word in words:
        found = lowered.find(word.text.lower(), position)
        position = found + len(word.text) if found >= 0 else position
        if found >= 0 and says(word.text, terms):
            return TimedSegment(
                round(max(0.0, word.start - WORD_LEAD_SECONDS), 3), max(segment.end, word.end), segment.text[found:]
            )
    return segment


def best_sentences(
    query_vector: np.ndarray, passages: Sequence[Sequence[TimedSegment]], embed: Embed
) -> list[TimedSegment | None]:
    """For each passage (its timed sentences), the sentence closest in meaning to the query, whose vector
    comes from the same `embed`; None for a passage without sentences. One `embed` call for them all."""
    vectors = embed([s.text for sentences in passages for s in sentences])
    scores = vectors @ np.asarray(query_vector, dtype=np.float32) if len(vectors) else np.zeros(0)
    best: list[TimedSegment | None] = []
    offset = 0
    for sentences in passages:
        chosen = scores[offset : offset + len(sentences)]
        best.append(sentences[int(np.argmax(chosen))] if len(sentences) else None)
        offset += len(sentences)
    return best


def best_sentence(query_vector: np.ndarray, sentences: Sequence[TimedSegment], embed: Embed) -> TimedSegment | None:
    """The sentence closest in meaning to the query (its vector from the same `embed`); None without any."""
    return best_sentences(query_vector, [sentences], embed)[0]


@dataclass
class MomentFinder:
    """Places the moments of a page's hits (see the module's docstring), reading the app database."""

    engine: Engine
    sentence_embedder: Callable[[], Embedder] = field(default_factory=lambda: shared_wordllama)

    def place(self, page: SearchPage, query: str) -> SearchPage:
        """The page with each hit's matches starting at the searched word where its time is known, and its
        moment at the best of those matches, or else at the best sentence of the passage it was found by."""
        terms = query_terms(query)
        if not page.hits or not terms:
            return page
        words = self._words({(hit.video_id, m.start) for hit in page.hits for m in hit.matches})
        hits = [
            replace(hit, matches=tuple(word_match(m, _at(words, hit.video_id, m.start) or (), terms) for m in hit.matches))
            for hit in page.hits
        ]
        hits = [self._with_word_moment(hit, terms) for hit in hits]
        passages = [hit for hit in hits if not hit.matches and _is_passage(hit.moment)]
        if passages:
            sentences = self._sentences(passages)
            embedder = self.sentence_embedder()
            chosen = best_sentences(query_vector(embedder, query), [sentences[hit.video_id] for hit in passages], embedder.embed)
            best = {hit.video_id: sentence for hit, sentence in zip(passages, chosen, strict=True)}
            hits = [replace(hit, moment=best.get(hit.video_id) or hit.moment) for hit in hits]
        return replace(page, hits=hits)

    @staticmethod
    def _with_word_moment(hit: SearchHit, terms: Sequence[str]) -> SearchHit:
        # The words themselves are spoken here: open at the match saying the most of them, the first such.
        if not hit.matches:
            return hit
        if len(terms) == 1:
            return replace(hit, moment=hit.matches[0])  # matches come first-said first
        best = max(hit.matches, key=lambda m: (len(said_terms(m.text.split(), terms)), -m.start))
        return replace(hit, moment=best)

    def _words(self, keys: set[tuple[int, float]]) -> _ByTime[Sequence[TimedWord]]:
        if not keys:
            return {}
        found: _ByTime[Sequence[TimedWord]] = {}
        with self.engine.connect() as conn:
            ids, times = sorted({video_id for video_id, _ in keys}), sorted({round(at * 1000) for _, at in keys})
            for row in conn.execute(_WORD_TIMES, {"ids": ids, "milliseconds": times}):
                found.setdefault(row.video_id, []).append((row.start_seconds, words_from_json(row.words)))
        return found

    def _sentences(self, hits: Sequence[SearchHit]) -> dict[int, list[TimedSegment]]:
        """Each hit's passage's sentences: as stored with the passage, or else placed by position in its text."""
        stored: _ByTime[list[TimedSegment]] = {}
        with self.engine.connect() as conn:
            ids = sorted({hit.video_id for hit in hits})
            times = sorted({round(hit.moment.start * 1000) for hit in hits if hit.moment is not None})
            for row in conn.execute(_SENTENCES, {"ids": ids, "milliseconds": times}):
                stored.setdefault(row.video_id, []).append((row.start_seconds, sentences_from_json(row.sentences, row.text)))
        found = {}
        for hit in hits:
            assert hit.moment is not None
            moment = hit.moment
            found[hit.video_id] = _at(stored, hit.video_id, moment.start) or estimated_sentences(
                moment.text, moment.start, moment.end
            )
        return found


_T = TypeVar("_T")
_ByTime = dict[int, list[tuple[float, _T]]]  # video id -> [(start, value), ...]


def _milliseconds(seconds: QueryableAttribute[Any]) -> ColumnElement[int]:
    # Times are matched to the millisecond: an engine may hand them back as float32 or from whole milliseconds.
    return cast(func.round(seconds * 1000), Integer)


# The rows of the page's hits at the given times, by statements built once (built for each page, they cost about as
# much as running them).
_WORD_TIMES = select(TranscriptSegment.video_id, TranscriptSegment.start_seconds, TranscriptSegment.words).where(
    TranscriptSegment.video_id.in_(bindparam("ids", expanding=True)),
    _milliseconds(TranscriptSegment.start_seconds).in_(bindparam("milliseconds", expanding=True)),
    TranscriptSegment.words.is_not(None),
)
_SENTENCES = select(VideoPassage.video_id, VideoPassage.start_seconds, VideoPassage.text, VideoPassage.sentences).where(
    VideoPassage.video_id.in_(bindparam("ids", expanding=True)),
    _milliseconds(VideoPassage.start_seconds).in_(bindparam("milliseconds", expanding=True)),
    VideoPassage.kind == TRANSCRIPT,
    VideoPassage.sentences.is_not(None),
)


def _at(rows: _ByTime[_T], video_id: int, start: float) -> _T | None:
    return next((value for at, value in rows.get(video_id, ()) if abs(at - start) <= _SAME_TIME), None)


def _is_passage(moment: TimedSegment | None) -> bool:
    # Title and summary passages have no time (their moment is 0-0): nothing to choose inside them.
    return moment is not None and moment.end > moment.start


_lock = threading.Lock()
_loaded: list[Embedder] = []


def shared_wordllama() -> Embedder:
    """The process's one WordLlama, loaded on first use: moments and answers embed sentences with it."""
    with _lock:
        if not _loaded:
            from pipeline.embeddings import WordLlamaEmbedder

            _loaded.append(WordLlamaEmbedder())
        return _loaded[0]
