"""The embedded Dagster instance configuration is valid for this Dagster version."""

import dagster as dg

from orchestration.instance import dagster_yaml, ensure_dagster_home


def test_embedded_dagster_yaml_loads_into_a_real_instance(settings, monkeypatch):
    home = ensure_dagster_home(settings)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        assert instance.get_concurrency_config().run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/backfill", "limit": 1}
        ]
        # The run queue daemon Dagster makes for this instance reads the queue every 0.5 s.
        from dagster._daemon.controller import create_daemon_of_type
        from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

        from orchestration.platform.run_queue import LocalRunCoordinator

        assert isinstance(instance.run_coordinator, LocalRunCoordinator)
        daemon = create_daemon_of_type(QueuedRunCoordinatorDaemon.daemon_type(), instance)
        assert isinstance(daemon, QueuedRunCoordinatorDaemon) and daemon.interval_seconds == 0.5
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        # One event-log database, not a SQLite file per run (benchmarks/backlog.py), pooled
        # connections, and runs submitted from a sensor tick in parallel: a backlog's ticks stay short.
        from orchestration.platform.storage import (
            PooledSqliteEventLogStorage,
            PooledSqliteRunStorage,
            PooledSqliteScheduleStorage,
        )

        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        assert isinstance(instance.schedule_storage, PooledSqliteScheduleStorage)
        assert (home / "history" / "events").is_dir()
        assert instance.get_settings("sensors")["num_submit_workers"] == 4


def test_pooled_storage_is_shared_through_the_files(settings, monkeypatch):
    """What one instance (another process, in real use) writes, a second one reads; every pooled
    connection is in WAL mode with synchronous=NORMAL."""
    from orchestration.platform.storage import pooled_engine

    home = ensure_dagster_home(settings)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as writer:
        result = dg.materialize([hello], instance=writer)
        assert result.success
    with dg.DagsterInstance.from_config(str(home)) as reader:
        assert reader.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert reader.fetch_materializations(dg.AssetKey("hello"), limit=1).records
        assert reader.event_log_storage.supports_asset_checks
        for storage in (reader.run_storage, reader.event_log_storage, reader.schedule_storage):
            with pooled_engine(storage._conn_string).connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_an_existing_dagster_yaml_follows_the_embedded_classes_into_the_platform_package(settings, monkeypatch):
    """An install made when the run queue, launcher and storages were top-level modules of `orchestration`
    keeps its own edits and loads again."""
    home = settings.videoai_home / "dagster"
    home.mkdir(parents=True)
    edited = dagster_yaml(home).replace("max_concurrent_runs: 2", "max_concurrent_runs: 3")
    (home / "dagster.yaml").write_text(edited.replace("orchestration.platform.", "orchestration."))
    assert ensure_dagster_home(settings) == home
    assert (home / "dagster.yaml").read_text() == edited
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
        assert type(instance.run_launcher).__module__ == "orchestration.platform.launcher"


@dg.asset
def hello() -> None:
    pass
