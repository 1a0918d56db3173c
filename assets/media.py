"""Media assets: the probed source video, and its playable variants and thumbnail."""


import base64
import tempfile
from pathlib import Path

import dagster as dg
from sqlalchemy import delete

from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, advance, fail_video, k8s_resources, video_id
from pipeline import hls, keys
from pipeline.db.models import Video, VideoStatus, VideoVariant
from pipeline.events import VIDEO_TRANSCODED
from pipeline.lifecycle import get_video, start_processing
from pipeline.media import MediaError, make_thumbnail, plan_ladder, probe, thumbnail_time, transcode_ladder
from pipeline.storage import ObjectNotFound, local_file
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource

# Metadata thumbnails are embedded in the event log: keep them small.
_UI_THUMBNAIL_WIDTH = 320


def _load_source(db: DatabaseResource, vid: int) -> Video:
    with db.session() as session:
        video = get_video(session, vid)
        session.expunge(video)
        return video


@dg.asset(
    partitions_def=videos_partitions,
    group_name="media",
    retry_policy=TRANSIENT_RETRY,
    kinds={"ffmpeg"},
    description="The uploaded video, probed: duration, streams, resolution and codecs.",
)
def source_video(context: dg.AssetExecutionContext, database: DatabaseResource,
                 object_store: ObjectStoreResource) -> dg.MaterializeResult:
    vid = video_id(context)
    video = _load_source(database, vid)
    if not video.source_key:
        raise fail_video(database, vid, "The upload never completed: no source file was stored. Upload the video again.")
    with database.session() as session:
        start_processing(session, vid)
    store = object_store.get_store()
    try:
        with local_file(store, video.source_key) as path:
            info = probe(path)
    except ObjectNotFound as error:
        raise fail_video(database, vid, f"The uploaded file is missing from storage ({video.source_key}). "
                                        "Upload the video again.") from error
    except MediaError as error:
        raise fail_video(database, vid, str(error)) from error
    with database.session() as session:
        row = get_video(session, vid)
        row.duration_seconds, row.width, row.height = info.duration_seconds, info.width, info.height
        row.has_audio, row.probe = info.has_audio, info.as_dict()
    return dg.MaterializeResult(metadata={
        "duration_seconds": dg.MetadataValue.float(info.duration_seconds),
        "resolution": f"{info.width}x{info.height}",
        "video_codec": info.video_codec or "none",
        "audio_codec": info.audio_codec or "none",
        "has_audio": info.has_audio,
        "size_bytes": dg.MetadataValue.int(video.size_bytes or 0),
        "object_key": video.source_key,
    })


@dg.asset(
    partitions_def=videos_partitions,
    group_name="media",
    retry_policy=TRANSIENT_RETRY,
    op_tags=k8s_resources(cpu="4", memory="4Gi"),  # one ffmpeg encoding every rung at once
    deps=[source_video],
    kinds={"ffmpeg"},
    description="H.264/AAC MP4 variants at 360p, 480p, 720p and 1080p (never upscaled), encoded by one "
                "ffmpeg process that decodes the source once; an HLS package (master playlist over every "
                "rung, segments cut from the variants by stream copy); a JPEG thumbnail.",
)
def video_variants(context: dg.AssetExecutionContext, database: DatabaseResource,
                   object_store: ObjectStoreResource) -> dg.MaterializeResult:
    vid = video_id(context)
    video = _load_source(database, vid)
    store = object_store.get_store()
    rungs = plan_ladder(video.width or 0, video.height or 0)
    with tempfile.TemporaryDirectory(prefix="videoai-ladder-") as tmp, local_file(store, video.source_key or "") as source:
        workdir = Path(tmp)
        try:
            encoded = transcode_ladder(source, workdir, rungs, has_audio=bool(video.has_audio))
            package = hls.package_hls(encoded, workdir / "hls")
            moment = thumbnail_time(video.duration_seconds or 0.0)
            thumb_path = make_thumbnail(source, workdir / "thumbnail.jpg", at_seconds=moment)
            ui_thumb = make_thumbnail(source, workdir / "ui-thumbnail.jpg", at_seconds=moment, width=_UI_THUMBNAIL_WIDTH)
        except MediaError as error:
            raise fail_video(database, vid, str(error)) from error
        for variant in encoded:
            store.put_file(keys.variant_key(vid, variant.label), variant.path, content_type="video/mp4")
        store.put_file(keys.thumbnail_key(vid), thumb_path, content_type="image/jpeg")
        hls_keys = {keys.hls_key(vid, name) for name in package.files()}
        for name in package.files():  # master playlist last
            store.put_file(keys.hls_key(vid, name), package.root / name, content_type=hls.content_type(name))
        thumbnail_b64 = base64.b64encode(ui_thumb.read_bytes()).decode()

    labels = {v.label for v in encoded}
    with database.session() as session:
        stale = session.scalars(delete(VideoVariant).where(VideoVariant.video_id == vid)
                                .returning(VideoVariant.object_key)).all()
        session.add_all(VideoVariant(
            video_id=vid, label=v.label, width=v.width, height=v.height, video_codec=v.video_codec,
            audio_codec=v.audio_codec, bitrate=v.bitrate, size_bytes=v.size_bytes,
            object_key=keys.variant_key(vid, v.label)) for v in encoded)
        get_video(session, vid).thumbnail_key = keys.thumbnail_key(vid)
    for key in stale:
        if key not in {keys.variant_key(vid, label) for label in labels}:
            store.delete(key)
    for stored in store.list(keys.hls_prefix(vid), limit=100_000):
        if stored.key not in hls_keys:  # segments of an earlier, longer or differently laddered package
            store.delete(stored.key)
    advance(database, vid, VideoStatus.TRANSCODING, VIDEO_TRANSCODED,
            {"variants": sorted(labels), "thumbnail_key": keys.thumbnail_key(vid)})

    table = "\n".join(f"| {v.label} | {v.width}x{v.height} | {v.video_codec}/{v.audio_codec or '-'} | "
                      f"{v.size_bytes / 1e6:.2f} MB |" for v in encoded)
    return dg.MaterializeResult(metadata={
        "variants": dg.MetadataValue.md("| variant | resolution | codecs | size |\n|---|---|---|---|\n" + table),
        "variant_count": len(encoded),
        "hls_master_key": keys.hls_key(vid, hls.MASTER_PLAYLIST),
        "hls_segment_count": sum(len(r.segments) for r in package.renditions),
        "source_resolution": f"{video.width}x{video.height}",
        "thumbnail": dg.MetadataValue.md(f"![thumbnail](data:image/jpeg;base64,{thumbnail_b64})"),
    })
