"""Media assets: the probed source video, and its playable variants and thumbnail."""

from contextlib import nullcontext

import dagster as dg

from assets.catalog import video_asset
from assets.support import fail_video, k8s_resources, repository, thumbnail_url, watch_url
from pipeline import hls, keys
from pipeline.db.models import VideoStatus
from pipeline.media import MediaError, check_complete, plan_ladder, probe, thumbnail_time, transcode_ladder
from pipeline.scratch import scratch_dir, video_scratch_prefix
from pipeline.storage import ObjectNotFound, local_file
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource


@video_asset(
    group_name="media",
    kinds={"ffmpeg"},
    description="The uploaded video, probed: duration, streams, resolution and codecs.",
)
def source_video(
    context: dg.AssetExecutionContext, database: DatabaseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    videos = repository(context, database)
    video = videos.video()
    if not video.source_key:
        raise fail_video(videos, "The upload never completed: no source file was stored. Upload the video again.")
    videos.start_processing()
    store = object_store.get_store()
    try:
        with local_file(store, video.source_key, video_scratch_prefix("download", videos.video_id)) as path:
            info = probe(path)
            # A cut-off upload can probe as whole; it must fail here, not reach `ready` short.
            check_complete(path, info.duration_seconds)
    except ObjectNotFound as error:
        raise fail_video(
            videos, f"The uploaded file is missing from storage ({video.source_key}). Upload the video again."
        ) from error
    except MediaError as error:
        raise fail_video(videos, str(error)) from error
    videos.save_probe(info)
    return dg.MaterializeResult(
        metadata={
            "title": video.title,
            "watch": dg.MetadataValue.url(watch_url(videos.video_id)),
            "description": dg.MetadataValue.text(video.description or ""),
            "duration_seconds": dg.MetadataValue.float(info.duration_seconds),
            "resolution": f"{info.width}x{info.height}",
            "video_codec": info.video_codec or "none",
            "audio_codec": info.audio_codec or "none",
            "has_audio": info.has_audio,
            "size_bytes": dg.MetadataValue.int(video.size_bytes or 0),
            "object_key": video.source_key,
        }
    )


@video_asset(
    group_name="media",
    # One ffmpeg encoding every rung at once. First among the steps ready to run (the in-process
    # executor runs one at a time): the video becomes watchable early, and while ffmpeg
    # transcodes, the status says `transcoding`, not the next stage.
    op_tags={**k8s_resources(cpu="4", memory="4Gi"), "dagster/priority": "1"},
    deps=[source_video],
    kinds={"ffmpeg"},
    description="H.264/AAC MP4 variants at 360p, 480p, 720p and 1080p (never upscaled), encoded by one "
    "ffmpeg process that decodes the source once; from the same process, an HLS package (master "
    "playlist over every rung, segments cut from the packets it encodes) and a JPEG thumbnail. "
    "While it encodes, the lowest rung is published as live HLS, so a new video can be watched "
    "within seconds.",
)
def video_variants(
    context: dg.AssetExecutionContext, database: DatabaseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    videos = repository(context, database)
    vid, video = videos.video_id, videos.video()
    store = object_store.get_store()
    rungs = plan_ladder(video.width or 0, video.height or 0)

    def publish(name: str, data: bytes) -> None:
        store.put_bytes(keys.hls_key(vid, name), data, hls.content_type(name))

    with (
        scratch_dir(video_scratch_prefix("ladder", vid)) as workdir,
        local_file(store, video.source_key or "", video_scratch_prefix("download", vid)) as source,
    ):
        # A ready video being reprocessed stays watchable from its full package; no preview over it.
        preview = (
            hls.LivePreview(workdir / "preview", rungs[0], publish, context.log.warning)
            if video.status != VideoStatus.READY.value
            else None
        )
        thumb_path, duration = workdir / "thumbnail.jpg", video.duration_seconds or 0.0
        try:
            with preview.running() if preview else nullcontext() as preview_dir:
                encoded = transcode_ladder(
                    source,
                    workdir,
                    rungs,
                    has_audio=bool(video.has_audio),
                    progress=context.log.info,
                    duration_seconds=duration,
                    preview_dir=preview_dir,
                    hls_dir=workdir / "hls",
                    thumbnail=thumb_path,
                    thumbnail_at=thumbnail_time(duration),
                )
            package = hls.package_hls(encoded, workdir / "hls")
        except MediaError as error:
            raise fail_video(videos, str(error)) from error
        for variant in encoded:
            store.put_file(keys.variant_key(vid, variant.label), variant.path, content_type="video/mp4")
        store.put_file(keys.thumbnail_key(vid), thumb_path, content_type="image/jpeg")
        hls_keys = {keys.hls_key(vid, name) for name in package.files()}
        for name in package.files():  # master playlist last
            store.put_file(keys.hls_key(vid, name), package.root / name, content_type=hls.content_type(name))

    for key in videos.replace_variants(encoded):  # rungs no longer made
        store.delete(key)
    for stored in store.list(keys.hls_prefix(vid), limit=100_000):
        if stored.key not in hls_keys:  # segments of an earlier, longer or differently laddered package
            store.delete(stored.key)

    table = "\n".join(
        f"| {v.label} | {v.width}x{v.height} | {v.video_codec}/{v.audio_codec or '-'} | {v.size_bytes / 1e6:.2f} MB |"
        for v in encoded
    )
    return dg.MaterializeResult(
        metadata={
            "variants": dg.MetadataValue.md("| variant | resolution | codecs | size |\n|---|---|---|---|\n" + table),
            "title": video.title,
            "variant_count": len(encoded),
            "hls_master_key": keys.hls_key(vid, hls.MASTER_PLAYLIST),
            "hls_segment_count": sum(len(r.segments) for r in package.renditions),
            "source_resolution": f"{video.width}x{video.height}",
            # A URL image (the API's public thumbnail route) is short, so the UI renders it inline.
            "thumbnail": dg.MetadataValue.md(f"![thumbnail of video {vid}]({thumbnail_url(vid)})"),
        }
    )
