"""`videoai reprocess --stale`: after a model change, exactly the stale videos are found and backfilled.

Real pieces throughout: real videos through the real pipeline, Dagster's staleness
resolver as the reference, the CLI, and Dagster's own backfill daemon launching the
backfill's runs (executed in-process by the instance's run launcher).
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.loader import LoadingContextForTest

from orchestration import cli
from orchestration.definitions import build_definitions
from orchestration.reprocess import backfill_progress, scan_stale, wait_for_backfill
from pipeline.settings import Settings, get_settings
from tests.fixtures.daemon import SYNC_RUN_LAUNCHER, backfill_daemon_iteration, daemon_workspace, run_queue_iteration
from tests.fixtures.pipeline import platform_from_environment, video_asset_keys

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(tmp_path, monkeypatch):
    with platform_from_environment(tmp_path, monkeypatch, {"run_launcher": SYNC_RUN_LAUNCHER}) as platform:
        yield platform


def _resolver_statuses(instance, settings, partitions) -> dict[tuple[str, str], str]:
    """Dagster's own verdict for every (partition, asset): the reference the scan must agree with."""
    graph = build_definitions(settings).resolve_asset_graph()
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    return {(p, a): resolver.get_status(dg.AssetKey(a), p).value for p in partitions for a in video_asset_keys(graph)}


