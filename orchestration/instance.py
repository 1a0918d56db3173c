"""The embedded Dagster instance: SQLite storage under DAGSTER_HOME, sized for a small machine."""

from __future__ import annotations

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
telemetry:
  enabled: false
"""


def ensure_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_DAGSTER_YAML)
    return home
