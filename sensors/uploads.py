"""The upload sensor: new objects under `uploads/` become `videos` partitions and runs.

Upload keys start with their completion time (pipeline.keys.upload_key), so
listing in key order follows arrival order and the cursor is the newest key
seen. Each tick re-lists a short grace window behind the cursor, because an
upload whose timestamp was taken first can land a moment after a later one;
ids already known as partitions are dropped, so nothing is requested twice. Dagster is asked about
the listed ids only: a tick costs what it lists, whatever the number of videos already processed.

A tick that finds nothing new waits for the next upload (UPLOAD_SENSOR_WAIT_SECONDS, where the store can
tell that its listing changed), as the Kafka sensor waits in its poll: an upload that lands meanwhile gets
its run from that tick within ~0.1 s, instead of from the next tick, a second or two later.
"""

import json
import time
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.jobs import video_pipeline_job
from pipeline.db.videos import video_titles
from pipeline.keys import UPLOADS_PREFIX, video_id_from_upload_key
from pipeline.storage import ObjectStore
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.pipeline_settings import PipelineSettingsResource
from sensors.runs import known_videos, new_video_runs

GRACE = timedelta(minutes=2)
WATCH_POLL_SECONDS = 0.05  # a stat of the uploads directory: nothing to speak of, 20 times a second
# Listing pages are large whatever the batch: a burst leaves thousands of known
# uploads inside the grace window, and each page lists the local store's directory once.
LIST_PAGE = 5000
_TS_FORMAT = "%Y%m%dT%H%M%S%fZ"
# Which of the given video ids are `videos` partitions already (sensors.runs.known_videos).
KnownVideos = Callable[[Iterable[int]], Set[str]]


@dataclass(frozen=True)
class UploadCursor:
    last_key: str | None = None

    @classmethod
    def parse(cls, raw: str | None) -> "UploadCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def serialize(self) -> str:
        return json.dumps({"last_key": self.last_key})

    def list_from(self) -> str | None:
        """Where listing starts: the grace window before the newest key seen."""
        if self.last_key is None:
            return None
        stamp = self.last_key[len(UPLOADS_PREFIX) :].split("-", 1)[0]
        try:
            seen = datetime.strptime(stamp, _TS_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return self.last_key
        return UPLOADS_PREFIX + (seen - GRACE).strftime(_TS_FORMAT)


def scan_uploads(store: ObjectStore, cursor: UploadCursor, known: KnownVideos, batch_size: int) -> tuple[list[int], UploadCursor]:
    """Up to `batch_size` new video ids after the cursor, and the advanced cursor. `known` is asked, once per
    listed page, which of the page's ids are partitions already."""
    found: list[int] = []
    seen: set[int] = set()  # the grace window can list an upload again within one scan
    last_key, start_after = cursor.last_key, cursor.list_from()
    while len(found) < batch_size:
        page = store.list(UPLOADS_PREFIX, start_after=start_after, limit=LIST_PAGE)
        ids = [video_id_from_upload_key(obj.key) for obj in page]
        taken = known(v for v in ids if v is not None)
        for obj, vid in zip(page, ids, strict=True):
            if vid is not None and str(vid) not in taken and vid not in seen:
                found.append(vid)
                seen.add(vid)
            if last_key is None or obj.key > last_key:
                last_key = obj.key
            if len(found) >= batch_size:
                break
        if len(page) < LIST_PAGE:
            break
        start_after = page[-1].key
    return found, UploadCursor(last_key)


def scan_or_wait(
    store: ObjectStore, cursor: UploadCursor, known: KnownVideos, batch_size: int, wait_seconds: float
) -> tuple[list[int], UploadCursor]:
    """`scan_uploads`; when nothing is new, scan again each time the store's listing changes, for up to
    `wait_seconds` (at once where the store cannot tell). Each scan asks `known` afresh (another trigger may
    add a partition while this waits); returns the new ids and the cursor."""
    version = store.listing_version(UPLOADS_PREFIX)  # before the scan: an upload landing during it is not missed
    found, cursor = scan_uploads(store, cursor, known, batch_size)
    deadline = time.monotonic() + wait_seconds
    while not found and version is not None and time.monotonic() < deadline:
        time.sleep(WATCH_POLL_SECONDS)
        if (now := store.listing_version(UPLOADS_PREFIX)) != version:
            version = now
            found, cursor = scan_uploads(store, cursor, known, batch_size)
    return found, cursor


@dg.sensor(
    job=video_pipeline_job,
    # On the local store a tick with nothing new waits for the next upload (scan_or_wait), so the next
    # tick follows the last within a second or so. Elsewhere, 2 s: the longest a new upload waits for its
    # run's tick, while a tick with nothing new costs only one listing of uploads/. Only `videoai daemon`
    # honours it: dagster-daemon looks for due sensors every 5 s (orchestration/platform/daemon.py).
    minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run for every new upload in the object store's uploads/ prefix (up to SENSOR_BATCH_SIZE per tick).",
)
def upload_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
    pipeline_settings: PipelineSettingsResource,
) -> dg.SensorResult:
    video_ids, advanced = scan_or_wait(
        object_store.get_store(),
        UploadCursor.parse(context.cursor),
        lambda ids: known_videos(context.instance, ids),
        pipeline_settings.sensor_batch_size,
        pipeline_settings.upload_sensor_wait_seconds,
    )
    titles: dict[int, str] = {}
    if video_ids:
        context.log.info("new uploads: %s", ", ".join(map(str, video_ids[:20])) + (" ..." if len(video_ids) > 20 else ""))
        with database.session() as session:
            titles = video_titles(session, video_ids)
        if unknown := [v for v in video_ids if v not in titles]:
            context.log.warning(
                "uploads without a video in the app database (deleted, or never registered), no run: %s",
                ", ".join(map(str, unknown[:20])),
            )
    return new_video_runs(context.instance, video_ids, titles, trigger="object-store", cursor=advanced.serialize())
