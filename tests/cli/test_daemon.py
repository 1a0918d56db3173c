"""`videoai daemon`: the real Dagster daemon, whose upload sensor takes a new upload while its tick waits,
instead of at the next tick."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus

from benchmarks.backlog import sensor_ticks
from orchestration.daemon import WORKSPACE
from orchestration.instance import ensure_dagster_home
from orchestration.processes import stop_process_group
from pipeline import keys
from pipeline.db.models import Video, utcnow
from pipeline.db.session import engine_for, migrate, session_scope
from pipeline.storage.local import LocalObjectStore


def test_an_upload_that_lands_while_the_sensor_tick_waits_gets_its_run_from_that_tick(settings, tmp_path: Path) -> None:
    """Issue 12: a new upload waited 1-2 s for the next sensor tick (dagster-daemon's loop: 5 s). On the local
    store an upload sensor tick that finds nothing waits for the next upload (UPLOAD_SENSOR_WAIT_SECONDS):
    the upload that lands meanwhile is requested by the tick that was already running."""
    home = ensure_dagster_home(settings)
    migrate(settings.database.url)
    env = {
        **os.environ,
        "VIDEOAI_HOME": str(settings.videoai_home),
        "DAGSTER_HOME": str(home),
        "UPLOAD_SENSOR_WAIT_SECONDS": "20",
    }
    store = LocalObjectStore(settings.storage.directory)
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "daemon", "-w", str(WORKSPACE)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while not any(t.status == TickStatus.STARTED for t in sensor_ticks(instance)):  # waiting
                assert daemon.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, f"no upload sensor tick in progress:\n{log.read_text()[-3000:]}"
                time.sleep(0.2)
            with session_scope(engine_for(settings.database.url)) as session:  # a video, as the API registers it
                video = Video(title="landing while the tick waits", status="uploading")
                session.add(video)
                session.flush()
                video_id = video.id
            time.sleep(1.0)  # well inside the tick's wait
            landed = time.time()
            store.put_bytes(keys.upload_key(video_id, "clip.mp4", utcnow()), b"not really a video")
            while not (runs := instance.get_runs(dg.RunsFilter(tags={"dagster/partition": str(video_id)}))):
                assert time.monotonic() < deadline, f"no run for the upload:\n{log.read_text()[-3000:]}"
                time.sleep(0.1)
            # The tick records its runs when it ends, a moment after it created them.
            while not (ticks := [t for t in sensor_ticks(instance) if runs[0].run_id in t.run_ids]):
                assert time.monotonic() < deadline, f"no tick names the run:\n{log.read_text()[-3000:]}"
                time.sleep(0.1)
    finally:
        stop_process_group(daemon, timeout=30)
    assert len(ticks) == 1
    assert ticks[0].timestamp < landed - 0.5  # the tick had started before the upload landed
    assert ticks[0].end_timestamp is not None and ticks[0].end_timestamp < ticks[0].timestamp + 20  # and ended early
