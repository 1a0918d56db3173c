"""The Dagster code location: the assets and checks of the `assets` package, the jobs, sensors and
resources, built from settings.

Every asset and check is loaded from its module (assets/): adding one is adding its module there.
`assets/catalog.py` gives each asset this installation's kinds and, for model-driven assets, a
`code_version` naming every model its output depends on, so changing the whisper model or the
summarizer makes them and everything downstream stale in the UI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import dagster as dg

import assets
from assets.catalog import for_installation
from assets.jobs import video_pipeline_job
from orchestration.executors import executor_for
from orchestration.maintenance import prune_uploads_job, prune_uploads_schedule
from orchestration.stale import reprocess_stale_job, stale_videos_sensor
from orchestration.video_requests import video_requests_sensor
from pipeline.settings import Settings, get_settings
from resources.chapters import ChapterRulesResource
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.object_store import ObjectStoreResource
from resources.passages import PassageRulesResource
from resources.pipeline_settings import PipelineSettingsResource
from resources.search_index import SearchIndexResource
from resources.summarizer import SummarizerResource
from resources.transcriber import TranscriberResource
from sensors.kafka import kafka_upload_sensor
from sensors.status import video_failure_sensor
from sensors.uploads import upload_sensor


def _secret(env_name: str, value: str) -> str:
    # Read at launch and hidden in the UI when it comes from the environment.
    return dg.EnvVar(env_name) if os.environ.get(env_name) else value


def build_resources(settings: Settings, *, from_env: bool = False) -> dict[str, dg.ConfigurableResource]:
    """Every resource from its settings group."""
    secret = _secret if from_env else (lambda _name, value: value)
    database = DatabaseResource(url=secret("DATABASE_URL", settings.database.url))
    api_key = secret("OPENAI_API_KEY", settings.openai.api_key.get_secret_value())
    return {
        "database": database,
        "object_store": ObjectStoreResource.from_settings(settings.storage),
        "search_index": SearchIndexResource.from_settings(settings.search, database),
        "transcriber": TranscriberResource.from_settings(settings.transcription),
        "summarizer": SummarizerResource.from_settings(settings.summarization, settings.openai, api_key=api_key),
        "embedding": EmbeddingResource.from_settings(settings.embeddings, settings.openai, api_key=api_key),
        "chapter_rules": ChapterRulesResource(min_seconds=settings.embeddings.chapter_min_seconds),
        "passage_rules": PassageRulesResource(topic_min_seconds=settings.embeddings.chapter_min_seconds),
        "pipeline_settings": PipelineSettingsResource.from_settings(settings),
    }


def resource_kinds(settings: Settings) -> dict[str, str]:
    """What each resource is on this installation, as Dagster shows it: the kinds of the assets that use it."""
    database = "postgres" if settings.database.url.startswith("postgresql") else "sqlite"
    return {
        "database": database,
        "object_store": "s3" if settings.storage.kind == "s3" else "local-files",
        "search_index": "opensearch" if settings.search.backend == "opensearch" else database,
        "transcriber": "whisper",
        "summarizer": "openai" if settings.summarization.provider == "openai" else "extractive",
        "embedding": "openai" if settings.embeddings.provider == "openai" else "wordllama",
    }


@runtime_checkable
class ModelDriven(Protocol):
    """A resource whose output a model (or a prompt, or a rule) decides."""

    def model_version(self) -> str: ...


def model_versions(resources: dict[str, dg.ConfigurableResource]) -> dict[str, str]:
    """The identity of each model-driven resource, in the order code versions name them."""
    return {key: resource.model_version() for key, resource in resources.items() if isinstance(resource, ModelDriven)}


def build_assets(
    settings: Settings, resources: dict[str, dg.ConfigurableResource], code_versions: Mapping[str, str | None] | None = None
) -> list[dg.AssetsDefinition]:
    """The assets of this installation; with `code_versions` (asset -> code version), those instead of the ones
    this process's settings give: another process's view of the same code (`videoai reprocess` takes the
    deployed code location's, orchestration/code_location.py)."""
    built = for_installation(dg.load_assets_from_package_module(assets), resource_kinds(settings), model_versions(resources))
    if code_versions is None:
        return built
    return [
        a.map_asset_specs(lambda s: s.replace_attributes(code_version=code_versions.get(s.key.to_user_string(), s.code_version)))
        for a in built
    ]


def build_definitions(settings: Settings, *, code_versions: Mapping[str, str | None] | None = None) -> dg.Definitions:
    resources = build_resources(settings, from_env=True)
    defs = dg.Definitions(
        assets=build_assets(settings, resources, code_versions),
        asset_checks=dg.load_asset_checks_from_package_module(assets),
        # The reprocess job scans these definitions' own asset graph.
        jobs=[video_pipeline_job, prune_uploads_job, reprocess_stale_job(lambda: defs.resolve_asset_graph())],
        schedules=[prune_uploads_schedule],
        # The Kafka trigger exists only where Kafka is configured: no sensor skipping forever elsewhere.
        sensors=[
            upload_sensor,
            *([kafka_upload_sensor] if settings.events.kafka_bootstrap_servers else []),
            video_failure_sensor,
            stale_videos_sensor,
            video_requests_sensor,
        ],
        resources=resources,
        executor=executor_for(settings),
    )
    return defs


defs = build_definitions(get_settings())
