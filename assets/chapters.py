"""Chapters: the transcript split where its topic changes, titled, as rows and a WebVTT chapters track."""

import dagster as dg

from assets.catalog import video_asset
from assets.checks import video_check
from assets.language import video_language
from assets.summaries import chunk_summaries
from assets.support import repository
from assets.transcription import transcript
from pipeline import keys
from pipeline.chapters import chapter_problems, chapter_writer_for, make_chapters, to_webvtt_chapters
from resources.chapters import ChapterRulesResource
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.object_store import ObjectStoreResource
from resources.summarizer import SummarizerResource


@video_asset(
    group_name="content",
    deps=[transcript, chunk_summaries, video_language],
    # After the steps that make the video ready (chapters are not part of its search document).
    op_tags={"dagster/priority": "-1"},
    description="Topical chapters of the speech (boundaries where the meaning of adjacent windows changes "
    "most, each at least CHAPTER_MIN_SECONDS long), with a short title and a one-sentence gist from "
    "the summarizer; rows and a WebVTT chapters track. Silence gives none, short speech one.",
)
def chapters(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    summarizer: SummarizerResource,
    embedding: EmbeddingResource,
    chapter_rules: ChapterRulesResource,
) -> dg.MaterializeResult:
    videos = repository(context, database)
    embed = embedding.get_embedder().embed
    language = videos.speech_language()  # titles and gists in the speech's language
    writer = chapter_writer_for(summarizer.get_provider(language), embed, language)
    found = make_chapters(
        videos.segments(),
        embed,
        writer,
        context=" ".join(videos.chunk_summaries()),
        min_seconds=chapter_rules.min_seconds,
        duration=videos.video().duration_seconds,
    )
    object_store.get_store().put_bytes(keys.chapters_vtt_key(videos.video_id), to_webvtt_chapters(found).encode(), "text/vtt")
    videos.save_chapters(found)
    table = "\n".join(f"| {c.start:.1f}-{c.end:.1f}s | {c.title} | {c.gist} |" for c in found)
    return dg.MaterializeResult(
        metadata={
            "chapter_count": len(found),
            "chapters": dg.MetadataValue.md(
                "| time | title | gist |\n|---|---|---|\n" + table if found else "_No speech, so no chapters._"
            ),
            "writer": writer.identity(),
        }
    )


@video_check(
    asset=chapters,
    description="Chapters are ordered, don't overlap, cover the speech and last at least CHAPTER_MIN_SECONDS "
    "each (one chapter may be shorter; silence has none).",
)
def chapters_are_well_formed(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource, chapter_rules: ChapterRulesResource
) -> dg.AssetCheckResult:
    videos = repository(context, database)
    found = videos.chapters()
    problems = chapter_problems(found, videos.segments(), chapter_rules.min_seconds)
    return dg.AssetCheckResult(passed=not problems, metadata={"chapters": len(found), "problems": "; ".join(problems[:5])})
