"""The benchmark archive written in bulk (orchestration/platform/archive_fixture.py) reads back as Dagster's own
records: its resolver finds every asset fresh, then exactly the model-driven ones stale after a model change; the
runs are found by their tags and each partition's latest materialization names its run."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest

from orchestration.definitions import build_definitions
from orchestration.instance import dagster_yaml
from orchestration.platform.archive_fixture import write_materializations, write_runs
from orchestration.reprocess import scan_stale, select_assets
from pipeline.settings import Settings
from tests.fixtures.database import isolate_environment

KEYS = ["1", "2", "3"]


def _statuses(instance: dg.DagsterInstance, graph) -> dict[tuple[str, str], str]:
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    return {
        (key, asset.to_user_string()): resolver.get_status(asset, key).value
        for key in KEYS
        for asset in select_assets(graph, None)
    }


def test_a_bulk_written_archive_reads_back_as_dagster_records_it(tmp_path, monkeypatch):
    isolate_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WHISPER_BEAM_SIZE", raising=False)
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(home))
    graph = build_definitions(Settings()).resolve_asset_graph()
    assets = select_assets(graph, None)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("videos", KEYS)
        runs = [(key, {"videoai/title": f"clip {key}", "videoai/trigger": "object-store"}) for key in KEYS]
        run_ids = write_runs(instance, "video_pipeline", runs)
        write_materializations(instance, graph, assets, KEYS, run_ids, "video_pipeline")

        found = instance.get_run_records(dg.RunsFilter(tags={"videoai/title": "clip 2"}))
        assert [(r.dagster_run.run_id, r.dagster_run.status) for r in found] == [(run_ids[1], dg.DagsterRunStatus.SUCCESS)]
        assert found[0].dagster_run.tags["dagster/partition"] == "2"
        for asset in assets:
            latest = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset, asset_partitions=["2"]), limit=1
            ).records
            assert [record.run_id for record in latest] == [run_ids[1]]

        assert set(_statuses(instance, graph).values()) == {"FRESH"}
        assert scan_stale(instance, graph).stale == []

        monkeypatch.setenv("WHISPER_BEAM_SIZE", "2")  # a model change
        changed = build_definitions(Settings()).resolve_asset_graph()
        model_driven = {a.to_user_string() for a in assets if graph.get(a).code_version != changed.get(a).code_version}
        assert "transcript" in model_driven and "source_video" not in model_driven
        stale = {pair for pair, status in _statuses(instance, changed).items() if status == "STALE"}
        assert stale == {(key, asset) for key in KEYS for asset in model_driven}
        assert {(s.partition, s.asset) for s in scan_stale(instance, changed).stale} == stale
