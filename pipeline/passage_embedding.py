"""A video's passages cut along its topics and embedded: the `passage_embeddings` asset's work.

Topics change where the video's chapters begin: the same cutting as the chapters
asset (`pipeline.chapters.segment_chapters`, chapters of at least `topic_min_seconds`),
without their titles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pipeline.chapters import DEFAULT_MIN_SECONDS, segment_chapters
from pipeline.passages import Passage, video_passages
from pipeline.text import TimedSegment

if TYPE_CHECKING:
    from pipeline.db.videos import VideoRepository
    from pipeline.embeddings import Embedder


def topic_changes(
    segments: Sequence[TimedSegment],
    embed: Callable[[list[str]], np.ndarray],
    *,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    duration: float | None = None,
) -> list[float]:
    """When the topic changes: the chapters' starts after the first (as the chapters asset cuts them)."""
    return [chapter.start for chapter in segment_chapters(segments, embed, min_seconds=min_seconds, end=duration)[1:]]


def cut_passages(
    title: str,
    summary: str,
    segments: Sequence[TimedSegment],
    duration: float | None,
    embed: Callable[[list[str]], np.ndarray],
    topic_min_seconds: float = DEFAULT_MIN_SECONDS,
) -> tuple[list[Passage], list[float]]:
    """A video's passages, cut at its topic changes (found as its chapters are), and those changes."""
    changes = topic_changes(segments, embed, min_seconds=topic_min_seconds, duration=duration)
    return video_passages(title, summary, segments, changes), changes


def embed_passages(
    videos: VideoRepository, embedder: Embedder, topic_min_seconds: float = DEFAULT_MIN_SECONDS
) -> tuple[list[Passage], list[float]]:
    """Cut the video's passages, embed and store them: what the `passage_embeddings` asset does.
    Returns the passages and the topic changes."""
    summary, video = videos.summary(), videos.video()
    passages, changes = cut_passages(
        video.title,
        summary.summary if summary else "",
        videos.segments(),
        video.duration_seconds,
        embedder.embed,
        topic_min_seconds,
    )
    videos.save_passages(embedder.model_id, passages, embedder.embed([p.text for p in passages]))
    return passages, changes
