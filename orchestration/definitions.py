"""The Dagster code location: assets, checks, job, sensors and resources, built from settings.

Model-driven assets get their `code_version` from the model configuration, so
changing the whisper model or the summarizer makes them and everything
downstream stale in the UI.
"""

from __future__ import annotations

import os

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
from pipeline.chapters import CHAPTER_PROMPT_VERSION
from pipeline.embeddings import embedder_settings
from pipeline.settings import Settings, get_settings
from resources.database import DatabaseResource
from resources.embedder import EmbeddingResource
from resources.object_store import ObjectStoreResource
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
    secret = _secret if from_env else (lambda _name, value: value)
    database = DatabaseResource(url=secret("DATABASE_URL", settings.database_url))
    return {
        "database": database,
        "object_store": ObjectStoreResource(
            kind=settings.object_store, directory=str(settings.object_store_dir), bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
            public_endpoint_url=settings.s3_public_endpoint_url),
        "search_index": SearchIndexResource(
            database=database, backend=settings.search_backend, opensearch_url=settings.opensearch_url,
            opensearch_index=settings.opensearch_index),
        "transcriber": TranscriberResource(
            model=settings.whisper_model, model_name=settings.whisper_model_name, device=settings.whisper_device,
            compute_type=settings.whisper_compute_type, beam_size=settings.whisper_beam_size),
        "summarizer": SummarizerResource(
            provider=settings.summarizer_provider, model=settings.summarizer_model,
            prompt_version=settings.summary_prompt_version, base_url=settings.openai_base_url,
            api_key=secret("OPENAI_API_KEY", settings.openai_api_key.get_secret_value()),
            timeout_seconds=settings.llm_timeout_seconds, max_retries=settings.llm_max_retries,
            chunk_tokens=settings.summary_chunk_tokens, batch_size=settings.summary_batch_size),
        "embedding": EmbeddingResource(**{
            **embedder_settings(settings), "timeout_seconds": settings.llm_timeout_seconds,
            "api_key": secret("OPENAI_API_KEY", settings.openai_api_key.get_secret_value())}),
    }


def model_code_versions(settings: Settings) -> dict[str, str]:
    """Each model-driven asset's code version: the identity of every model its output depends on.

    Dagster marks an asset stale when its own code version changes, but its
    dependents only once it has been rematerialized; naming the upstream models
    in the downstream versions shows the whole affected graph stale at once.
    """
    transcriber, summarizer = settings.transcriber_version(), settings.summarizer_version()
    embedder = settings.embedder_version()
    return {"transcript": transcriber, "summaries": f"{transcriber} | {summarizer}",
            "passage_embeddings": f"{transcriber} | {summarizer} | {embedder}",
            "search_document": f"{transcriber} | {summarizer} | {embedder}",
            "chapters": f"{transcriber} | {summarizer} | {embedder} | {CHAPTER_PROMPT_VERSION} | "
                        f"min{settings.chapter_min_seconds:g}s"}


def build_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    versions = model_code_versions(settings)
    return describe([source_video, video_variants, transcript_asset(versions["transcript"]),
                     *summary_assets(versions["summaries"]), passage_embeddings_asset(versions["passage_embeddings"]),
                     search_document_asset(versions["search_document"]),
                     chapters_assets(versions["chapters"], settings.chapter_min_seconds)[0]], settings)


def build_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    versions = model_code_versions(settings)
    return [*ALL_CHECKS, chapters_assets(versions["chapters"], settings.chapter_min_seconds)[1]]


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=build_assets(settings),
        asset_checks=build_checks(settings),
        jobs=[video_pipeline_job, prune_uploads_job],
        schedules=[prune_uploads_schedule],
        # The Kafka trigger exists only where Kafka is configured: no sensor skipping forever elsewhere.
        sensors=[upload_sensor, *([kafka_upload_sensor] if settings.kafka_bootstrap_servers else []),
                 video_failure_sensor],
        resources=build_resources(settings, from_env=True),
        executor=executor_for(settings),
    )


defs = build_definitions(get_settings())
