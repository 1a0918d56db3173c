"""Dagster's daemon in this process, with a sensor loop shorter than Dagster's 5 s.

Why: Dagster's sensor daemon evaluates the sensors that are due, then sleeps until 5 s have passed
(`MIN_INTERVAL_LOOP_TIME`, a module constant that no setting changes), so a sensor's
`minimum_interval_seconds` below 5 has no effect and a new upload waits on average half the loop for the
tick that starts its run. The daemon's loops are threads of one process, so setting the constant before
`dagster-daemon run` starts in this process is enough. Each sensor still ticks no more often than its own
minimum interval.

Public replacement: none; `dagster-daemon run` (the CLI) with its 5 s loop is the public way to run the
daemon. No upstream issue asks for a configurable loop (dagster-io/dagster#3614 made the per-sensor
interval configurable, bounded below by this loop).
"""

from __future__ import annotations

import sys
from pathlib import Path


def set_sensor_loop_seconds(seconds: int) -> None:
    import dagster._daemon.sensor as sensor_daemon

    if not hasattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME"):  # a Dagster upgrade moved it: say so, don't guess
        raise RuntimeError(
            "dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME is gone in this Dagster version; "
            "run `dagster-daemon run` instead (sensors then tick every 5 s at most)"
        )
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = seconds


def run_dagster_daemon(workspace: Path, log_format: str = "text") -> None:
    """`dagster-daemon run -w workspace` in this process, its own log lines in `log_format` (`json`,
    else Dagster's colored text); does not return (click exits)."""
    from dagster._daemon.cli import main as dagster_daemon

    sys.argv = ["dagster-daemon", "run", "-w", str(workspace), "--log-format", "json" if log_format == "json" else "colored"]
    dagster_daemon()
