"""The Dagster code location: assets, checks, job, sensors and resources, built from settings.

Model-driven assets get their `code_version` from the model configuration, so
changing the whisper model or the summarizer makes them and everything
downstream stale in the UI.
"""

from __future__ import annotations

import os
from typing import TypeVar

import dagster as dg

from assets.chapters import chapters_assets
from assets.checks import ALL_CHECKS
from assets.embeddings import passage_embeddings_asset
from assets.jobs import video_pipeline_job
from assets.media import source_video, video_variants
from assets.search import search_document_asset
from assets.summaries import summary_assets
from assets.transcription import transcript_asset
from orchestration.catalog import describe
from orchestration.executors import executor_for
from orchestration.maintenance import prune_uploads_job, prune_uploads_schedule
from orchestration.stale import reprocess_stale_job, stale_videos_sensor
from pipeline.chapters import CHAPTER_PROMPT_VERSION
from pipeline.embeddings import embedder_settings
from pipeline.search.factory import search_config
from pipeline.settings import Settings, get_settings
from pipeline.storage.factory import object_store_config
from pipeline.summarization.providers import summarizer_config
from pipeline.transcription import transcriber_config
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.object_store import ObjectStoreResource
from resources.pipeline_settings import PipelineSettingsResource
from resources.search_index import SearchIndexResource
from resources.summarizer import SummarizerResource
from resources.transcriber import TranscriberResource
from sensors.kafka import kafka_upload_sensor
from sensors.status import video_failure_sensor
from sensors.uploads import upload_sensor

R = TypeVar("R", bound=dg.ConfigurableResource)


def _secret(env_name: str, value: str) -> str:
    # Read at launch and hidden in the UI when it comes from the environment.
    return dg.EnvVar(env_name) if os.environ.get(env_name) else value


def build_resources(settings: Settings, *, from_env: bool = False) -> dict[str, dg.ConfigurableResource]:
    """Every resource from settings, through the same mappings (`*_config`) the API and the CLI use."""
    secret = _secret if from_env else (lambda _name, value: value)
    database = DatabaseResource(url=secret("DATABASE_URL", settings.database_url))
    api_key = {"api_key": secret("OPENAI_API_KEY", settings.openai_api_key.get_secret_value())}
    return {
        "database": database,
        "object_store": ObjectStoreResource(**object_store_config(settings)),
        "search_index": SearchIndexResource(database=database, **search_config(settings)),
        "transcriber": TranscriberResource(**transcriber_config(settings)),
        "summarizer": SummarizerResource(**{**summarizer_config(settings), **api_key},
                                         chunk_tokens=settings.summary_chunk_tokens,
                                         batch_size=settings.summary_batch_size),
        "embedding": EmbeddingResource(**{**embedder_settings(settings), **api_key}),
        "pipeline_settings": PipelineSettingsResource.from_settings(settings),
    }


def model_code_versions(settings: Settings, resources: dict[str, dg.ConfigurableResource]) -> dict[str, str]:
    """Each model-driven asset's code version: the identity of every model its output depends on.

    Dagster marks an asset stale when its own code version changes, but its
    dependents only once it has been rematerialized; naming the upstream models
    in the downstream versions shows the whole affected graph stale at once.
    """
    transcriber = _resource(resources, "transcriber", TranscriberResource).model_version()
    summarizer = _resource(resources, "summarizer", SummarizerResource).model_version()
    embedder = _resource(resources, "embedding", EmbeddingResource).model_version()
    return {"transcript": transcriber, "summaries": f"{transcriber} | {summarizer}",
            "passage_embeddings": f"{transcriber} | {summarizer} | {embedder}",
            "search_document": f"{transcriber} | {summarizer} | {embedder}",
            "chapters": f"{transcriber} | {summarizer} | {embedder} | {CHAPTER_PROMPT_VERSION} | "
                        f"min{settings.chapter_min_seconds:g}s"}


def _resource(resources: dict[str, dg.ConfigurableResource], key: str, kind: type[R]) -> R:
    resource = resources[key]
    assert isinstance(resource, kind)
    return resource


def build_assets(settings: Settings, resources: dict[str, dg.ConfigurableResource]) -> list[dg.AssetsDefinition]:
    versions = model_code_versions(settings, resources)
    return describe([source_video, video_variants, transcript_asset(versions["transcript"]),
                     *summary_assets(versions["summaries"]), passage_embeddings_asset(versions["passage_embeddings"]),
                     search_document_asset(versions["search_document"]),
                     chapters_assets(versions["chapters"], settings.chapter_min_seconds)[0]], settings)


def build_checks(settings: Settings, resources: dict[str, dg.ConfigurableResource]) -> list[dg.AssetChecksDefinition]:
    versions = model_code_versions(settings, resources)
    return [*ALL_CHECKS, chapters_assets(versions["chapters"], settings.chapter_min_seconds)[1]]


def build_definitions(settings: Settings) -> dg.Definitions:
    resources = build_resources(settings, from_env=True)
    defs = dg.Definitions(
        assets=build_assets(settings, resources),
        asset_checks=build_checks(settings, resources),
        # The reprocess job scans these definitions' own asset graph.
        jobs=[video_pipeline_job, prune_uploads_job, reprocess_stale_job(lambda: defs.resolve_asset_graph())],
        schedules=[prune_uploads_schedule],
        # The Kafka trigger exists only where Kafka is configured: no sensor skipping forever elsewhere.
        sensors=[upload_sensor, *([kafka_upload_sensor] if settings.kafka_bootstrap_servers else []),
                 video_failure_sensor, stale_videos_sensor],
        resources=resources,
        executor=executor_for(settings),
    )
    return defs


defs = build_definitions(get_settings())
