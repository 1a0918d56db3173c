"""The run queue titles every run of a video when the run is submitted.

A run of one video (a `dagster/partition` tag) gets the video's `videoai/title` tag when it enters the queue,
whoever asked for it: a sensor (whose run requests carry it already), a backfill (whose tags all its runs
share, so they cannot carry one title each), the Launchpad, run retries. Failed runs keep it, and runs can be
found by title in the UI's run filter (tag `videoai/title`). The embedded instance's coordinator
(orchestration/platform/run_queue.py) and deploy/dagster.yaml's are this one; where the daemon and the
webserver run Dagster's own image and coordinator (the Helm chart), the run's first step adds the tag
(`assets.support.video_step`).
"""

from __future__ import annotations

import logging

import dagster as dg

from assets.support import TITLE_TAG, video_run_tags
from pipeline.db.session import engine_for, session_scope
from pipeline.db.videos import video_titles
from pipeline.settings import get_settings

PARTITION_TAG = "dagster/partition"
log = logging.getLogger(__name__)


def title_tags(run: dg.DagsterRun) -> dict[str, str]:
    """The `videoai/title` tag of a run of one video that has none yet ({} for any other run, or when the app
    database cannot say: a title is never worth failing a submission)."""
    key = run.tags.get(PARTITION_TAG, "")
    if TITLE_TAG in run.tags or not key.isdigit():
        return {}
    try:
        with session_scope(engine_for(get_settings().database.url)) as session:
            title = video_titles(session, [int(key)]).get(int(key))
    except Exception:
        log.warning("could not read the title of video %s for run %s", key, run.run_id, exc_info=True)
        return {}
    return video_run_tags(title) if title is not None else {}


class TitledRunCoordinator(dg.QueuedRunCoordinator):
    """Dagster's QueuedRunCoordinator that titles each run of a video as it is submitted."""

    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        if tags := title_tags(context.dagster_run):
            self._instance.add_run_tags(context.dagster_run.run_id, tags)
        return super().submit_run(context)  # the run as stored, with its tags
