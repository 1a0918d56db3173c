"""A simple, documented quality score for a summary, in [0, 1].

    quality_score = 0.25 * shape + 0.40 * coverage + 0.15 * compression + 0.20 * non_redundancy

Components (each in [0, 1]):

- shape: sentence-count compliance. 1.0 when the summary has between
  min(4, sentences in the source) and 6 sentences; n/4 below that, 6/n above it.
- coverage: share of the source's top 20 content words (most frequent non-stopwords,
  ties broken by first appearance) that occur in the summary.
- compression: 1 - (summary words / source words), floored at 0. A summary as long as
  its source compresses nothing.
- non_redundancy: share of summary sentences that are not near-duplicates (content-word
  Jaccard similarity >= 0.6) of an earlier summary sentence.

An empty summary scores 0 on every component. The score measures form and topical
overlap only; it cannot tell whether a summary is faithful, so treat it as a smoke
alarm for broken summaries, not as a grade.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from pipeline.summarization.text import content_words, split_sentences
from pipeline.text import word_count

MIN_SUMMARY_SENTENCES = 4
MAX_SUMMARY_SENTENCES = 6
TOP_CONTENT_WORDS = 20
NEAR_DUPLICATE_JACCARD = 0.6
WEIGHTS = {"shape": 0.25, "coverage": 0.40, "compression": 0.15, "non_redundancy": 0.20}


@dataclass(frozen=True)
class QualityReport:
    score: float
    shape: float
    coverage: float
    compression: float
    non_redundancy: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def score_summary(source: str, summary: str, language: str | None = None) -> QualityReport:
    """Score `summary` of `source` (both plain text, in `language`) with the formula above."""
    sentences = split_sentences(summary)
    if not sentences:
        return QualityReport(0.0, 0.0, 0.0, 0.0, 0.0)
    components = {
        "shape": shape_score(len(sentences), len(split_sentences(source))),
        "coverage": coverage_score(source, summary, language),
        "compression": max(0.0, 1.0 - word_count(summary) / max(word_count(source), 1)),
        "non_redundancy": non_redundancy_score(sentences, language),
    }
    score = sum(WEIGHTS[name] * value for name, value in components.items())
    return QualityReport(score=round(score, 4), **{name: round(value, 4) for name, value in components.items()})


def shape_score(summary_sentences: int, source_sentences: int) -> float:
    minimum = min(MIN_SUMMARY_SENTENCES, max(source_sentences, 1))
    if summary_sentences < minimum:
        return summary_sentences / minimum
    if summary_sentences > MAX_SUMMARY_SENTENCES:
        return MAX_SUMMARY_SENTENCES / summary_sentences
    return 1.0


def top_content_words(text: str, limit: int = TOP_CONTENT_WORDS, language: str | None = None) -> list[str]:
    # Counter.most_common keeps first-seen order among equal counts.
    return [word for word, _ in Counter(content_words(text, language)).most_common(limit)]


def coverage_score(source: str, summary: str, language: str | None = None) -> float:
    top = top_content_words(source, language=language)
    if not top:
        return 0.0
    present = set(content_words(summary, language))
    return sum(word in present for word in top) / len(top)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def non_redundancy_score(sentences: list[str], language: str | None = None) -> float:
    seen: list[set[str]] = []
    distinct = 0
    for sentence in sentences:
        words = set(content_words(sentence, language))
        if not any(jaccard(words, earlier) >= NEAR_DUPLICATE_JACCARD for earlier in seen):
            distinct += 1
        seen.append(words)
    return distinct / len(sentences)
