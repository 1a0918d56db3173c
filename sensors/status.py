"""The failure sensor: a run that fails marks its video failed with a message a person can act on.

Assets mark bad input failed themselves, with the precise reason; this sensor
covers everything else (a crash, an exhausted retry, a lost worker). A failed run that
run retries will launch again leaves its video as it is: the retry re-executes only the
steps that did not succeed, and those move the status forward from where it stopped.
"""

import dagster as dg

from assets.jobs import video_pipeline_job
from pipeline.db.models import VideoStatus
from pipeline.lifecycle import VideoNotFound, get_video, mark_failed
from resources.database import DatabaseResource

PARTITION_TAG = "dagster/partition"
# Written by the instance when it records a run's failure with run retries enabled: "true" when the
# retry daemon will launch the run again (what Dagster's maintainers point run failure sensors at).
WILL_RETRY_TAG = "dagster/will_retry"
BACKFILL_TAG = "dagster/backfill"
# A backfill in one of these states launches no retry of its runs.
_ENDED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def will_retry(run: dg.DagsterRun, instance: dg.DagsterInstance) -> bool:
    """Whether run retries will launch this failed run again."""
    if run.tags.get(WILL_RETRY_TAG, "").lower() != "true":
        return False
    backfill_id = run.tags.get(BACKFILL_TAG)
    if backfill_id is None:
        return True
    backfill = instance.get_backfill(backfill_id)
    return backfill is not None and backfill.status.value not in _ENDED_BACKFILL


def failure_message(context: dg.RunFailureSensorContext) -> str:
    steps = context.get_step_failure_events()
    if steps:
        step = steps[0]
        error = step.step_failure_data.error
        while error is not None and error.cause is not None:  # Dagster wraps the user's exception
            error = error.cause
        reason = error.message.strip().splitlines()[0] if error else "unknown error"
        return (
            f"Processing failed at step '{step.step_key}': {reason} "
            "Try again later; if it keeps failing, contact the operators with this video's id."
        )
    return (
        f"Processing failed: {context.failure_event.message or 'the run stopped'}. "
        "Try again later; if it keeps failing, contact the operators with this video's id."
    )


@dg.run_failure_sensor(
    monitored_jobs=[video_pipeline_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks a video failed when its run fails, unless an asset already said why.",
)
def video_failure_sensor(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    partition = context.dagster_run.tags.get(PARTITION_TAG)
    if partition is None or not partition.isdigit():
        return
    vid = int(partition)
    run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
    if context.instance.run_retries_enabled and will_retry(run, context.instance):
        context.log.info("run %s failed and will be retried: video %s keeps its status", run.run_id, vid)
        return
    with database.session() as session:
        try:
            video = get_video(session, vid)
        except VideoNotFound:
            context.log.warning("run %s failed for video %s, which no longer exists", context.dagster_run.run_id, vid)
            return
        if video.status == VideoStatus.FAILED.value:
            return  # an asset already recorded the precise reason
        mark_failed(session, vid, failure_message(context))
