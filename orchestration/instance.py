"""The embedded Dagster instance: SQLite storage under DAGSTER_HOME, sized for a small machine."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.settings import Settings

# Runs queue so a burst of uploads doesn't start dozens of processes at once;
# transcription is the heavy step, so its pool admits one step at a time.
# New uploads first: backfill runs (reprocessing) hold at most one of the two run slots,
# and upload runs carry a higher dagster/priority, so they leave the queue first.
EMBEDDED_DAGSTER_YAML = """\
concurrency:
  runs:
    max_concurrent_runs: 2
    tag_concurrency_limits:
      - key: dagster/backfill
        limit: 1
  pools:
    default_limit: 1
# The run queue is read every 0.5 s, not every 5 s (Dagster's default): a new upload's run waits
# for the next read (orchestration/platform/run_queue.py).
run_coordinator:
  module: orchestration.platform.run_queue
  class: LocalRunCoordinator
  config:
    dequeue_interval_seconds: 0.5
telemetry:
  enabled: false
# A run whose worker dies is failed by run monitoring (stuck STARTING, or its worker process
# gone: orchestration/platform/launcher.py) and launched again, at most twice; a run that failed because
# an asset failed (bad input) is not retried: assets retry transient errors themselves (RetryPolicy).
run_launcher:
  module: orchestration.platform.launcher
  class: LocalRunLauncher
# Its poll interval is how long a killed worker's run stays STARTED: nothing else notices (the workers
# are forked by the launcher's fork server, not watched by a code server).
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 5
  # A local run cannot be resumed in place: it is failed, and run retries start it again.
  max_resume_run_attempts: 0
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""


# Storage: Dagster's SQLite databases, opened through pooled engines (orchestration/platform/storage.py),
# and one event-log database instead of Dagster's default SQLite file per run: creating that
# file is most of what a new run costs, and a backlog of uploads would turn into runs slowly
# (benchmarks/README.md, `backlog`). The files stay where Dagster's defaults put them.
STORAGE_YAML = """\
sensors:
  use_threads: true
  num_workers: 2
  num_submit_workers: 4
run_storage:
  module: orchestration.platform.storage
  class: PooledSqliteRunStorage
  config:
    base_dir: {runs}
event_log_storage:
  module: orchestration.platform.storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {events}
schedule_storage:
  module: orchestration.platform.storage
  class: PooledSqliteScheduleStorage
  config:
    base_dir: {schedules}
"""


def dagster_yaml(home: Path) -> str:
    """The embedded instance's dagster.yaml for a DAGSTER_HOME."""
    return EMBEDDED_DAGSTER_YAML + STORAGE_YAML.format(
        runs=json.dumps(str(home / "history")),
        events=json.dumps(str(home / "history" / "events")),
        schedules=json.dumps(str(home / "schedules")),
    )


# Where the embedded instance's own classes lived before they moved into orchestration/platform/.
_MOVED_MODULES = {
    f"module: orchestration.{name}\n": f"module: orchestration.platform.{name}\n" for name in ("run_queue", "launcher", "storage")
}


def ensure_dagster_home(settings: Settings) -> Path:
    home = settings.videoai_home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(dagster_yaml(home))
        initialize_storage(home)
    else:
        _follow_moved_modules(config)
    return home


def _follow_moved_modules(config: Path) -> None:
    """An existing dagster.yaml (the user's edits kept) names the embedded classes where they are now."""
    text = original = config.read_text()
    for old, new in _MOVED_MODULES.items():
        text = text.replace(old, new)
    if text != original:
        config.write_text(text)


def initialize_storage(home: Path) -> None:
    """Create the instance's databases now, in one process: the webserver and the daemon
    starting together would otherwise race to create the shared event-log database."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)):
        pass
