"""The whole asset graph materialized in-process for real videos: real ffmpeg, real tiny.en."""

from __future__ import annotations

import json
import threading

import dagster as dg
import psutil
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest
from sqlalchemy import func, select

from orchestration.definitions import build_definitions
from pipeline import keys
from pipeline.db.models import (
    ChunkSummary,
    OutboxEvent,
    TranscriptSegment,
    Video,
    VideoStatus,
    VideoSummary,
    VideoTranscript,
    VideoVariant,
)
from pipeline.db.session import session_scope
from pipeline.media import probe
from pipeline.samples import DEFAULT_KEYWORDS
from pipeline.search import SearchQuery
from pipeline.search.factory import search_index_from_settings
from pipeline.summarization import PROMPTS, split_sentences
from pipeline.transcription import Transcriber
from tests.fixtures.pipeline import video_asset_keys

pytestmark = pytest.mark.e2e


def _video(harness, vid: int) -> Video:
    with session_scope(harness.engine) as session:
        video = session.get(Video, vid)
        session.expunge(video)
        return video


def _events(harness, vid: int) -> list[str]:
    with session_scope(harness.engine) as session:
        return list(session.scalars(select(OutboxEvent.topic).where(OutboxEvent.key == str(vid)).order_by(OutboxEvent.id)))


@pytest.fixture(scope="module")
def processed_speech_video(module_harness, speech_video_path):
    vid = module_harness.register(speech_video_path, title="Sample talk", description="A short talk")
    return vid, module_harness.run(vid)


def test_speech_video_reaches_ready_with_transcript_variants_summary_and_search(
    module_harness, processed_speech_video, speech_video_path
):
    vid, result = processed_speech_video
    assert result.success
    video = _video(module_harness, vid)
    assert video.status == VideoStatus.READY.value, video.status_message
    source = probe(speech_video_path)

    with session_scope(module_harness.engine) as session:
        transcript = session.scalars(select(VideoTranscript).where(VideoTranscript.video_id == vid)).one()
        variants = session.scalars(select(VideoVariant).where(VideoVariant.video_id == vid)).all()
        summary = session.scalars(select(VideoSummary).where(VideoSummary.video_id == vid)).one()

    # The transcript holds the spoken words.
    spoken = transcript.text.lower()
    recognised = [word for word in DEFAULT_KEYWORDS if word in spoken]
    assert len(recognised) >= len(DEFAULT_KEYWORDS) - 1, (recognised, transcript.text)
    assert transcript.language == "en"
    assert transcript.model_info["model"] == Transcriber.from_settings(module_harness.settings.transcription).model_name

    # Variants: a 1280x720 source gets 360p, 480p and 720p, never upscaled; probed from the real files.
    variants = sorted(variants, key=lambda v: v.height)
    assert [v.label for v in variants] == ["360p", "480p", "720p"]
    for variant, expected in zip(variants, [(640, 360), (852, 480), (1280, 720)], strict=True):
        encoded = probe(module_harness.store.local_path(variant.object_key))
        assert (encoded.width, encoded.height) == (variant.width, variant.height) == expected
        assert encoded.height <= source.height and encoded.width <= source.width
        assert encoded.video_codec == "h264" and encoded.audio_codec == "aac"
    assert module_harness.store.exists(keys.thumbnail_key(vid))
    # The HLS package sits next to them: a master playlist over every rung, read from the store.
    master = probe(module_harness.store.local_path(keys.hls_key(vid, "master.m3u8")), require_video=True)
    assert master.duration_seconds == pytest.approx(source.duration_seconds, abs=0.5)
    for label in ("360p", "480p", "720p"):
        assert module_harness.store.exists(keys.hls_key(vid, f"{label}/index.m3u8"))
        assert module_harness.store.exists(keys.hls_key(vid, f"{label}/seg_00000.ts"))

    # The summary has 4-6 sentences.
    assert 4 <= len(split_sentences(summary.summary)) <= 6, summary.summary
    assert 0.0 < summary.quality_score <= 1.0

    # Searching a spoken word finds the video, with the time the word is spoken.
    index = search_index_from_settings(module_harness.settings.search, module_harness.engine)
    word = recognised[0]
    page = index.search(SearchQuery(text=word))
    assert [hit.video_id for hit in page.hits] == [vid]
    match = page.hits[0].matches[0]
    assert word in match.text.lower()
    with session_scope(module_harness.engine) as session:
        starts = set(session.scalars(select(TranscriptSegment.start_seconds).where(TranscriptSegment.video_id == vid)))
    assert match.start in starts and 0.0 <= match.start < source.duration_seconds

    # Each stage announced itself in the outbox, in lineage order.
    events = _events(module_harness, vid)
    assert events[0] == "video.uploaded" and events[-1] == "video.ready"
    assert events.index("video.transcoded") < events.index("video.ready")
    assert events.index("video.transcribed") < events.index("video.summarized") < events.index("video.ready")

    # Asset checks ran and passed.
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {
        "transcript_segments_are_timed": True,
        "transcript_coverage": True,
        "summary_shape": True,
        "search_document_present": True,
        "chapters_are_well_formed": True,
    }


