"""The search document: everything a search needs about a video, indexed by video id."""


import dagster as dg

from assets.media import video_variants
from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, repository
from pipeline.db.models import VideoStatus
from resources.database import DatabaseResource
from resources.search_index import SearchIndexResource


def search_document_asset(code_version: str) -> dg.AssetsDefinition:
    """The search document asset; it holds model output, so its code_version names those models."""

    @dg.asset(
        name="search_document",
        partitions_def=videos_partitions,
        group_name="content",
        retry_policy=TRANSIENT_RETRY,
        deps=["video_summary", video_variants, "passage_embeddings"],
        code_version=code_version,
        kinds={"search"},
        description="The video's search document (title, description, owner, transcript, summary, status, dates "
                    "and timed segments) and its passage vectors, keyed by video id; indexing it makes the video "
                    "ready.",
    )
    def search_document(context: dg.AssetExecutionContext, database: DatabaseResource,
                        search_index: SearchIndexResource) -> dg.MaterializeResult:
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
        return dg.MaterializeResult(metadata={
            "backend": index.backend_name,
            "segments_indexed": len(document.segments),
            "passages_indexed": len(passages) if vectors is not None else 0,
            "transcript_chars": len(document.transcript),
            "status": document.status,
        })

    return search_document
