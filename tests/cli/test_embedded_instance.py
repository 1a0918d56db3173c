"""The embedded Dagster instance configuration is valid for this Dagster version."""

import dagster as dg

from orchestration.instance import ensure_dagster_home


def test_embedded_dagster_yaml_loads_into_a_real_instance(settings, monkeypatch):
    home = ensure_dagster_home(settings)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        assert instance.get_concurrency_config().run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/backfill", "limit": 1}]
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        # One event-log database, not a SQLite file per run (benchmarks/backlog.py), and runs
        # submitted from a sensor tick in parallel: a backlog's ticks stay short.
        from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage

        assert isinstance(instance.event_log_storage, ConsolidatedSqliteEventLogStorage)
        assert (home / "history" / "events").is_dir()
        assert instance.get_settings("sensors")["num_submit_workers"] == 4