def test_rerunning_a_partition_leaves_one_of_everything(module_harness, processed_speech_video):
    vid, _ = processed_speech_video

    def inventory() -> dict:
        with session_scope(module_harness.engine) as session:
            count = lambda model: session.scalar(select(func.count()).select_from(model).where(model.video_id == vid))  # noqa: E731
            return {
                "variants": count(VideoVariant),
                "transcripts": count(VideoTranscript),
                "segments": count(TranscriptSegment),
                "chunks": count(ChunkSummary),
                "summaries": count(VideoSummary),
                "objects": sorted(o.key for o in module_harness.store.list(keys.video_prefix(vid))),
            }

    before = inventory()
    assert module_harness.run(vid).success
    after = inventory()
    assert after == before
    assert before["transcripts"] == before["summaries"] == 1 and before["segments"] > 0
    index = search_index_from_settings(module_harness.settings.search, module_harness.engine)
    page = index.search(SearchQuery(text="volcano", limit=50))
    assert [hit.video_id for hit in page.hits] == [vid]
    assert _video(module_harness, vid).status == VideoStatus.READY.value


def test_bad_inputs_fail_clearly_and_a_good_video_still_reaches_ready(
    harness,
    corrupt_video_path,
    truncated_video_path,
    non_video_path,
    silent_video_path,
    hd_video_path,
):
    corrupt = harness.register(corrupt_video_path, title="corrupt")  # cut off before its index (moov at the end)
    truncated = harness.register(truncated_video_path, title="truncated")  # index first, last 40 % cut off
    not_video = harness.register(non_video_path, title="not a video")
    silent = harness.register(silent_video_path, title="silent")
    good = harness.register(hd_video_path, title="good")

    outcomes = {vid: harness.run(vid, raise_on_error=False) for vid in (corrupt, truncated, not_video, silent, good)}

    assert not outcomes[corrupt].success and not outcomes[not_video].success and not outcomes[truncated].success
    corrupt_video, non_video = _video(harness, corrupt), _video(harness, not_video)
    truncated_video = _video(harness, truncated)
    assert corrupt_video.status == non_video.status == truncated_video.status == VideoStatus.FAILED.value
    assert corrupt_video.status_message.startswith("The file could not be read as a video (it may be corrupt or truncated)")
    assert truncated_video.status_message.startswith("The file is truncated or corrupt: only ")
    for message in (corrupt_video.status_message, truncated_video.status_message):
        assert message.endswith("Upload the complete file again.")
    # Bad input is not retried, and nothing after the probe ran (video_language needs no source: it runs beside it).
    truncated_events = outcomes[truncated].all_events
    assert not [e for e in truncated_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    started = {e.step_key for e in truncated_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert started == {"source_video", "video_language"}
    assert "not a video" in non_video.status_message.lower()
    assert "video.failed" in _events(harness, corrupt) and "video.failed" in _events(harness, truncated)

    # A silent video is valid: ready, with an empty transcript and no summary sentences.
    assert outcomes[silent].success
    assert _video(harness, silent).status == VideoStatus.READY.value
    with session_scope(harness.engine) as session:
        transcript = session.scalars(select(VideoTranscript).where(VideoTranscript.video_id == silent)).one()
        assert (transcript.text, transcript.segment_count, transcript.language) == ("", 0, None)
        summary = session.scalars(select(VideoSummary).where(VideoSummary.video_id == silent)).one()
        assert summary.summary == ""

    assert outcomes[good].success
    assert _video(harness, good).status == VideoStatus.READY.value
    # A 1080p source gets the whole ladder; each rung probed from its stored file, none larger than the source.
    source = probe(hd_video_path)
    with session_scope(harness.engine) as session:
        variants = session.scalars(select(VideoVariant).where(VideoVariant.video_id == good).order_by(VideoVariant.height)).all()
    assert [v.label for v in variants] == ["360p", "480p", "720p", "1080p"]
    for variant, expected in zip(variants, [(640, 360), (852, 480), (1280, 720), (1920, 1080)], strict=True):
        encoded = probe(harness.store.local_path(variant.object_key))
        assert (encoded.width, encoded.height) == (variant.width, variant.height) == expected
        assert encoded.width <= source.width and encoded.height <= source.height
    # Nothing of the failed videos was lost: their uploads are still there to inspect or retry.
    assert harness.store.exists(corrupt_video.source_key) and harness.store.exists(non_video.source_key)


def test_transcript_json_and_webvtt_are_stored(module_harness, processed_speech_video):
    vid, _ = processed_speech_video
    payload = json.loads(module_harness.store.get_bytes(keys.transcript_json_key(vid)))
    assert payload["language"] == "en" and payload["segments"]
    vtt = module_harness.store.get_bytes(keys.transcript_vtt_key(vid)).decode()
    assert vtt.startswith("WEBVTT") and "-->" in vtt


def _stale_statuses(harness, settings, vid: int) -> dict[str, str]:
    graph = build_definitions(settings).resolve_asset_graph()
    resolver = CachingStaleStatusResolver(harness.instance, graph, LoadingContextForTest(harness.instance))
    return {key: resolver.get_status(dg.AssetKey(key), str(vid)).value for key in video_asset_keys(graph)}


def test_a_model_change_makes_its_asset_and_everything_downstream_stale(module_harness, processed_speech_video):
    vid, _ = processed_speech_video
    settings = module_harness.settings
    assert set(_stale_statuses(module_harness, settings, vid).values()) == {"FRESH"}

    new_whisper = settings.updated(WHISPER_MODEL_NAME="small.en")
    assert _stale_statuses(module_harness, new_whisper, vid) == {
        "source_video": "FRESH",
        "video_variants": "FRESH",
        "video_language": "FRESH",
        "transcript": "STALE",
        "chunk_summaries": "STALE",
        "video_summary": "STALE",
        "passage_embeddings": "STALE",
        "search_document": "STALE",
        "chapters": "STALE",
    }

    new_prompt = settings.updated(SUMMARY_PROMPT_VERSION="v2")
    statuses = _stale_statuses(module_harness, new_prompt, vid)
    assert statuses["transcript"] == "FRESH"
    assert statuses["chunk_summaries"] == statuses["video_summary"] == statuses["search_document"] == "STALE"
    assert statuses["chapters"] == "STALE"  # titles come from the summarizer

    # A new embedding model: the passages and the search document that indexes them, nothing else.
    new_embedder = settings.updated(EMBEDDING_MODEL="another-model")
    assert _stale_statuses(module_harness, new_embedder, vid) == {
        "source_video": "FRESH",
        "video_variants": "FRESH",
        "video_language": "FRESH",
        "transcript": "FRESH",
        "chunk_summaries": "FRESH",
        "video_summary": "FRESH",
        "passage_embeddings": "STALE",
        "search_document": "STALE",
        "chapters": "STALE",
    }


def test_summary_assets_map_and_reduce_through_an_openai_compatible_api(module_harness, processed_speech_video, fake_openai):
    """Runs last in this module: it replaces the video's summaries with the fake model's."""
    vid, _ = processed_speech_video
    settings = module_harness.settings.updated(
        SUMMARIZER_PROVIDER="openai",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=fake_openai.api_key,
        SUMMARIZER_MODEL="fake-model",
        SUMMARY_CHUNK_TOKENS=12,
    )
    fake_openai.fail_next(429, 1, {"retry-after-ms": "10"})
    fake_openai.echo_sentences = 5  # a model that follows the 4-6 sentence instruction

    result = module_harness.run(
        vid, settings=settings, assets=["chunk_summaries", "video_summary", "passage_embeddings", "search_document"]
    )

    assert result.success
    with session_scope(module_harness.engine) as session:
        chunks = session.scalar(select(func.count()).select_from(ChunkSummary).where(ChunkSummary.video_id == vid))
        summary = session.scalars(select(VideoSummary).where(VideoSummary.video_id == vid)).one()
    prompts = PROMPTS[settings.summarization.prompt_version]
    map_calls = [r for r in fake_openai.requests if r.system.startswith(prompts["chunk"])]
    # Each instruction asks for the video's language.
    assert all(r.system.endswith("Write in English, the language of the video.") for r in fake_openai.requests)
    assert chunks > 5
    # One map call per chunk, plus the 429 that the client retried.
    assert len(map_calls) == chunks + 1
    assert any(r.system.startswith(prompts["final"]) for r in fake_openai.requests)
    assert summary.model_info["provider"] == "openai" and summary.model_info["model"] == "fake-model"
    assert summary.chunk_count == chunks and summary.reduce_rounds >= 2
    assert 4 <= len(split_sentences(summary.summary)) <= 6


def test_materializations_carry_the_title_an_inline_thumbnail_and_progress(module_harness, processed_speech_video):
    vid, result = processed_speech_video
    metadata = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert metadata["source_video"]["title"].value == "Sample talk"
    # A short URL image: the UI renders Markdown under 1,000 characters inline.
    thumbnail = metadata["video_variants"]["thumbnail"].value
    assert thumbnail.endswith(f"/api/v1/videos/{vid}/thumbnail)") and len(thumbnail) < 1000
    run = module_harness.instance.get_run_by_id(result.run_id)
    assert run.tags["videoai/title"] == "Sample talk"
    logs = {
        step: [e.message for e in module_harness.instance.all_logs(result.run_id) if e.step_key == step]
        for step in ("transcript", "video_variants")
    }
    assert any("transcribed" in message and "done" in message for message in logs["transcript"])
    assert any("encoded: done" in message for message in logs["video_variants"])  # ffmpeg's own progress


def test_status_says_transcoding_while_ffmpeg_transcodes_and_the_lowest_rung_plays_first(harness, speech_video_path):
    """Issue 12: the status says what is really happening, and the video is watchable before its ladder is done.

    Sampled every 20 ms while the run goes: is the ladder's ffmpeg (the one `split`ting the picture) running,
    the video's status, and whether its HLS master playlist and its variant rows exist yet."""
    vid = harness.register(speech_video_path, title="Watched while encoding")
    samples: list[tuple[bool, str, bool, int]] = []
    done = threading.Event()

    def ladder_running() -> bool:
        for child in psutil.Process().children(recursive=True):
            try:
                if child.name() == "ffmpeg" and any("split" in part for part in child.cmdline()):
                    return True
            except psutil.NoSuchProcess:
                continue
        return False

    def watch() -> None:
        while not done.is_set():
            encoding = ladder_running()
            with session_scope(harness.engine) as session:
                status = session.get(Video, vid).status
                variants = session.scalar(select(func.count()).select_from(VideoVariant).where(VideoVariant.video_id == vid))
            samples.append((encoding, status, harness.store.exists(keys.hls_key(vid, "master.m3u8")), variants))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = harness.run(vid)
    finally:
        done.set()
        watcher.join()
    assert result.success
    # The in-process executor runs one step at a time: the encode first, chapters after the video is ready.
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert steps.index("video_variants") < steps.index("transcript")
    assert steps.index("search_document") < steps.index("chapters")

    while_encoding = [s for s in samples if s[0]]
    assert while_encoding, "the ladder's ffmpeg was never seen running"
    assert {status for _, status, _, _ in while_encoding} == {VideoStatus.TRANSCODING.value}
    # The lowest rung streams while the ladder is still encoding, before any variant is stored.
    assert any(master and variants == 0 for _, _, master, variants in while_encoding), while_encoding
    # Then every stage in turn, as the assets reach it.
    seen = [status for _, status, _, _ in samples]
    order = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]
    assert order[-1] == VideoStatus.READY.value
    assert (
        order.index(VideoStatus.TRANSCODING.value)
        < order.index(VideoStatus.TRANSCRIBING.value)
        < order.index(VideoStatus.READY.value)
    ), order
