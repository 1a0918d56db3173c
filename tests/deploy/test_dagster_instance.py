"""deploy/dagster.yaml: validated by Dagster itself, and proven to keep its state on PostgreSQL
(runs, event logs, dynamic partitions, sensor state) with compute logs in S3 (moto over HTTP)."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.instance.config import dagster_instance_config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"

pytestmark = pytest.mark.integration


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    return home


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, postgres_url: str, s3_endpoint: str, s3_bucket: str) -> str:
    """The environment deploy/dagster.yaml reads, pointing at this test's PostgreSQL and S3."""
    url = make_url(postgres_url)
    for name, value in {
        "DAGSTER_PG_HOST": url.host,
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username,
        "DAGSTER_PG_PASSWORD": url.password or "unused-with-trust-auth",
        "DAGSTER_PG_DB": url.database,
        "DAGSTER_COMPUTE_LOG_BUCKET": s3_bucket,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    return postgres_url


def test_config_passes_dagster_validation(dagster_home: Path, production_env: str) -> None:
    config, _custom_classes = dagster_instance_config(str(dagster_home))
    assert config["concurrency"]["pools"]["granularity"] == "op"
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"


def test_a_missing_setting_is_reported(dagster_home: Path, production_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(Exception, match="DAGSTER_PG_HOST"):
        dg.DagsterInstance.from_config(str(dagster_home))


def test_instance_state_lives_on_postgres_and_logs_in_s3(
    dagster_home: Path, production_env: str, s3_endpoint: str, s3_bucket: str
) -> None:
    @dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="videos"))
    def greeting(context) -> None:  # (a string annotation would not be recognised by Dagster)
        print(f"hello from partition {context.partition_key}")

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "TitledRunCoordinator"  # titles backfill runs too
        instance.add_dynamic_partitions("videos", ["42"])
        result = dg.materialize([greeting], partition_key="42", instance=instance)
        assert result.success
    finally:
        instance.dispose()

    engine = create_engine(production_env)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'videos'")) == "42"
        assert connection.scalar(text("SELECT status FROM runs WHERE run_id = :id"), {"id": result.run_id}) == "SUCCESS"
        assert (
            connection.scalar(
                text("SELECT count(*) FROM event_logs WHERE run_id = :id AND dagster_event_type = 'ASSET_MATERIALIZATION'"),
                {"id": result.run_id},
            )
            == 1
        )
        tables = set(connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
    engine.dispose()
    assert {"runs", "event_logs", "dynamic_partitions", "instigators", "job_ticks", "concurrency_limits"} <= tables

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="dagster/compute-logs/").get("Contents", [])]
    assert keys, "the step's stdout should have been uploaded to S3"
    logs = b"".join(s3.get_object(Bucket=s3_bucket, Key=k)["Body"].read() for k in keys if k.endswith(".out"))
    assert b"hello from partition 42" in logs
