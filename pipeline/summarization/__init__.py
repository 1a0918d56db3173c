"""Transcript summarization: token chunking, providers, map-reduce and a quality score.

Plain Python with no Dagster: the summary assets call `summarize_transcript`.
"""

from pipeline.summarization.chunking import DEFAULT_CHUNK_TOKENS, TranscriptChunk, chunk_segments, count_tokens
from pipeline.summarization.mapreduce import (
    DEFAULT_BATCH_SIZE,
    ChunkSummaryResult,
    SummaryResult,
    summarize_transcript,
)
from pipeline.summarization.providers import (
    PROMPTS,
    ExtractiveSummarizer,
    OpenAIChatSummarizer,
    SummarizerConfigError,
    SummarizerError,
    SummaryProvider,
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
    "SummarizerConfigError",
    "SummarizerError",
    "SummaryProvider",
    "SummaryResult",
    "TranscriptChunk",
    "chunk_segments",
    "count_tokens",
    "score_summary",
    "split_sentences",
    "summarize_transcript",
    "summarizer_from_settings",
]
