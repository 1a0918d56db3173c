"""The code location loads, validates with Dagster's CLI, and wires the graph as designed."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from tests.fixtures.pipeline import video_asset_keys

ROOT = Path(__file__).resolve().parents[2]


def test_dagster_definitions_validate_passes_on_the_workspace(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "VIDEOAI_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location videoai" in done.stderr + done.stdout


def test_the_asset_graph_has_the_designed_lineage(settings):
    graph = build_definitions(settings).resolve_asset_graph()
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} for key in video_asset_keys(graph)}
    assert parents == {
        "source_video": set(),
        "video_variants": {"source_video"},
        # Transcription reads the source's audio: it does not wait for the encode.
        # Everything the speech decides depends on the video's language itself: an edit makes each stale.
        "video_language": set(),
        "transcript": {"source_video", "video_language"},
        "chunk_summaries": {"transcript", "video_language"},
        "video_summary": {"chunk_summaries", "video_language"},
        "passage_embeddings": {"transcript", "video_summary", "video_language"},
        "search_document": {"video_summary", "video_variants", "passage_embeddings", "video_language"},
        "chapters": {"transcript", "chunk_summaries", "video_language"},
    }
    assert all(graph.get(dg.AssetKey(key)).partitions_def.name == "videos" for key in video_asset_keys(graph))


def test_the_job_and_sensors_are_registered(settings):
    defs = build_definitions(settings)
    job = defs.resolve_job_def("video_pipeline")
    assert {node.name for node in job.graph.node_defs} >= set(video_asset_keys(defs.resolve_asset_graph()))
    assert {s.name for s in defs.sensors} == {
        "upload_sensor",
        "video_failure_sensor",
        "stale_videos_sensor",
        "video_requests_sensor",
    }  # no Kafka
    assert defs.resolve_sensor_def("upload_sensor").job_name == "video_pipeline"
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {
        "transcript_segments_are_timed",
        "transcript_coverage",
        "summary_shape",
        "search_document_present",
        "chapters_are_well_formed",
    }


def test_the_kafka_sensor_exists_only_when_kafka_is_configured(make_settings):
    with_kafka = build_definitions(make_settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092"))
    assert "kafka_upload_sensor" in {s.name for s in with_kafka.sensors}
    assert "kafka_upload_sensor" not in {s.name for s in build_definitions(make_settings()).sensors}


def test_loading_the_code_location_prints_no_dagster_preview_or_supersession_warning(tmp_path):
    # A fresh interpreter: the module's definitions are built on import, as the webserver and daemon load them.
    code = (
        "import warnings, dagster as dg\n"
        "warnings.simplefilter('error', dg.PreviewWarning)\n"
        "warnings.simplefilter('error', dg.BetaWarning)\n"
        "warnings.simplefilter('error', dg.SupersessionWarning)\n"
        "import orchestration.definitions as d\n"
        "d.defs.resolve_asset_graph(); d.defs.resolve_job_def('video_pipeline')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VIDEOAI_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr, done.stderr[-2000:]


def test_kinds_say_what_really_runs_and_assets_have_owners(make_settings):
    def kinds(settings) -> dict[str, set[str]]:
        graph = build_definitions(settings).resolve_asset_graph()
        return {key: set(graph.get(dg.AssetKey(key)).kinds) for key in video_asset_keys(graph)}

    embedded = kinds(make_settings())
    assert not any("openai" in k or "llm" in k for k in embedded.values())
    assert embedded["transcript"] == {"whisper", "local-files", "sqlite"}
    assert embedded["chunk_summaries"] == {"extractive", "sqlite"}
    production = kinds(
        make_settings(
            SUMMARIZER_PROVIDER="openai",
            OBJECT_STORE="s3",
            SEARCH_BACKEND="opensearch",
            DATABASE_URL="postgresql+psycopg://u@h/db",
        )
    )
    assert production["video_summary"] == {"openai", "s3", "postgres"}
    assert production["search_document"] == {"opensearch", "postgres"}
    assert all(len(k) <= 3 for k in production.values())
    graph = build_definitions(make_settings()).resolve_asset_graph()
    assert all(graph.get(dg.AssetKey(key)).owners for key in video_asset_keys(graph))
    assert {graph.get(dg.AssetKey(key)).group_name for key in video_asset_keys(graph)} == {"media", "content"}


NEW_ASSET_MODULE = '''
"""A new asset, declared here and nowhere else: the transcript's word count."""

import dagster as dg

from assets.catalog import video_asset
from assets.checks import video_check
from assets.support import repository
from assets.transcription import transcript
from resources.database import DatabaseResource
from resources.summarizer import SummarizerResource


@video_asset(group_name="content", deps=[transcript], kinds={"python"}, pool="counting",
             description="How many words the transcript has.")
def transcript_word_count(context: dg.AssetExecutionContext, database: DatabaseResource,
                          summarizer: SummarizerResource) -> dg.MaterializeResult:
    row = repository(context, database).transcript()
    return dg.MaterializeResult(metadata={"words": row.word_count if row else 0})


@video_check(asset=transcript_word_count, description="The count is not negative.")
def word_count_is_not_negative(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)
'''


def test_adding_an_asset_is_adding_its_module(settings, tmp_path, monkeypatch):
    """A module dropped into the assets package (here through its search path: the tree stays untouched) is
    in the code location, in the per-video job, with its check, its owners, its retry policy, and the kinds and
    code version of this installation; nothing in orchestration/ names it."""
    import assets
    from assets.support import TRANSIENT_RETRY

    (tmp_path / "transcript_word_count.py").write_text(NEW_ASSET_MODULE)
    monkeypatch.setattr(assets, "__path__", [*assets.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "assets.transcript_word_count", raising=False)
    try:
        defs = build_definitions(settings)
    finally:
        sys.modules.pop("assets.transcript_word_count", None)
        vars(assets).pop("transcript_word_count", None)
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("transcript_word_count")
    node = graph.get(key)
    assert {p.to_user_string() for p in node.parent_keys} == {"transcript"}
    assert node.partitions_def.name == "videos" and node.group_name == "content" and node.owners
    assert defs.get_assets_def(key).op.pool == "counting"
    assert set(node.kinds) == {"python", "extractive", "sqlite"}  # its own, the summarizer's, the database's
    # The models behind it: the transcriber upstream, the summarizer it uses; stale when either changes.
    assert node.code_version == graph.get(dg.AssetKey("chunk_summaries")).code_version
    assert "model_driven" in node.tags
    assert defs.get_assets_def(key).op.retry_policy == TRANSIENT_RETRY
    assert "word_count_is_not_negative" in {k.name for k in graph.asset_check_keys}
    assert "transcript_word_count" in {n.name for n in defs.resolve_job_def("video_pipeline").graph.node_defs}
    orchestration = "".join(path.read_text() for path in (ROOT / "orchestration").rglob("*.py"))
    assert "transcript_word_count" not in orchestration and "word_count_is_not_negative" not in orchestration
