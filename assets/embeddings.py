"""Passage embeddings: what semantic and hybrid search look for, one row per passage."""

import dagster as dg

from assets.catalog import video_asset
from assets.summaries import video_summary
from assets.support import repository
from assets.transcription import transcript
from pipeline.passages import TRANSCRIPT, video_passages
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource


@video_asset(
    group_name="content",
    deps=[transcript, video_summary],
    description="The transcript cut into ~30-60 s passages (with their start times), plus the title and the "
                "summary, each embedded by the embedding model (offline WordLlama by default).",
)
def passage_embeddings(context: dg.AssetExecutionContext, database: DatabaseResource,
                       embedding: EmbeddingResource) -> dg.MaterializeResult:
    videos = repository(context, database)
    summary = videos.summary()
    passages = video_passages(videos.video().title, summary.summary if summary else "", videos.segments())
    embedder = embedding.get_embedder()
    vectors = embedder.embed([p.text for p in passages])
    videos.save_passages(embedder.model_id, passages, vectors)
    spans = [f"{p.start:.0f}-{p.end:.0f}s" for p in passages if p.kind == TRANSCRIPT and p.start is not None]
    return dg.MaterializeResult(metadata={
        "passages": len(passages),
        "transcript_passages": dg.MetadataValue.text(", ".join(spans) or "none"),
        "model": embedder.model_id,
        "dimensions": embedder.dimensions,
    })
