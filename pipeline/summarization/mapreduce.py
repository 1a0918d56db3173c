"""Map-reduce summarization of a timed transcript.

Map: the transcript is cut into ~`chunk_tokens` chunks and each is summarized; calls run
concurrently in batches of `batch_size`, batch after batch, so an API sees at most
`batch_size` requests in flight. Reduce: summaries are combined in groups of
`batch_size`, round after round, until one group is left; that last combine is
`final=True`, which shapes the 4-6 sentence summary (a single chunk still goes through
it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import TypeVar

from pipeline.summarization.chunking import DEFAULT_CHUNK_TOKENS, TranscriptChunk, chunk_segments
from pipeline.summarization.providers import SummaryProvider
from pipeline.summarization.quality import score_summary
from pipeline.summarization.text import split_sentences
from pipeline.text import TimedSegment

DEFAULT_BATCH_SIZE = 5

Item = TypeVar("Item")
Output = TypeVar("Output")


# A chunk's summary: the chunk's position, token count and time span, with its summary as `text`.
ChunkSummaryResult = TranscriptChunk


@dataclass(frozen=True)
class ReducedSummary:
    summary: str
    sentences: list[str]
    reduce_rounds: int
    quality_score: float
    quality: dict[str, float]


@dataclass(frozen=True)
class SummaryResult(ReducedSummary):
    """Map and reduce in one: the reduced summary, its chunks' summaries and the model that wrote them."""

    chunk_summaries: list[ChunkSummaryResult] = field(default_factory=list)
    model_info: dict = field(default_factory=dict)


def map_chunks(
    chunks: Sequence[TranscriptChunk],
    provider: SummaryProvider,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
) -> list[ChunkSummaryResult]:
    """Map: summarize every chunk, `batch_size` calls in flight at a time."""
    _check_batch_size(batch_size)
    report = progress or (lambda message: None)
    texts = [chunk.text for chunk in chunks]
    with ThreadPoolExecutor(batch_size, thread_name_prefix="summarize") as pool:
        summaries = _in_batches(pool, provider.summarize_chunk, texts, batch_size, report, "map chunks")
    return [replace(chunk, text=text) for chunk, text in zip(chunks, summaries, strict=True)]


def reduce_summaries(
    summaries: Sequence[str],
    provider: SummaryProvider,
    *,
    source_text: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
    language: str | None = None,
) -> ReducedSummary:
    """Reduce: combine in groups of `batch_size`, round after round, then a final shaping combine.

    `source_text` is the transcript the summaries came from (in `language`), for the quality score.
    No summaries (no speech) make an empty summary without calling the provider.
    """
    _check_batch_size(batch_size)
    if not summaries:
        quality = score_summary("", "")
        return ReducedSummary("", [], 0, quality.score, quality.as_dict())
    report = progress or (lambda message: None)
    level, rounds = list(summaries), 0
    with ThreadPoolExecutor(batch_size, thread_name_prefix="summarize") as pool:
        while len(level) > batch_size:
            rounds += 1
            groups = [level[i : i + batch_size] for i in range(0, len(level), batch_size)]
            combine = partial(provider.combine, final=False)
            level = _in_batches(pool, combine, groups, batch_size, report, f"reduce round {rounds} groups")
    rounds += 1
    report(f"reduce round {rounds}: final combine of {len(level)} summaries")
    summary = provider.combine(level, final=True)
    quality = score_summary(source_text, summary, language)
    return ReducedSummary(summary, split_sentences(summary), rounds, quality.score, quality.as_dict())


def summarize_transcript(
    segments: Sequence[TimedSegment],
    provider: SummaryProvider,
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
) -> SummaryResult:
    """Map then reduce in one call (the assets run the two halves as separate steps)."""
    chunks = chunk_segments(segments, chunk_tokens)
    mapped = map_chunks(chunks, provider, batch_size=batch_size, progress=progress)
    reduced = reduce_summaries(
        [m.text for m in mapped],
        provider,
        source_text=" ".join(chunk.text for chunk in chunks),
        batch_size=batch_size,
        progress=progress,
    )
    return SummaryResult(**asdict(reduced), chunk_summaries=mapped, model_info=provider.model_info())


def _check_batch_size(batch_size: int) -> None:
    # Checked before any call is made: groups of one would never shrink in the reduce.
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 for the reduce to shrink, got {batch_size}")


def _in_batches(
    pool: ThreadPoolExecutor,
    function: Callable[[Item], Output],
    items: Sequence[Item],
    batch_size: int,
    report: Callable[[str], None],
    label: str,
) -> list[Output]:
    """Run `function` over `items`, `batch_size` at a time; each batch finishes before the next starts."""
    results: list[Output] = []
    for first in range(0, len(items), batch_size):
        batch = items[first : first + batch_size]
        report(f"{label} {first + 1}-{first + len(batch)} of {len(items)}")
        results.extend(pool.map(function, batch))
    return results
