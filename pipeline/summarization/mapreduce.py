"""Map-reduce summarization of a timed transcript.

Map: the transcript is cut into ~`chunk_tokens` chunks and each is summarized; calls run
concurrently in batches of `batch_size`, batch after batch, so an API sees at most
`batch_size` requests in flight. Reduce: summaries are combined in groups of
`batch_size`, round after round, until one group is left; that last combine is
`final=True`, which shapes the 4-6 sentence summary (a single chunk still goes through
it).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Sequence, TypeVar

from pipeline.search.base import TimedSegment
from pipeline.summarization.chunking import DEFAULT_CHUNK_TOKENS, chunk_segments
from pipeline.summarization.providers import SummaryProvider
from pipeline.summarization.quality import score_summary
from pipeline.summarization.text import split_sentences

DEFAULT_BATCH_SIZE = 5

Item = TypeVar("Item")
Output = TypeVar("Output")


@dataclass(frozen=True)
class ChunkSummaryResult:
    position: int
    text: str  # the chunk's summary
    token_count: int  # tokens in the chunk's transcript text
    start: float
    end: float


@dataclass(frozen=True)
class SummaryResult:
    summary: str
    sentences: list[str]
    chunk_summaries: list[ChunkSummaryResult]
    reduce_rounds: int
    quality_score: float
    quality: dict[str, float]
    model_info: dict = field(default_factory=dict)


def summarize_transcript(
    segments: Sequence[TimedSegment],
    provider: SummaryProvider,
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
) -> SummaryResult:
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 for the reduce to shrink, got {batch_size}")
    report = progress or (lambda message: None)
    chunks = chunk_segments(segments, chunk_tokens)
    if not chunks:
        quality = score_summary("", "")
        return SummaryResult("", [], [], 0, quality.score, quality.as_dict(), provider.model_info())

    with ThreadPoolExecutor(max_workers=batch_size, thread_name_prefix="summarize") as pool:
        texts = [chunk.text for chunk in chunks]
        summaries = _in_batches(pool, provider.summarize_chunk, texts, batch_size, report, "map chunks")
        level, rounds = summaries, 0
        while len(level) > batch_size:
            rounds += 1
            groups = [level[i : i + batch_size] for i in range(0, len(level), batch_size)]
            combine = partial(provider.combine, final=False)
            level = _in_batches(pool, combine, groups, batch_size, report, f"reduce round {rounds} groups")
        rounds += 1
        report(f"reduce round {rounds}: final combine of {len(level)} summaries")
        summary = provider.combine(level, final=True)

    transcript = " ".join(chunk.text for chunk in chunks)
    quality = score_summary(transcript, summary)
    return SummaryResult(
        summary=summary,
        sentences=split_sentences(summary),
        chunk_summaries=[
            ChunkSummaryResult(chunk.position, text, chunk.token_count, chunk.start, chunk.end)
            for chunk, text in zip(chunks, summaries)
        ],
        reduce_rounds=rounds,
        quality_score=quality.score,
        quality=quality.as_dict(),
        model_info=provider.model_info(),
    )


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
