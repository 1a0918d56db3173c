"""Passage embeddings: what semantic and hybrid search look for, one row per passage."""

import dagster as dg
from sqlalchemy import select

from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, video_id
from assets.transcription import load_segments
from pipeline.db.models import VideoSummary
from pipeline.lifecycle import get_video
from pipeline.passages import TRANSCRIPT, save_passages, video_passages
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource


def passage_embeddings_asset(code_version: str) -> dg.AssetsDefinition:
    """`code_version` names the embedding model: changing it marks this asset and search_document stale."""

    @dg.asset(
        name="passage_embeddings",
        partitions_def=videos_partitions,
        group_name="search",
        retry_policy=TRANSIENT_RETRY,
        deps=["transcript", "video_summary"],
        code_version=code_version,
        kinds={"embeddings"},
        description="The transcript cut into ~30-60 s passages (with their start times), plus the title and the "
                    "summary, each embedded by the embedding model (offline WordLlama by default).",
    )
    def passage_embeddings(context: dg.AssetExecutionContext, database: DatabaseResource,
                           embedding: EmbeddingResource) -> dg.MaterializeResult:
        vid = video_id(context)
        segments = load_segments(database, vid)
        with database.session() as session:
            title = get_video(session, vid).title
            summary = session.scalars(select(VideoSummary.summary).where(VideoSummary.video_id == vid)).one_or_none()
        passages = video_passages(title, summary or "", segments)
        embedder = embedding.get_embedder()
        vectors = embedder.embed([p.text for p in passages])
        with database.session() as session:
            save_passages(session, vid, embedder.model_id, passages, vectors)
        spans = [f"{p.start:.0f}-{p.end:.0f}s" for p in passages if p.kind == TRANSCRIPT and p.start is not None]
        return dg.MaterializeResult(metadata={
            "passages": len(passages),
            "transcript_passages": dg.MetadataValue.text(", ".join(spans) or "none"),
            "model": embedder.model_id,
            "dimensions": embedder.dimensions,
        })

    return passage_embeddings
