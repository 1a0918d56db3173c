"""`videoai daemon`: the real Dagster daemon, ticking the upload sensor more often than dagster-daemon's 5 s loop."""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType

from orchestration.daemon import WORKSPACE
from orchestration.instance import ensure_dagster_home
from orchestration.processes import stop_process_group


def _tick_times(instance: dg.DagsterInstance, sensor: str) -> list[float]:
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == sensor:
            return sorted(t.timestamp for t in instance.get_ticks(state.instigator_origin_id, state.selector_id)
                          if t.end_timestamp is not None)
    return []


def test_the_upload_sensor_ticks_every_two_seconds_not_every_five(settings, tmp_path: Path) -> None:
    """Issue 12: dagster-daemon looks for due sensors every 5 s whatever their interval, so a new upload
    waited ~2.5 s for its run. `videoai daemon` looks every SENSOR_LOOP_SECONDS (1 s): the upload sensor
    (minimum interval 2 s) ticks about every 2 s, and never 5 s apart."""
    home = ensure_dagster_home(settings)
    env = {**os.environ, "VIDEOAI_HOME": str(settings.videoai_home), "DAGSTER_HOME": str(home)}
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "daemon", "-w", str(WORKSPACE)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while len(ticks := _tick_times(instance, "upload_sensor")) < 6:
                assert daemon.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, f"{len(ticks)} ticks in 120 s:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
    finally:
        stop_process_group(daemon, timeout=30)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks[1:])]  # the first tick waits for start-up
    assert statistics.median(gaps) < 4.5, gaps  # dagster-daemon's loop never ticks it sooner than 5 s