def test_reprocess_stale_lists_then_backfills_exactly_the_stale_videos(platform, small_video_path, monkeypatch, capsys):
    videos = [str(platform.register(small_video_path, title=f"clip {i}")) for i in range(3)]
    for vid in videos:
        assert platform.run(int(vid)).success
    assert scan_stale(platform.instance, build_definitions(platform.settings).resolve_asset_graph()).stale == []

    # A model change: a wider beam search. Rematerialize one video with it.
    monkeypatch.setenv("WHISPER_BEAM_SIZE", "2")
    get_settings.cache_clear()
    changed = Settings()
    first, others = videos[0], videos[1:]
    assert platform.run(int(first), settings=changed).success

    # Dagster's resolver says: the assets whose output depends on the transcriber, for the other videos only.
    old, new = (build_definitions(s).resolve_asset_graph() for s in (platform.settings, changed))
    model_driven = {
        a for a in video_asset_keys(new) if old.get(dg.AssetKey(a)).code_version != new.get(dg.AssetKey(a)).code_version
    }
    assert {"transcript", "chunk_summaries", "video_summary", "search_document"} <= model_driven
    assert not {"source_video", "video_variants"} & model_driven
    statuses = _resolver_statuses(platform.instance, changed, videos)
    expected_stale = {(p, a) for p in others for a in model_driven}
    assert {k for k, v in statuses.items() if v == "STALE"} == expected_stale
    scan = scan_stale(platform.instance, build_definitions(changed).resolve_asset_graph())
    assert {(s.partition, s.asset) for s in scan.stale} == expected_stale
    assert all(s.reasons == ("has a new code version",) for s in scan.stale)

    # --dry-run lists exactly the others, with the reason, and launches nothing. No webserver runs here: the code
    # location is this process's definitions, as --from-shell judges (tests/e2e/test_reprocess_code_location.py
    # asks a real webserver).
    assert cli.main(["reprocess", "--stale", "--dry-run", "--from-shell"]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 videos have stale assets" in out
    listed = [line.split(":")[0].strip() for line in out.splitlines() if line.strip().startswith("video ")]
    assert listed == [f"video {p}" for p in others]
    assert "transcript (has a new code version)" in out and "source_video" not in out.split("stale per asset")[0]
    assert platform.instance.get_backfills() == []

    # --select narrows the assets.
    assert cli.main(["reprocess", "--stale", "--dry-run", "--from-shell", "--select", "key:video_summary+"]) == 0
    out = capsys.readouterr().out
    assert "video_summary (" in out and "transcript (" not in out

    # In the UI: the stale_videos_sensor's tick says how many videos each asset is stale for ...
    changed_defs = build_definitions(changed)
    sensor = changed_defs.resolve_sensor_def("stale_videos_sensor")
    with dg.build_sensor_context(instance=platform.instance, repository_def=changed_defs.get_repository_def()) as context:
        tick = sensor(context)
    assert isinstance(tick, dg.SkipReason) and "2 of 3 videos stale" in (tick.skip_message or "")
    assert "transcript: 2 stale videos" in (tick.skip_message or "")
    # ... opted in (AUTO_REPROCESS_STALE), it requests the backfill itself, at low priority ...
    monkeypatch.setenv("AUTO_REPROCESS_STALE", "true")
    get_settings.cache_clear()
    with dg.build_sensor_context(instance=platform.instance, repository_def=changed_defs.get_repository_def()) as context:
        (request,) = sensor(context).run_requests
    assert {
        (k.partition_key, k.asset_key.to_user_string()) for k in request.asset_graph_subset.iterate_asset_partitions()
    } == expected_stale
    assert request.tags["dagster/priority"] == "-1"
    monkeypatch.delenv("AUTO_REPROCESS_STALE")
    get_settings.cache_clear()
    # ... and the reprocess_stale job is the one-click path: it launches the same backfill.
    assert changed_defs.resolve_job_def("reprocess_stale").execute_in_process(instance=platform.instance).success
    (from_ui,) = platform.instance.get_backfills()
    assert {
        (k.partition_key, k.asset_key.to_user_string())
        for k in from_ui.asset_backfill_data.target_subset.iterate_asset_partitions()
    } == expected_stale
    platform.instance.update_backfill(from_ui.with_status(BulkActionStatus.CANCELED))  # the CLI's goes on below

    # The real run: one backfill over exactly those partitions and assets, then Dagster's backfill daemon.
    assert cli.main(["reprocess", "--stale", "--no-wait", "--from-shell"]) == 0
    out = capsys.readouterr().out
    (backfill,) = platform.instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]))
    assert backfill.backfill_id in out
    assert {
        (k.partition_key, k.asset_key.to_user_string())
        for k in backfill.asset_backfill_data.target_subset.iterate_asset_partitions()
    } == expected_stale
    assert backfill_progress(platform.instance, backfill.backfill_id).targeted == len(expected_stale)

    lines: list[str] = []
    with daemon_workspace(platform.instance) as workspace:
        final = wait_for_backfill(
            platform.instance,
            backfill.backfill_id,
            lambda p: lines.append(p.line()),
            step=lambda: (backfill_daemon_iteration(workspace), run_queue_iteration(workspace)),
            timeout_seconds=120,
        )
    assert final.status == "COMPLETED_SUCCESS", lines
    assert final.materialized == len(expected_stale) and lines[0].startswith(f"requested: 0/{len(expected_stale)}")

    runs = platform.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(others)  # one run per video
    assert all(r.tags["dagster/priority"] == "-1" for r in runs)

    # Afterwards nothing is stale, by the scan and by Dagster's resolver.
    assert scan_stale(platform.instance, build_definitions(changed).resolve_asset_graph()).stale == []
    assert set(_resolver_statuses(platform.instance, changed, videos).values()) == {"FRESH"}
    assert cli.main(["reprocess", "--stale", "--dry-run", "--from-shell"]) == 0
    assert "0 of 3 videos have stale assets" in capsys.readouterr().out


def test_the_scan_computes_data_versions_exactly_as_dagster_does():
    from dagster._core.definitions.data_version import DataVersion, compute_logical_data_version

    from orchestration.reprocess import _data_version, _input_versions

    parents = {dg.AssetKey("video_variants"): {"7": "b" * 64}, dg.AssetKey("source_video"): {"7": "a" * 64}}
    ordered = [versions for _, versions in sorted(parents.items(), key=lambda item: str(item[0]))]
    expected = compute_logical_data_version(
        "faster-whisper:tiny.en:int8:beam1", {k: DataVersion(v["7"]) for k, v in parents.items()}
    )
    inputs = _input_versions(ordered, "7")
    assert inputs is not None and _data_version("faster-whisper:tiny.en:int8:beam1", inputs) == expected.value
    assert _input_versions(ordered, "8") is None
