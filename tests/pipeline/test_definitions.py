"""The code location loads, validates with Dagster's CLI, and wires the graph as designed."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from assets.jobs import VIDEO_ASSET_KEYS
from orchestration.definitions import build_definitions

ROOT = Path(__file__).resolve().parents[2]


def test_dagster_definitions_validate_passes_on_the_workspace(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "VIDEOAI_HOME": str(tmp_path / "home")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location videoai" in done.stderr + done.stdout


def test_the_asset_graph_has_the_designed_lineage(settings):
    graph = build_definitions(settings).resolve_asset_graph()
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} for key in VIDEO_ASSET_KEYS}
    assert parents == {
        "source_video": set(),
        "video_variants": {"source_video"},
        # Transcription reads the source's audio: it does not wait for the encode.
        "transcript": {"source_video"},
        "chunk_summaries": {"transcript"},
        "video_summary": {"chunk_summaries"},
        "passage_embeddings": {"transcript", "video_summary"},
        "search_document": {"video_summary", "video_variants", "passage_embeddings"},
        "chapters": {"transcript", "chunk_summaries"},
    }
    assert all(graph.get(dg.AssetKey(key)).partitions_def.name == "videos" for key in VIDEO_ASSET_KEYS)


def test_the_job_and_sensors_are_registered(settings):
    defs = build_definitions(settings)
    job = defs.resolve_job_def("video_pipeline")
    assert {node.name for node in job.graph.node_defs} >= set(VIDEO_ASSET_KEYS)
    assert {s.name for s in defs.sensors} == {"upload_sensor", "video_failure_sensor", "stale_videos_sensor"}  # no Kafka
    assert defs.resolve_sensor_def("upload_sensor").job_name == "video_pipeline"
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {"transcript_segments_are_timed", "transcript_coverage", "summary_shape", "search_document_present",
                      "chapters_are_well_formed"}


def test_the_kafka_sensor_exists_only_when_kafka_is_configured(make_settings):
    with_kafka = build_definitions(make_settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092"))
    assert "kafka_upload_sensor" in {s.name for s in with_kafka.sensors}
    assert "kafka_upload_sensor" not in {s.name for s in build_definitions(make_settings()).sensors}


def test_loading_the_code_location_prints_no_dagster_preview_or_supersession_warning(tmp_path):
    # A fresh interpreter: the module's definitions are built on import, as the webserver and daemon load them.
    code = ("import warnings, dagster as dg\n"
            "warnings.simplefilter('error', dg.PreviewWarning)\n"
            "warnings.simplefilter('error', dg.BetaWarning)\n"
            "warnings.simplefilter('error', dg.SupersessionWarning)\n"
            "import orchestration.definitions as d\n"
            "d.defs.resolve_asset_graph(); d.defs.resolve_job_def('video_pipeline')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "VIDEOAI_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr, done.stderr[-2000:]


def test_kinds_say_what_really_runs_and_assets_have_owners(make_settings):
    def kinds(settings) -> dict[str, set[str]]:
        graph = build_definitions(settings).resolve_asset_graph()
        return {key: set(graph.get(dg.AssetKey(key)).kinds) for key in VIDEO_ASSET_KEYS}

    embedded = kinds(make_settings())
    assert not any("openai" in k or "llm" in k for k in embedded.values())
    assert embedded["transcript"] == {"whisper", "local-files", "sqlite"}
    assert embedded["chunk_summaries"] == {"extractive", "sqlite"}
    production = kinds(make_settings(SUMMARIZER_PROVIDER="openai", OBJECT_STORE="s3", SEARCH_BACKEND="opensearch",
                                     DATABASE_URL="postgresql+psycopg://u@h/db"))
    assert production["video_summary"] == {"openai", "s3", "postgres"}
    assert production["search_document"] == {"opensearch", "postgres"}
    assert all(len(k) <= 3 for k in production.values())
    graph = build_definitions(make_settings()).resolve_asset_graph()
    assert all(graph.get(dg.AssetKey(key)).owners for key in VIDEO_ASSET_KEYS)
    assert {graph.get(dg.AssetKey(key)).group_name for key in VIDEO_ASSET_KEYS} == {"media", "content"}
