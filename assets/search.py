"""The search document: everything a search needs about a video, indexed by video id."""

import dagster as dg

from assets.catalog import video_asset
from assets.embeddings import passage_embeddings
from assets.language import video_language
from assets.media import video_variants
from assets.summaries import video_summary
from assets.support import repository
from pipeline.db.models import VideoStatus
from resources.database import DatabaseResource
from resources.search_index import SearchIndexResource


@video_asset(
    group_name="content",
    deps=[video_summary, video_variants, passage_embeddings, video_language],
    description="The video's search document (title, description, owner, transcript, summary, status, dates "
    "and timed segments) and its passage vectors, keyed by video id; indexing it makes the video "
    "ready.",
)
def search_document(
    context: dg.AssetExecutionContext, database: DatabaseResource, search_index: SearchIndexResource
) -> dg.MaterializeResult:
    videos = repository(context, database)
    videos.advance(VideoStatus.INDEXING)
    document = videos.search_document()
    index = search_index.get_index()
    index.upsert(document)
    vectors = search_index.get_vector_index()
    if vectors is not None:
        model, passages = videos.passage_vectors()
        vectors.upsert(videos.video_id, model or "", passages)
    videos.mark_indexed()
    return dg.MaterializeResult(
        metadata={
            "backend": index.backend_name,
            "segments_indexed": len(document.segments),
            "passages_indexed": len(passages) if vectors is not None else 0,
            "transcript_chars": len(document.transcript),
            "status": document.status,
        }
    )
