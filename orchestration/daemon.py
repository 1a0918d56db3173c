"""`videoai daemon`: Dagster's daemon (sensors, run queue, run monitoring) for this project, with a sensor
loop of SENSOR_LOOP_SECONDS (orchestration/platform/daemon.py).

The run launcher's fork server (orchestration/platform/run_workers.py) starts with the daemon, so that its
imports are done before the first upload's run is launched. `videoai daemon` runs this module under a
supervisor that stops it, and the run workers it started, within 10 s of Ctrl-C or SIGTERM
(orchestration/supervise.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parent.parent / "workspace.yaml"


def run_daemon(workspace: Path, sensor_loop_seconds: int, log_format: str = "text") -> None:
    """The daemon in this process; does not return. Dagster prints its own loggers' lines, in
    `log_format` (`json` or `text`, as LOG_FORMAT resolved), once: pipeline.logs leaves them to it."""
    from orchestration.platform.daemon import run_dagster_daemon, set_sensor_loop_seconds
    from orchestration.platform.run_workers import fork_server

    set_sensor_loop_seconds(sensor_loop_seconds)
    fork_server.start()
    run_dagster_daemon(workspace, log_format)


if __name__ == "__main__":  # `videoai daemon`, under its supervisor: workspace, sensor loop seconds, log format
    run_daemon(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
