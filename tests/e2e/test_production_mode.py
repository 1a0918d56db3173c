"""Production mode, switched by configuration alone, on real servers:
PostgreSQL (app database and Dagster's storage), S3 (moto over HTTP), a Kafka-protocol
broker (Tansu) and an OpenSearch-compatible server.

upload through the API → outbox → relay → Kafka → Kafka sensor → assets → search, to ready.
"""

import shutil
from pathlib import Path

import dagster as dg
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from orchestration.definitions import build_definitions, build_resources
from orchestration.demo import DEMO_SEARCH_WORD
from pipeline.db.models import OutboxEvent, ProcessedMessage, VideoVariant
from pipeline.db.session import engine_for, session_scope
from pipeline.events import TOPICS, VIDEO_UPLOADED
from pipeline.messaging.relay import ensure_topics, make_producer, relay_outbox
from pipeline.settings import get_settings
from serving_api.main import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.production]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "production-mode-42"


@pytest.fixture
def production(
    monkeypatch, tmp_path, make_postgres_database, s3_endpoint, s3_bucket, kafka_bootstrap, opensearch_url, opensearch_index_name
):
    """The platform configured for production through the environment only, as an operator would."""
    app_db, dagster_db = make_postgres_database(), make_url(make_postgres_database())
    environment = {
        "VIDEOAI_HOME": str(tmp_path / "home"),
        "DATABASE_URL": app_db,
        "OBJECT_STORE": "s3",
        "S3_BUCKET": s3_bucket,
        "S3_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "SEARCH_BACKEND": "opensearch",
        "OPENSEARCH_URL": opensearch_url,
        "OPENSEARCH_INDEX": opensearch_index_name,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "JWT_SECRET": "production-test-secret-" + "y" * 40,
        # deploy/dagster.yaml: Dagster's runs, event logs and sensor state on PostgreSQL, logs in S3.
        "DAGSTER_PG_HOST": dagster_db.host,
        "DAGSTER_PG_PORT": str(dagster_db.port or 5432),
        "DAGSTER_PG_USER": dagster_db.username,
        "DAGSTER_PG_PASSWORD": dagster_db.password or "trust",
        "DAGSTER_PG_DB": dagster_db.database,
        "DAGSTER_COMPUTE_LOG_BUCKET": s3_bucket,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        yield get_settings(), instance, dagster_db.render_as_string(hide_password=False)
    finally:
        instance.dispose()
        get_settings.cache_clear()


def test_upload_through_api_kafka_sensor_assets_and_search_to_ready(production, speech_video_path):
    settings, instance, dagster_db_url = production
    ensure_topics(settings.events.kafka_bootstrap_servers, TOPICS)

    with TestClient(create_app(settings)) as api:
        # A user signs up and uploads through the API.
        api.post("/api/v1/auth/signup", json={"email": "ops@example.com", "password": PASSWORD}).raise_for_status()
        token = api.post("/api/v1/auth/login", data={"username": "ops@example.com", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        with open(speech_video_path, "rb") as video:
            created = api.post(
                "/api/v1/videos/upload",
                headers=auth,
                data={"title": "Volcano talk"},
                files={"file": ("volcano.mp4", video, "video/mp4")},
            )
        assert created.status_code == 201, created.text
        video_id = created.json()["id"]

        # The relay publishes the outbox to Kafka, then marks it published.
        engine = engine_for(settings.database.url)
        producer = make_producer(settings.events.kafka_bootstrap_servers)
        try:
            stats = relay_outbox(engine, producer)
        finally:
            producer.close()
        assert stats.published >= 1 and stats.failed == 0
        with session_scope(engine) as session:
            uploaded = session.scalars(select(OutboxEvent).where(OutboxEvent.topic == VIDEO_UPLOADED)).one()
            assert uploaded.published_at is not None and uploaded.key == str(video_id)

        # The Kafka sensor turns the event into a partition and a run, stored on PostgreSQL.
        defs = build_definitions(settings)
        sensor = defs.resolve_sensor_def("kafka_upload_sensor")
        resources = build_resources(settings)
        sensor_resources = {"database": resources["database"], "pipeline_settings": resources["pipeline_settings"]}
        with dg.build_sensor_context(instance=instance, resources=sensor_resources) as context:
            tick = sensor(context)
        assert [r.partition_key for r in tick.run_requests] == [str(video_id)]
        for request in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))

        # The run it requested materializes every asset.
        job = defs.resolve_job_def("video_pipeline")
        run = job.execute_in_process(
            partition_key=tick.run_requests[0].partition_key,
            tags=tick.run_requests[0].tags,
            instance=instance,
            resources=resources,
        )
        assert run.success

        # A second tick requests nothing: the event was processed once.
        with dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=sensor_resources) as context:
            again = sensor(context)
        assert not getattr(again, "run_requests", None)
        with session_scope(engine) as session:
            assert session.scalars(select(ProcessedMessage.event_id)).all() == [uploaded.event_id]

        # The API shows it ready, finds a spoken word with its timestamp, and plays it from S3.
        video = api.get(f"/api/v1/videos/{video_id}").json()
        assert video["status"] == "ready", video
        hits = api.get("/api/v1/videos/search", params={"q": DEMO_SEARCH_WORD}).json()["hits"]
        assert [h["video_id"] for h in hits] == [video_id]
        assert hits[0]["matches"] and hits[0]["matches"][0]["start"] > 0
        assert DEMO_SEARCH_WORD in hits[0]["matches"][0]["text"].lower()
        watch = api.get(f"/api/v1/videos/{video_id}/watch").json()
        variant_url = watch["variants"][0]["url"]
        assert variant_url.startswith(settings.storage.s3_endpoint_url)  # presigned, straight from the object store
        head = httpx.get(variant_url, headers={"Range": "bytes=0-11"}, timeout=10)
        assert head.status_code == 206 and head.content[4:8] == b"ftyp"
        # HLS comes through the API (its playlists' relative URIs), read from S3.
        master = api.get(watch["hls_url"])
        assert master.status_code == 200 and master.text.startswith("#EXTM3U") and "360p/index.m3u8" in master.text

    with session_scope(engine) as session:
        keys = session.scalars(select(VideoVariant.object_key).where(VideoVariant.video_id == video_id)).all()
    assert sorted(keys) == sorted(f"videos/{video_id}/variants/{label}.mp4" for label in ("360p", "480p", "720p"))

    # Dagster's own state is in PostgreSQL.
    dagster_db = create_engine(dagster_db_url)
    with dagster_db.connect() as connection:
        assert connection.scalar(text("SELECT status FROM runs WHERE run_id = :id"), {"id": run.run_id}) == "SUCCESS"
        assert connection.scalar(text("SELECT count(*) FROM dynamic_partitions WHERE partition = :p"), {"p": str(video_id)}) == 1
    dagster_db.dispose()
