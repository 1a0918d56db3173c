"""Chapters: the transcript split where its topic changes, titled, as rows and a WebVTT chapters track."""

import dagster as dg

from assets.checks import video_check
from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, repository
from pipeline import keys
from pipeline.chapters import chapter_problems, chapter_writer_for, make_chapters, to_webvtt_chapters
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.object_store import ObjectStoreResource
from resources.summarizer import SummarizerResource


def chapters_assets(code_version: str, min_seconds: float) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    """The `chapters` asset and its check; `code_version` names the transcriber, summarizer and embedding model."""

    @dg.asset(
        name="chapters",
        partitions_def=videos_partitions,
        group_name="content",
        deps=["transcript", "chunk_summaries"],
        code_version=code_version,
        kinds={"embeddings", "llm"},
        retry_policy=TRANSIENT_RETRY,
        # After the steps that make the video ready (chapters are not part of its search document).
        op_tags={"dagster/priority": "-1"},
        description="Topical chapters of the speech (boundaries where the meaning of adjacent windows changes "
                    f"most, each at least {min_seconds:g} s), with a short title and a one-sentence gist from the "
                    "summarizer; rows and a WebVTT chapters track. Silence gives none, short speech one.",
    )
    def chapters(context: dg.AssetExecutionContext, database: DatabaseResource, object_store: ObjectStoreResource,
                 summarizer: SummarizerResource, embedding: EmbeddingResource) -> dg.MaterializeResult:
        videos = repository(context, database)
        embed = embedding.get_embedder().embed
        writer = chapter_writer_for(summarizer.get_provider(), embed)
        found = make_chapters(videos.segments(), embed, writer, context=" ".join(videos.chunk_summaries()),
                              min_seconds=min_seconds, duration=videos.video().duration_seconds)
        object_store.get_store().put_bytes(keys.chapters_vtt_key(videos.video_id), to_webvtt_chapters(found).encode(),
                                           "text/vtt")
        videos.save_chapters(found)
        table = "\n".join(f"| {c.start:.1f}-{c.end:.1f}s | {c.title} | {c.gist} |" for c in found)
        return dg.MaterializeResult(metadata={
            "chapter_count": len(found),
            "chapters": dg.MetadataValue.md("| time | title | gist |\n|---|---|---|\n" + table if found
                                            else "_No speech, so no chapters._"),
            "writer": writer.identity(),
        })

    @video_check(asset="chapters",
                 description=f"Chapters are ordered, don't overlap, cover the speech and last at least "
                             f"{min_seconds:g} s each (one chapter may be shorter; silence has none).")
    def chapters_are_well_formed(context: dg.AssetCheckExecutionContext,
                                 database: DatabaseResource) -> dg.AssetCheckResult:
        videos = repository(context, database)
        found = videos.chapters()
        problems = chapter_problems(found, videos.segments(), min_seconds)
        return dg.AssetCheckResult(passed=not problems, metadata={"chapters": len(found),
                                                                  "problems": "; ".join(problems[:5])})

    return chapters, chapters_are_well_formed
