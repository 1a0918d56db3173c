"""Passage embeddings: what semantic and hybrid search look for, one row per passage."""

import dagster as dg

from assets.catalog import video_asset
from assets.language import video_language
from assets.summaries import video_summary
from assets.support import repository
from assets.transcription import transcript
from pipeline.passage_embedding import embed_passages
from pipeline.passages import TRANSCRIPT
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.passages import PassageRulesResource


@video_asset(
    group_name="content",
    deps=[transcript, video_summary, video_language],
    description="The transcript cut into ~30-60 s passages of whole sentences that never span a topic change "
    "(found as chapters are) and overlap by a sentence, with their sentences' times, plus the title and "
    "the summary, each embedded by the embedding model (offline WordLlama by default).",
)
def passage_embeddings(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    embedding: EmbeddingResource,
    passage_rules: PassageRulesResource,
) -> dg.MaterializeResult:
    embedder = embedding.get_embedder()
    passages, changes = embed_passages(repository(context, database), embedder, passage_rules.topic_min_seconds)
    spans = [f"{p.start:.0f}-{p.end:.0f}s" for p in passages if p.kind == TRANSCRIPT and p.start is not None]
    return dg.MaterializeResult(
        metadata={
            "passages": len(passages),
            "transcript_passages": dg.MetadataValue.text(", ".join(spans) or "none"),
            "topic_changes": dg.MetadataValue.text(", ".join(f"{t:.1f}s" for t in changes) or "none"),
            "model": embedder.model_id,
            "dimensions": embedder.dimensions,
        }
    )
