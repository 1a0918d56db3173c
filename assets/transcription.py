"""The transcript asset: faster-whisper speech-to-text with timed segments."""

import json

import dagster as dg

from assets.catalog import video_asset
from assets.language import video_language
from assets.media import source_video
from assets.support import k8s_resources, repository
from pipeline import keys
from pipeline.db.models import VideoStatus
from pipeline.scratch import video_scratch_prefix
from pipeline.storage import local_file
from pipeline.transcription import to_webvtt, transcript_to_json
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.transcriber import TranscriberResource


@video_asset(
    group_name="content",
    op_tags=k8s_resources(cpu="2", memory="4Gi"),  # whisper: threads and the model in memory
    deps=[source_video, video_language],
    pool="transcribe",
    description="Speech-to-text with faster-whisper (VAD on): timed segments, detected language; "
    "JSON and WebVTT in the object store. A video without audio gets an empty transcript.",
)
def transcript(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    transcriber: TranscriberResource,
) -> dg.MaterializeResult:
    videos = repository(context, database)
    video = videos.video()
    vid, source_key, media_seconds, language = videos.video_id, video.source_key or "", video.duration_seconds, video.language
    videos.advance(VideoStatus.TRANSCRIBING)
    engine = transcriber.get_transcriber()
    store = object_store.get_store()
    with local_file(store, source_key, video_scratch_prefix("download", vid)) as path:
        # A video without an audio track gets an empty transcript: silence is not a failure.
        # Timestamps past the probed end are clamped (and logged), not a failed check.
        # The stated language is used as is; without one a multilingual model detects it.
        result = engine.transcribe(path, media_seconds=media_seconds, progress=context.log.info, language=language)
    json_key, vtt_key = keys.transcript_json_key(vid), keys.transcript_vtt_key(vid)
    store.put_bytes(json_key, json.dumps(transcript_to_json(result), ensure_ascii=False).encode(), "application/json")
    store.put_bytes(vtt_key, to_webvtt(result.segments).encode(), "text/vtt")
    model_info = engine.model_info()
    row = videos.save_transcript(result, model_info, json_key, vtt_key)
    preview = " ".join(s.text for s in result.segments)[:500]
    return dg.MaterializeResult(
        metadata={
            "language": row.language or "none",
            # stated (by the uploader), detected (with its probability) or assumed (an English-only model).
            "language_source": row.language_source or "none",
            "language_probability": dg.MetadataValue.float(float(row.language_probability or 0.0)),
            "word_count": row.word_count,
            "segment_count": row.segment_count,
            "audio_seconds": dg.MetadataValue.float(row.audio_seconds or 0.0),
            "speech_seconds": dg.MetadataValue.float(row.speech_seconds or 0.0),
            "model": model_info.get("model", ""),
            "preview": dg.MetadataValue.text(preview or "(no speech)"),
        }
    )
