"""The one door to Dagster's internals: every import of `dagster._…` and every private trick lives here.

Dagster moves fast and its private modules move with it; an upgrade breaks here first, and only here
(an import-linter contract forbids `dagster._` imports everywhere else in the shipped code, and
tests/unit/test_dagster_internals.py lists the private names used, so a new one is a visible change).
Try a new release with `scripts/run upgrade-check`.

Each module says why it needs the internals, what public API would replace it, and the upstream issue:

- `daemon`: Dagster's daemon in this process, with a sensor loop shorter than Dagster's fixed 5 s.
- `run_queue`: the queued run coordinator read every half second (Dagster's interval is whole seconds).
- `storage`: Dagster's SQLite storages through one pooled engine per process.
- `run_workers`, `launcher`: run workers forked from a warm process, and a health check that lets run
  monitoring fail a run whose worker was killed.
- `backfills`: a backfill requested from a sensor, and whether one is still open (and what it targets).
- `staleness`: Dagster's staleness read in bulk, its reasons, and one backfill over exactly what is stale.
- `archive_fixture`: a benchmark's archive of hundreds of thousands of videos written in bulk into Dagster's
  storages (runs, materializations with their provenance).

Everything else uses Dagster's public API (`import dagster as dg`), and the deployed code location is asked
through the webserver's GraphQL API (orchestration/code_location.py).
"""
