"""Evidence for a question: the transcript sentences, across the archive or in one video, that may answer it.

Retrieval is search's own: hybrid search (words and meaning, fused) over the
videos the asker may see finds the candidate videos, and since a question's
words are joined by AND there, each of its words is also searched alone (a
paraphrased question keeps its rare words, seldom all of its words); a word's
match count there is its document frequency, so a rare word weighs more.
The candidates' transcript sentences (stored with their passages, timed by
their words) are then scored one by one:

- `coverage`: the share of the question's words (weighted by rarity) that the
  sentence says, in any form search finds (`moments.says`);
- `similarity`: cosine similarity of the sentence and the question by the
  small sentence embedder moments use (WordLlama);
- `says_names`: whether it says every name the question asks about (a word
  written with a capital after the question's first word: "When does the
  Vorlane festival take place?"). A sentence about another name is no answer,
  however many other words it shares (a question about a name no video says
  finds only such sentences);
- `focus`: the share of what the question asks beyond its subject that the
  sentence says (pipeline/ask/focus.py): a sentence about the right name that
  says nothing of what is asked ("How long is the Kestrel bridge?" of "The
  Kestrel bridge was painted green") is no answer either;

and `score` is the mean of coverage and similarity. Only sentences that say a
question word, or sit in a passage found by meaning, are embedded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select

from pipeline.ask.focus import CLOSE, asked, focus, subject_words
from pipeline.db.models import Video, VideoPassage
from pipeline.embeddings import Embedder
from pipeline.passages import TRANSCRIPT
from pipeline.search.base import SearchIndex, SearchQuery
from pipeline.search.hybrid import HybridSearch
from pipeline.search.moments import said_terms, says
from pipeline.search.ranking import TOTAL_CAP
from pipeline.search.tables import search_documents
from pipeline.search.terms import query_terms
from pipeline.sentences import estimated_sentences, sentences_from_json
from pipeline.text import TimedSegment

_WORD = re.compile(r"[^\W_]+")
_Sentence = tuple[float, float, TimedSegment]  # the span of a passage it is in, and the sentence

# Videos taken from the hybrid search of the whole question, and from each of its words searched alone: of
# those, the ones found by the rarest words (their weights summed), at most WORD_FOUND_VIDEOS.
QUESTION_VIDEOS = 8
WORD_VIDEOS = 3
WORD_FOUND_VIDEOS = 8
# Words of a question searched alone (the first ones: a question states its subject early).
MAX_WORD_SEARCHES = 8


@dataclass(frozen=True)
class Scope:
    """Which videos a question is asked of: every ready video, narrowed by these filters, or one video."""

    video_id: int | None = None
    owner_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class Evidence:
    """A transcript sentence that may answer the question, and how well."""

    video_id: int
    title: str
    sentence: TimedSegment
    coverage: float
    similarity: float
    says_names: bool = True
    focus: float = 1.0  # the share of what the question asks beyond its subject that the sentence says

    @property
    def score(self) -> float:
        return (self.coverage + self.similarity) / 2


@dataclass
class EvidenceFinder:
    search: HybridSearch
    engine: Engine
    sentence_embedder: Callable[[], Embedder]

    def __post_init__(self) -> None:
        # Hits' moments are not placed to the second: every sentence of their passages is weighed anyway.
        self.search = replace(self.search, moments=None)

    def find(self, question: str, scope: Scope) -> list[Evidence]:
        """Sentences of the visible videos in `scope` that may answer `question`, best first."""
        terms = query_terms(question)
        if not terms:
            return []
        if scope.video_id is not None:
            videos = self._in_language([scope.video_id], scope.language)  # searches filter by language themselves
            weights = self._weights(terms, scope)
            by_meaning: dict[int, float] = {}
        else:
            videos, weights, by_meaning = self._candidates(question, terms, scope)
        if not videos:
            return []
        titles, sentences = self._sentences(videos)
        return self._scored(question, terms, weights, titles, sentences, by_meaning)

    def _query(self, text: str, scope: Scope, limit: int) -> SearchQuery:
        # Ready videos only: anyone may see them; a video still processing is never evidence.
        return SearchQuery(
            text=text,
            status="ready",
            owner_id=scope.owner_id,
            created_from=scope.created_from,
            created_to=scope.created_to,
            language=scope.language,
            limit=limit,
        )

    def _candidates(
        self, question: str, terms: Sequence[str], scope: Scope
    ) -> tuple[list[int], dict[str, float], dict[int, float]]:
        page = self.search.search(self._query(question, scope, QUESTION_VIDEOS))
        # Where each video found by meaning alone opens: its passage's sentences are weighed even without a
        # question word.
        by_meaning = {hit.video_id: hit.moment.start for hit in page.hits if hit.moment is not None and not hit.matches}
        weights = {}
        found_by: dict[int, float] = {}  # each video, and the weight of the question's words that found it
        for term in terms[:MAX_WORD_SEARCHES]:
            found = self.search.text_index.search(self._query(term, scope, WORD_VIDEOS))
            weights[term] = _rarity(found.total)
            for hit in found.hits:
                found_by[hit.video_id] = found_by.get(hit.video_id, 0.0) + weights[term]
        for term in terms[MAX_WORD_SEARCHES:]:
            weights[term] = _rarity(TOTAL_CAP)
        by_words = sorted(found_by, key=lambda video_id: -found_by[video_id])[:WORD_FOUND_VIDEOS]
        return list(dict.fromkeys([*(hit.video_id for hit in page.hits), *by_words])), weights, by_meaning

    def _weights(self, terms: Sequence[str], scope: Scope) -> dict[str, float]:
        return {term: _rarity(_count(self.search.text_index, self._query(term, scope, 1))) for term in terms}

    def _in_language(self, videos: list[int], language: str | None) -> list[int]:
        if language is None or not videos:
            return videos
        statement = select(search_documents.c.video_id).where(
            search_documents.c.video_id.in_(videos), search_documents.c.language == language
        )
        with self.engine.connect() as conn:
            kept = set(conn.execute(statement).scalars())
        return [video_id for video_id in videos if video_id in kept]

    def _sentences(self, videos: list[int]) -> tuple[dict[int, str], dict[int, list[_Sentence]]]:
        """Each video's title, and its transcript sentences, each once, with the span of a passage it is in."""
        table = VideoPassage
        statement = select(table.video_id, table.start_seconds, table.end_seconds, table.text, table.sentences).where(
            table.video_id.in_(videos), table.kind == TRANSCRIPT
        )
        sentences: dict[int, dict[tuple[float, str], _Sentence]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(statement):
                start, end = row.start_seconds or 0.0, row.end_seconds or 0.0
                timed = (
                    sentences_from_json(row.sentences, row.text) if row.sentences else estimated_sentences(row.text, start, end)
                )
                # Passages overlap by a sentence: the sentence is kept once.
                known = sentences.setdefault(row.video_id, {})
                for sentence in timed:
                    known.setdefault((sentence.start, sentence.text), (start, end, sentence))
            titles = {row.id: row.title for row in conn.execute(select(Video.id, Video.title).where(Video.id.in_(videos)))}
        return titles, {video_id: list(known.values()) for video_id, known in sentences.items()}

    def _scored(
        self,
        question: str,
        terms: Sequence[str],
        weights: dict[str, float],
        titles: dict[int, str],
        sentences: dict[int, list[_Sentence]],
        by_meaning: dict[int, float],
    ) -> list[Evidence]:
        total = sum(weights.values()) or 1.0
        names = name_terms(question)
        candidates = []
        subjects: list[frozenset[str]] = []
        for video_id, timed in sentences.items():
            opens = by_meaning.get(video_id)
            for passage_start, passage_end, sentence in timed:
                found = said_terms(sentence.text.split(), terms)
                said = sum(weights[term] for term in found)
                if said or (opens is not None and passage_start <= opens <= passage_end):
                    says_names = names <= found
                    candidates.append(Evidence(video_id, titles.get(video_id, ""), sentence, said / total, 0.0, says_names))
                    anchors = (names or _rarest(found, weights)) if says_names else set()
                    subjects.append(frozenset(subject_words(question, sentence.text, anchors)))
        if not candidates:
            return []
        embedder = self.sentence_embedder()
        vectors = embedder.embed([question, *(e.sentence.text for e in candidates)])
        similarities = vectors[1:] @ np.asarray(vectors[0], dtype=np.float32)
        focused = _focused(question, candidates, subjects, embedder)
        scored = [replace(e, similarity=float(s), focus=f) for e, s, f in zip(candidates, similarities, focused, strict=True)]
        return sorted(scored, key=lambda e: (-e.score, e.video_id, e.sentence.start))


def _rarest(found: set[str], weights: dict[str, float]) -> set[str]:
    """The rarest of the question's words a sentence says: its subject when the question names none."""
    if not found:
        return set()
    rarest = max(weights[term] for term in found)
    return {term for term in found if weights[term] >= rarest}


def _focused(
    question: str, candidates: Sequence[Evidence], subjects: Sequence[frozenset[str]], embedder: Embedder
) -> list[float]:
    """Each candidate's `focus` (a sentence that does not say every name cannot answer: not weighed)."""
    items = {subject: asked(question, subject) for subject in set(subjects)}
    wanted = sorted({item.to_be_said for listed in items.values() for item in listed if item.to_be_said})
    own_words = [
        [word for word in query_terms(e.sentence.text) if not says(word, tuple(subject))] if e.says_names else []
        for e, subject in zip(candidates, subjects, strict=True)
    ]
    spoken = sorted({word for words in own_words for word in words})
    close_pairs: set[tuple[str, str]] = set()
    if wanted and spoken:
        vectors = embedder.embed([*wanted, *spoken])
        similar = np.asarray(vectors[: len(wanted)]) @ np.asarray(vectors[len(wanted) :]).T
        close_pairs = {(wanted[i], spoken[j]) for i, j in zip(*np.nonzero(similar >= CLOSE), strict=True)}
    return [
        focus(items[subject], e.sentence.text, {w for w in wanted for word in words if (w, word) in close_pairs})
        if e.says_names
        else 0.0
        for e, subject, words in zip(candidates, subjects, own_words, strict=True)
    ]


def name_terms(question: str) -> set[str]:
    """The question's search terms written with a capital after its first word: the names it asks about."""
    words = _WORD.findall(question)
    return {word.lower() for word in words[1:] if word[0].isupper()} & set(query_terms(question))


def _rarity(matches: int) -> float:
    """A word's weight from how many videos say it: log-scaled, a word in every video still weighs a little."""
    return math.log(1 + TOTAL_CAP / max(matches, 1))


def _count(index: SearchIndex, query: SearchQuery) -> int:
    return index.search(query).total
