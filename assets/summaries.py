"""Summary assets: map the transcript's chunks to summaries, then reduce them to one."""

import json

import dagster as dg

from assets.catalog import video_asset
from assets.language import video_language
from assets.support import repository
from assets.transcription import transcript
from pipeline import keys
from pipeline.db.models import VideoStatus
from pipeline.summarization import chunk_segments, map_chunks, reduce_summaries
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.summarizer import SummarizerResource


@video_asset(
    group_name="content",
    deps=[transcript, video_language],
    description="Map: the transcript cut into chunks of SUMMARY_CHUNK_TOKENS tokens (counted offline), each "
    "summarized; SUMMARY_BATCH_SIZE chunks run concurrently.",
)
def chunk_summaries(
    context: dg.AssetExecutionContext, database: DatabaseResource, summarizer: SummarizerResource
) -> dg.MaterializeResult:
    videos = repository(context, database)
    videos.advance(VideoStatus.SUMMARIZING)
    chunks = chunk_segments(videos.segments(), summarizer.chunk_tokens)
    provider = summarizer.get_provider(videos.speech_language())  # in the speech's language
    results = map_chunks(chunks, provider, batch_size=summarizer.batch_size, progress=context.log.info)
    videos.replace_chunk_summaries(results)
    return dg.MaterializeResult(
        metadata={
            "chunk_count": len(results),
            "tokens": sum(r.token_count for r in results),
            "provider": summarizer.provider,
        }
    )


@video_asset(
    group_name="content",
    deps=[chunk_summaries, video_language],
    description="Reduce: chunk summaries combined recursively, SUMMARY_BATCH_SIZE at a time, into a final "
    "summary of 4-6 sentences, with a quality score.",
)
def video_summary(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    summarizer: SummarizerResource,
) -> dg.MaterializeResult:
    videos = repository(context, database)
    vid, chunk_texts, transcript = videos.video_id, videos.chunk_summaries(), videos.transcript()
    transcript_text, language = (transcript.text, transcript.language) if transcript else ("", None)
    provider = summarizer.get_provider(language)
    reduced = reduce_summaries(
        chunk_texts,
        provider,
        batch_size=summarizer.batch_size,
        source_text=transcript_text,
        progress=context.log.info,
        language=language,
    )
    model_info = provider.model_info()
    store_key = keys.summary_key(vid)
    object_store.get_store().put_bytes(
        store_key,
        json.dumps(
            {
                "video_id": vid,
                "summary": reduced.summary,
                "sentences": reduced.sentences,
                "quality_score": reduced.quality_score,
                "quality": reduced.quality,
                "model_info": model_info,
            },
            ensure_ascii=False,
        ).encode(),
        "application/json",
    )
    videos.save_summary(reduced, len(chunk_texts), store_key, model_info)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(reduced.summary or "_No speech, so no summary._"),
            "sentence_count": len(reduced.sentences),
            "quality_score": dg.MetadataValue.float(reduced.quality_score),
            "reduce_rounds": reduced.reduce_rounds,
            "model": model_info.get("model", ""),
        }
    )
