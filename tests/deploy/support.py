"""What the deployment tests share: the repository root, known settings names, image pinning."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import settings_env_names

ROOT = Path(__file__).resolve().parents[2]

# Read by code other than Settings: boto3 (S3 endpoint/credentials), the production dagster.yaml, and Dagster itself.
EXTRA_ENV_NAMES = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_S3",
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_COMPUTE_LOG_BUCKET",
    # Read by the test fixtures (tests/fixtures/servers.py).
    "VIDEOAI_TEST_POSTGRES_URL",
    "VIDEOAI_TEST_REUSE_SERVERS",
    # Read by the browser tests (tests/web/conftest.py): where their screenshots are kept.
    "WEB_SCREENSHOTS_DIR",
}


def known_env_names() -> set[str]:
    return settings_env_names() | EXTRA_ENV_NAMES


def is_pinned(image: str) -> bool:
    """An image reference with an explicit tag other than `latest` (or a digest)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in {"", "latest"}
