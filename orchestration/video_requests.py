"""The pipeline's side of deleting and retrying videos: the `video_requests` the app writes
(pipeline/db/videos.py, delete_video) become stopped runs, removed partitions and new runs.

- **delete**: the video's rows, objects and search documents are already gone. Its runs in
  progress are cancelled (Dagster's run coordinator: a queued run leaves the queue, a running
  one is terminated as the Terminate button does; a step that finds its video gone ends its
  run the same way, `assets.support.video_step`). Once none is in progress, what a
  run wrote after the API's pass (objects under videos/<id>/, a search document, scratch
  files) is removed again, then the `videos` partition; the request is done. A partition is
  kept while an open backfill targets it: Dagster fails a whole asset backfill whose target
  partitions were removed ("Targeted partitions ... have been removed"), so the video's run in
  it is cancelled and the partition goes when the backfill ends.
- **retry**: a failed video the owner asked to process again gets a new run of the whole
  graph, titled like every run, and the request is done once that run exists.
- **language**: a video's language was edited: a run materializes its `video_language` again, whose new data
  version makes its transcript and everything after it stale (`assets/language.py`).
- **orphans**: every ORPHAN_SWEEP_SECONDS the partitions are compared with the videos in the
  app database; a partition whose video is gone without a request (deleted before this code,
  or by hand) gets a `delete` request.

`videoai delete` runs the same `finish_deletions` right away; the sensor does it within seconds
for every other path.

Dagster's OSS event log cannot drop a partition's history (`wipe_asset_partitions` raises
NotImplementedError on its SQL storages): a removed partition's materializations stay in the
event log, out of sight, since the partition is no longer listed anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
from sqlalchemy.orm import Session

from assets.jobs import video_pipeline_job
from assets.language import video_language
from assets.partitions import VIDEOS_PARTITIONS_NAME, videos_partitions
from orchestration.platform.backfills import open_backfill_targets
from pipeline.db.models import VideoRequest
from pipeline.db.videos import (
    DELETE,
    LANGUAGE,
    RETRY,
    deleted_video_ids,
    finish_requests,
    open_requests,
    remove_leftovers,
    request_deletion,
    video_titles,
)
from pipeline.scratch import scratch_root
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.search_index import SearchIndexResource
from sensors.runs import UPLOAD_PRIORITY, video_run_request

PARTITION_TAG = "dagster/partition"
REQUEST_TAG = "videoai/request"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
REQUESTS_PER_TICK = 100
# A run asked to stop this long ago and still CANCELING is asked again; where its worker is gone
# (it died before it could end the run) the launcher says so and the run is marked canceled.
CANCEL_AGAIN_SECONDS = 20.0
ORPHAN_SWEEP_SECONDS = 600.0


@dataclass(frozen=True)
class DeletionProgress:
    done: dict[int, str]  # request id -> outcome
    waiting: dict[int, str]  # request id -> what it waits for


def finish_deletions(
    instance: dg.DagsterInstance, requests: Sequence[VideoRequest], remove: Callable[[int], object]
) -> DeletionProgress:
    """Do Dagster's side of each `delete` request: stop the video's runs; once none is in progress
    and no open backfill targets its partition, `remove(video_id)` (its leftovers), then its partition."""
    done: dict[int, str] = {}
    waiting: dict[int, str] = {}
    targeted: set[str] | None = None
    for request in requests:
        key = str(request.video_id)
        records = instance.get_run_records(dg.RunsFilter(tags={PARTITION_TAG: key}, statuses=IN_PROGRESS))
        if records:
            for record in records:
                _stop(instance, record)
            waiting[request.id] = f"{len(records)} run(s) stopping"
            continue
        partition = instance.has_dynamic_partition(VIDEOS_PARTITIONS_NAME, key)
        if partition:
            if targeted is None:  # read once per call, only when a partition is about to go
                targeted = open_backfill_targets(instance, {str(r.video_id) for r in requests})
            if key in targeted:
                waiting[request.id] = "an open backfill targets its partition"
                continue
        remove(request.video_id)
        if partition:
            instance.delete_dynamic_partition(VIDEOS_PARTITIONS_NAME, key)
        done[request.id] = "runs stopped, leftovers and partition removed" if partition else "it had no partition"
    return DeletionProgress(done, waiting)


def _stop(instance: dg.DagsterInstance, record: dg.RunRecord) -> None:
    run = record.dagster_run
    if run.status != dg.DagsterRunStatus.CANCELING:
        instance.run_coordinator.cancel_run(run.run_id)
        return
    if time.time() - record.update_timestamp.timestamp() < CANCEL_AGAIN_SECONDS:
        return
    if not instance.run_coordinator.cancel_run(run.run_id):  # no worker left to stop it
        instance.report_run_canceled(run, message="Its video was deleted and its worker is gone: marked canceled.")


def requested_runs(
    instance: dg.DagsterInstance,
    session: Session,
    requests: Sequence[VideoRequest],
    trigger: str,
    assets: Sequence[dg.AssetKey] | None = None,
) -> tuple[list[dg.RunRequest], dict[int, str], list[str]]:
    """Run requests (of the whole graph, or of `assets`) for requests that have no run yet, the requests done
    (their run exists, or their video is gone), and the partitions to add."""
    titles = video_titles(session, (r.video_id for r in requests))
    runs: list[dg.RunRequest] = []
    done: dict[int, str] = {}
    missing: list[str] = []
    for request in requests:
        if request.video_id not in titles:
            done[request.id] = "the video was deleted"
            continue
        launched = instance.get_runs(dg.RunsFilter(tags={REQUEST_TAG: str(request.id)}), limit=1)
        if launched:
            done[request.id] = f"run {launched[0].run_id}"
            continue
        base = video_run_request(request.video_id, titles[request.video_id], trigger=trigger)
        runs.append(
            dg.RunRequest(
                run_key=f"{trigger}-{request.id}",
                partition_key=base.partition_key,
                asset_selection=assets,
                tags={**base.tags, REQUEST_TAG: str(request.id), "dagster/priority": UPLOAD_PRIORITY},
            )
        )
        if not instance.has_dynamic_partition(VIDEOS_PARTITIONS_NAME, str(request.video_id)):
            missing.append(str(request.video_id))
    return runs, done, missing


def request_orphan_deletions(instance: dg.DagsterInstance, session: Session) -> list[int]:
    """`delete` requests for partitions whose video is gone and that no open request covers."""
    partitions = {int(key) for key in instance.get_dynamic_partitions(VIDEOS_PARTITIONS_NAME) if key.isdigit()}
    orphans = deleted_video_ids(session, partitions)
    for video_id in orphans:
        request_deletion(session, video_id, "its video no longer exists")
    return orphans


def leftovers_remover(object_store: ObjectStoreResource, search_index: SearchIndexResource) -> Callable[[int], object]:
    store, search, vectors = object_store.get_store(), search_index.get_index(), search_index.get_vector_index()
    root = scratch_root()
    return lambda video_id: remove_leftovers(store, video_id, search=search, vectors=vectors, scratch_root=root)


@dg.sensor(
    job=video_pipeline_job,
    minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Deleted videos: stops their runs, removes their leftovers and their partitions. Retried videos: "
    "starts their new run. Edited languages: recorded again, making what depends on them stale. Partitions whose "
    "video is gone are found every 10 minutes.",
)
def video_requests_sensor(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    search_index: SearchIndexResource,
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    with database.session() as session:
        if time.time() - cursor.get("swept_at", 0.0) >= ORPHAN_SWEEP_SECONDS:
            orphans = request_orphan_deletions(context.instance, session)
            if orphans:
                context.log.info("partitions without a video, to be removed: %s", ", ".join(map(str, orphans[:50])))
            cursor["swept_at"] = time.time()
        deletions = open_requests(session, DELETE, REQUESTS_PER_TICK)
        retries = open_requests(session, RETRY, REQUESTS_PER_TICK)
        languages = open_requests(session, LANGUAGE, REQUESTS_PER_TICK)
    progress = DeletionProgress({}, {})
    if deletions:
        progress = finish_deletions(context.instance, deletions, leftovers_remover(object_store, search_index))
    with database.session() as session:
        # A retried video runs its whole graph; an edited language, its `video_language` (what depends on it is
        # then stale: `videoai reprocess --stale`, or the stale_videos_sensor when it reprocesses by itself).
        runs, retried, missing = requested_runs(context.instance, session, retries, "retry") if retries else ([], {}, [])
        relabel, relabeled, unknown = (
            requested_runs(context.instance, session, languages, "language", [video_language.key]) if languages else ([], {}, [])
        )
        runs, missing = runs + relabel, sorted(set(missing + unknown))
        finish_requests(session, {**progress.done, **retried, **relabeled})
    for request in deletions:
        if request.id in progress.done:
            context.log.info("video %s deleted: %s", request.video_id, progress.done[request.id])
        elif request.id in progress.waiting:
            context.log.info("video %s deleted: waiting, %s", request.video_id, progress.waiting[request.id])
    if runs or missing:
        return dg.SensorResult(
            run_requests=runs,
            cursor=json.dumps(cursor),
            dynamic_partitions_requests=[videos_partitions.build_add_request(missing)] if missing else [],
        )
    context.update_cursor(json.dumps(cursor))
    if not deletions and not retries and not languages:
        return dg.SkipReason("no video deleted, retried or given another language")
    return dg.SkipReason(
        f"{len(progress.done)} of {len(deletions)} deletion(s) done, {len(retried)} retry and {len(relabeled)} language "
        "request(s) done"
    )
