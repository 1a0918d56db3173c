"""The transcript asset: faster-whisper speech-to-text with timed segments."""


import json

import dagster as dg
from sqlalchemy import delete, select

from assets.media import source_video
from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, advance, k8s_resources, row_for_video, video_id
from pipeline import keys
from pipeline.db.models import TranscriptSegment, VideoStatus, VideoTranscript
from pipeline.events import VIDEO_TRANSCRIBED
from pipeline.lifecycle import get_video
from pipeline.storage import local_file
from pipeline.text import TimedSegment, word_count
from pipeline.transcription import TranscriptResult, to_webvtt, transcript_to_json
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.transcriber import TranscriberResource


def _save_transcript(db: DatabaseResource, vid: int, result: TranscriptResult, model_info: dict,
                     json_key: str, vtt_key: str) -> VideoTranscript:
    """Replace the video's transcript row and segments (idempotent per partition)."""
    text = " ".join(segment.text for segment in result.segments)
    with db.session() as session:
        row = row_for_video(session, VideoTranscript, vid)
        row.language, row.language_probability = result.language, result.language_probability
        row.text, row.word_count, row.segment_count = text, word_count(text), len(result.segments)
        row.audio_seconds, row.speech_seconds = result.duration_seconds, result.speech_seconds
        row.json_key, row.vtt_key, row.model_info = json_key, vtt_key, model_info
        session.execute(delete(TranscriptSegment).where(TranscriptSegment.video_id == vid))
        session.add_all(TranscriptSegment(video_id=vid, position=i, start_seconds=s.start, end_seconds=s.end, text=s.text)
                        for i, s in enumerate(result.segments))
        session.flush()
        session.expunge(row)
        return row


def transcript_asset(code_version: str) -> dg.AssetsDefinition:
    """The transcript asset; `code_version` is the transcriber's identity, so a model change makes it stale."""

    @dg.asset(
        name="transcript",
        partitions_def=videos_partitions,
        group_name="transcription",
        retry_policy=TRANSIENT_RETRY,
        op_tags=k8s_resources(cpu="2", memory="4Gi"),  # whisper: threads and the model in memory
        deps=[source_video],
        code_version=code_version,
        kinds={"whisper"},
        pool="transcribe",
        description="Speech-to-text with faster-whisper (VAD on): timed segments, detected language; "
                    "JSON and WebVTT in the object store. A video without audio gets an empty transcript.",
    )
    def transcript(context: dg.AssetExecutionContext, database: DatabaseResource,
                   object_store: ObjectStoreResource, transcriber: TranscriberResource) -> dg.MaterializeResult:
        vid = video_id(context)
        with database.session() as session:
            source_key = get_video(session, vid).source_key or ""
        advance(database, vid, VideoStatus.TRANSCRIBING)
        engine = transcriber.get_transcriber()
        store = object_store.get_store()
        with local_file(store, source_key) as path:
            # A video without an audio track gets an empty transcript: silence is not a failure.
            result = engine.transcribe(path)
        json_key, vtt_key = keys.transcript_json_key(vid), keys.transcript_vtt_key(vid)
        store.put_bytes(json_key, json.dumps(transcript_to_json(result), ensure_ascii=False).encode(), "application/json")
        store.put_bytes(vtt_key, to_webvtt(result.segments).encode(), "text/vtt")
        model_info = engine.model_info()
        row = _save_transcript(database, vid, result, model_info, json_key, vtt_key)
        advance(database, vid, VideoStatus.TRANSCRIBING, VIDEO_TRANSCRIBED,
                {"language": row.language, "word_count": row.word_count, "segment_count": row.segment_count})
        preview = " ".join(s.text for s in result.segments)[:500]
        return dg.MaterializeResult(metadata={
            "language": row.language or "none",
            "word_count": row.word_count,
            "segment_count": row.segment_count,
            "audio_seconds": dg.MetadataValue.float(row.audio_seconds or 0.0),
            "speech_seconds": dg.MetadataValue.float(row.speech_seconds or 0.0),
            "model": model_info.get("model", ""),
            "preview": dg.MetadataValue.text(preview or "(no speech)"),
        })

    return transcript


def load_segments(db: DatabaseResource, vid: int) -> list[TimedSegment]:
    with db.session() as session:
        rows = session.scalars(select(TranscriptSegment).where(TranscriptSegment.video_id == vid)
                               .order_by(TranscriptSegment.position)).all()
        return [TimedSegment(r.start_seconds, r.end_seconds, r.text) for r in rows]
