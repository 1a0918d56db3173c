"""Transcript summarization: token chunking, providers, map-reduce and a quality score.

Plain Python with no Dagster: the `chunk_summaries` asset maps, `video_summary` reduces.
"""

from pipeline.summarization.chunking import DEFAULT_CHUNK_TOKENS, TranscriptChunk, chunk_segments, count_tokens
from pipeline.summarization.mapreduce import (
    DEFAULT_BATCH_SIZE,
    ChunkSummaryResult,
    ReducedSummary,
    SummaryResult,
    map_chunks,
    reduce_summaries,
    summarize_transcript,
)
from pipeline.summarization.providers import (
    PROMPTS,
    ExtractiveSummarizer,
    OpenAIChatSummarizer,
    SummarizerConfigError,
    SummarizerError,
    SummaryProvider,
    build_provider,
    summarizer_from_settings,
)
from pipeline.summarization.quality import QualityReport, score_summary
from pipeline.summarization.text import split_sentences

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHUNK_TOKENS",
    "PROMPTS",
    "ChunkSummaryResult",
    "ExtractiveSummarizer",
    "OpenAIChatSummarizer",
    "QualityReport",
    "ReducedSummary",
    "SummarizerConfigError",
    "SummarizerError",
    "SummaryProvider",
    "SummaryResult",
    "TranscriptChunk",
    "build_provider",
    "chunk_segments",
    "count_tokens",
    "map_chunks",
    "reduce_summaries",
    "score_summary",
    "split_sentences",
    "summarize_transcript",
    "summarizer_from_settings",
]
