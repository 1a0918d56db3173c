"""Housekeeping that runs on a schedule: abandoned uploads are removed."""

from datetime import timedelta

import dagster as dg

from pipeline.scratch import prune_scratch, scratch_root
from pipeline.uploads import prune_abandoned_uploads
from resources.database import DatabaseResource
from resources.object_store import ObjectStoreResource
from resources.pipeline_settings import PipelineSettingsResource


@dg.op(description="Remove uploads never completed within UPLOAD_ABANDON_HOURS: their rows and staged bytes.")
def prune_uploads(
    context: dg.OpExecutionContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    pipeline_settings: PipelineSettingsResource,
) -> None:
    older_than = timedelta(hours=pipeline_settings.upload_abandon_hours)
    with database.session() as session:
        removed = prune_abandoned_uploads(session, object_store.get_store(), older_than=older_than)
    context.log.info("removed %d abandoned upload(s)%s", len(removed), f": videos {removed}" if removed else "")
    scratch = prune_scratch(scratch_root(), older_than)  # temp work a killed run left (pipeline/scratch.py)
    context.log.info("removed %d leftover scratch dir(s)", len(scratch))


@dg.job(description="Housekeeping: remove abandoned uploads.")
def prune_uploads_job() -> None:
    prune_uploads()


prune_uploads_schedule = dg.ScheduleDefinition(
    name="prune_uploads_schedule",
    job=prune_uploads_job,
    cron_schedule="17 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night: remove uploads that were started and never completed.",
)
