"""`videoai daemon`: Dagster's daemon (sensors, run queue, run monitoring) for this project, with a sensor
loop of SENSOR_LOOP_SECONDS.

Dagster 1.13's sensor daemon evaluates the sensors that are due, then sleeps until 5 s have passed
(`MIN_INTERVAL_LOOP_TIME`, a module constant that no setting changes), so a `minimum_interval_seconds`
below 5 has no effect: a new upload waited ~2.5 s on average for the tick that starts its run
(benchmarks/upload_to_ready.py). The daemon's loops are threads of one process, so setting the constant
before `dagster-daemon run` starts is enough. Each sensor still ticks no more often than its own
minimum interval; a loop that finds none due reads the sensors' states and sleeps again.

The run launcher's fork server (orchestration/run_workers.py) starts with the daemon, so that its imports
are done before the first upload's run is launched.
"""

from __future__ import annotations

import sys
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parent.parent / "workspace.yaml"


def set_sensor_loop_seconds(seconds: int) -> None:
    import dagster._daemon.sensor as sensor_daemon

    if not hasattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME"):  # a Dagster upgrade moved it: say so, don't guess
        raise RuntimeError("dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME is gone in this Dagster version; "
                           "run `dagster-daemon run` instead (sensors then tick every 5 s at most)")
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = seconds


def run_daemon(workspace: Path, sensor_loop_seconds: int) -> None:
    """`dagster-daemon run -w workspace` in this process; does not return (click exits)."""
    from dagster._daemon.cli import main as dagster_daemon

    from orchestration.run_workers import fork_server

    set_sensor_loop_seconds(sensor_loop_seconds)
    fork_server.start()
    sys.argv = ["dagster-daemon", "run", "-w", str(workspace)]
    dagster_daemon()
