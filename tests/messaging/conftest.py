"""Fixtures for the Kafka sensor: settings pointing at the test broker, a Dagster instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipeline.settings import get_settings


@pytest.fixture
def kafka_sensor_settings(kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The sensor reads get_settings(): point it at this test's broker, and forget it afterwards."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield kafka_bootstrap
    get_settings.cache_clear()


@pytest.fixture
def sensor_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance
