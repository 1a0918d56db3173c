"""The search document: everything a search needs about a video, indexed by video id."""


import dagster as dg
from sqlalchemy import select

from assets.media import video_variants
from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, advance, video_id
from assets.transcription import load_segments
from pipeline.db.models import User, VideoStatus, VideoSummary, VideoTranscript
from pipeline.events import VIDEO_READY
from pipeline.lifecycle import get_video
from pipeline.passages import load_passage_vectors
from pipeline.search import SearchDocument
from resources.database import DatabaseResource
from resources.search_index import SearchIndexResource


def build_search_document(db: DatabaseResource, vid: int, status: str) -> SearchDocument:
    segments = load_segments(db, vid)
    with db.session() as session:
        video = get_video(session, vid)
        owner = session.get(User, video.owner_id) if video.owner_id else None
        transcript = session.scalars(select(VideoTranscript).where(VideoTranscript.video_id == vid)).one_or_none()
        summary = session.scalars(select(VideoSummary.summary).where(VideoSummary.video_id == vid)).one_or_none()
        return SearchDocument(
            video_id=vid, title=video.title, description=video.description or "",
            owner_id=video.owner_id, owner_name=(owner.full_name or owner.email) if owner else None,
            transcript=transcript.text if transcript else "", summary=summary or "", status=status,
            language=transcript.language if transcript else None, created_at=video.created_at,
            updated_at=video.updated_at, duration_seconds=video.duration_seconds, segments=tuple(segments),
        )


def search_document_asset(code_version: str) -> dg.AssetsDefinition:
    """The search document asset; it holds model output, so its code_version names those models."""

    @dg.asset(
        name="search_document",
        partitions_def=videos_partitions,
        group_name="search",
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
        vid = video_id(context)
        advance(database, vid, VideoStatus.INDEXING)
        with database.session() as session:
            # A failed video is indexed as failed: search filters it out by default.
            status = VideoStatus.FAILED.value if get_video(session, vid).status == VideoStatus.FAILED.value \
                else VideoStatus.READY.value
        document = build_search_document(database, vid, status)
        index = search_index.get_index()
        index.upsert(document)
        vectors = search_index.get_vector_index()
        if vectors is not None:
            with database.session() as session:
                model, passages = load_passage_vectors(session, vid)
            vectors.upsert(vid, model or "", passages)
        advance(database, vid, VideoStatus.READY, VIDEO_READY)
        return dg.MaterializeResult(metadata={
            "backend": index.backend_name,
            "segments_indexed": len(document.segments),
            "passages_indexed": len(passages) if vectors is not None else 0,
            "transcript_chars": len(document.transcript),
            "status": status,
        })

    return search_document
