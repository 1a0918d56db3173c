"""Asset checks: transcript timing and coverage, summary shape, search document presence."""

import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from assets.partitions import videos_partitions
from assets.support import repository, video_step
from pipeline.summarization import split_sentences
from resources.database import DatabaseResource
from resources.search_index import SearchIndexResource


def video_check(**kwargs: Any) -> Callable[[Callable[..., dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    """`@asset_check` evaluated per video, so each partition shows its own result; its step wrapped in
    `video_step`, as every per-video asset's is.

    Per-partition checks are a preview feature in Dagster 1.13 (the only way to give a
    partition its own check result); this project opts in knowingly, so the one
    PreviewWarning that opting in raises is silenced here, and nothing else is.
    """

    def decorate(fn: Callable[..., dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", category=dg.PreviewWarning, message="Specifying a partitions_def on an AssetCheckSpec"
            )
            return dg.asset_check(partitions_def=videos_partitions, **kwargs)(video_step(fn))

    return decorate


# Whisper timestamps can run a little past the container's duration.
_TIMING_TOLERANCE_SECONDS = 1.0
# Below this share of speech in an audio track, someone should look (music, noise, wrong language).
MIN_SPEECH_COVERAGE = 0.05


@video_check(asset="transcript", blocking=True, description="Segments are ordered and lie within the audio's duration.")
def transcript_segments_are_timed(context: dg.AssetCheckExecutionContext, database: DatabaseResource) -> dg.AssetCheckResult:
    videos = repository(context, database)
    segments, duration = videos.segments(), videos.video().duration_seconds or 0.0
    problems = [f"segment {i} ends before it starts" for i, s in enumerate(segments) if s.end < s.start]
    problems += [
        f"segment {i} starts before segment {i - 1}" for i in range(1, len(segments)) if segments[i].start < segments[i - 1].start
    ]
    problems += [
        f"segment {i} ends at {s.end:.1f}s, past the video's {duration:.1f}s"
        for i, s in enumerate(segments)
        if s.end > duration + _TIMING_TOLERANCE_SECONDS
    ]
    return dg.AssetCheckResult(passed=not problems, metadata={"segments": len(segments), "problems": "; ".join(problems[:5])})


@video_check(
    asset="transcript", description=f"Speech covers at least {MIN_SPEECH_COVERAGE:.0%} of a video's audio (warning only)."
)
def transcript_coverage(context: dg.AssetCheckExecutionContext, database: DatabaseResource) -> dg.AssetCheckResult:
    videos = repository(context, database)
    row, has_audio = videos.transcript(), bool(videos.video().has_audio)
    assert row is not None, "the transcript asset wrote its row"
    coverage = (row.speech_seconds or 0.0) / row.audio_seconds if row.audio_seconds else 0.0
    passed = not has_audio or coverage >= MIN_SPEECH_COVERAGE
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"coverage": dg.MetadataValue.float(round(coverage, 3)), "has_audio": has_audio},
    )


@video_check(
    asset="video_summary",
    blocking=True,
    description="The summary has 4-6 sentences (or every sentence of a shorter transcript; none without speech).",
)
def summary_shape(context: dg.AssetCheckExecutionContext, database: DatabaseResource) -> dg.AssetCheckResult:
    videos = repository(context, database)
    summary, transcript = videos.summary(), videos.transcript()
    assert summary is not None, "the video_summary asset wrote its row"
    available = len(split_sentences(transcript.text if transcript else ""))
    expected = (4, 6) if available >= 4 else (available, available)
    count = len(split_sentences(summary.summary))
    return dg.AssetCheckResult(
        passed=expected[0] <= count <= expected[1],
        metadata={
            "sentences": count,
            "expected": f"{expected[0]}-{expected[1]}",
            "quality_score": dg.MetadataValue.float(summary.quality_score),
        },
    )


@video_check(asset="search_document", description="The index holds exactly this video's document.")
def search_document_present(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource, search_index: SearchIndexResource
) -> dg.AssetCheckResult:
    videos = repository(context, database)
    document = search_index.get_index().get(videos.video_id)
    title = videos.video().title
    return dg.AssetCheckResult(
        passed=document is not None and document.title == title, metadata={"indexed": document is not None}
    )
