"""A ready video's language edited: its transcript and everything made from it are stale in Dagster, exactly those,
and `videoai reprocess --stale` lists them; redone, nothing is stale.

Real pieces: two real clips through the real pipeline, the app's own edit path, Dagster's sensor daemon
running `video_requests_sensor` (whose run records the new language), Dagster's staleness resolver as the reference.
"""

from __future__ import annotations

import itertools
import logging
import time

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._daemon.sensor import execute_sensor_iteration
from sqlalchemy import select

from orchestration import cli
from orchestration.definitions import build_definitions
from orchestration.reprocess import scan_stale
from pipeline.db.models import Video, VideoRequest
from pipeline.db.session import engine_for, session_scope
from pipeline.db.videos import LANGUAGE, update_video
from pipeline.search.factory import search_index_from_settings
from tests.fixtures.daemon import SYNC_RUN_LAUNCHER, daemon_workspace, run_queue_iteration
from tests.fixtures.pipeline import platform_from_environment, video_asset_keys

pytestmark = pytest.mark.e2e

# The assets whose output the speech's language decides; source_video and video_variants are not among them.
FOLLOW_THE_LANGUAGE = {"transcript", "chunk_summaries", "video_summary", "chapters", "passage_embeddings", "search_document"}
_TICKS = itertools.count(1)


@pytest.fixture
def platform(tmp_path, monkeypatch):
    with platform_from_environment(tmp_path, monkeypatch, {"run_launcher": SYNC_RUN_LAUNCHER}) as platform:
        yield platform


def _stale_by_dagster(platform, partitions) -> set[tuple[str, str]]:
    graph = build_definitions(platform.settings).resolve_asset_graph()
    resolver = CachingStaleStatusResolver(platform.instance, graph, LoadingContextForTest(platform.instance))
    return {
        (p, a) for p in partitions for a in video_asset_keys(graph) if resolver.get_status(dg.AssetKey(a), p).value == "STALE"
    }


def _edit_language(platform, video_id: int, language: str | None) -> None:
    engine = engine_for(platform.settings.database.url)
    with session_scope(engine) as session:
        video = session.get(Video, video_id)
        update_video(session, search_index_from_settings(platform.settings.search, engine), video, {"language": language})


def _sensor_daemon_tick(platform) -> None:
    """One pass of Dagster's sensor daemon, past every sensor's minimum interval, then of the run queue: the runs it
    requested are executed at once (the platform's synchronous run launcher)."""
    with daemon_workspace(platform.instance) as workspace:
        with freeze_time(time.time() + 60 * next(_TICKS)):
            list(execute_sensor_iteration(workspace, logging.getLogger("tests.sensor"), None, None))
        run_queue_iteration(workspace)


def test_a_language_edit_makes_exactly_that_videos_transcript_and_what_follows_stale(platform, small_video_path, capsys):
    edited, untouched = (platform.register(small_video_path, title=f"clip {i}") for i in range(2))
    for video_id in (edited, untouched):
        assert platform.run(video_id).success
    partitions = [str(edited), str(untouched)]
    graph = build_definitions(platform.settings).resolve_asset_graph()
    assert scan_stale(platform.instance, graph).stale == []

    _edit_language(platform, edited, "fr")
    _edit_language(platform, untouched, None)  # unchanged: no request, nothing stale
    _sensor_daemon_tick(platform)  # requests the run of video_language, which the launcher executes
    _sensor_daemon_tick(platform)  # sees the run: the request is done
    with session_scope(engine_for(platform.settings.database.url)) as session:
        requests = list(session.scalars(select(VideoRequest).where(VideoRequest.kind == LANGUAGE)))
    assert [r.video_id for r in requests] == [edited] and requests[0].outcome.startswith("run "), requests
    (run,) = platform.instance.get_runs(dg.RunsFilter(tags={"videoai/trigger": "language"}))
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.asset_selection == {dg.AssetKey("video_language")}

    expected = {(str(edited), asset) for asset in FOLLOW_THE_LANGUAGE}
    assert _stale_by_dagster(platform, partitions) == expected
    scan = scan_stale(platform.instance, graph)
    assert {(s.partition, s.asset) for s in scan.stale} == expected
    assert all("video_language" in " ".join(s.reasons) for s in scan.stale), scan.stale

    assert cli.main(["reprocess", "--stale", "--dry-run", "--from-shell"]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 videos have stale assets" in out, out
    assert [line.split(":")[0].strip() for line in out.splitlines() if line.strip().startswith("video ")] == [f"video {edited}"]

    # Redone with its new language: nothing is stale any more.
    assert platform.run(edited).success
    assert scan_stale(platform.instance, graph).stale == []
    assert _stale_by_dagster(platform, partitions) == set()
