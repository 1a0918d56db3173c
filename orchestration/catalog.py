"""What the Dagster catalog says about each per-video asset: kinds that are true for this
installation (the storage and models really in use), owners, and tags to select by.

Kinds come from the settings, so the UI shows `openai` only when the OpenAI-compatible
provider is on, `postgres` or `sqlite` for the app database, `s3` when objects live there.
Dagster shows at most three kinds per asset: the processing engine first, then storage.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pipeline.settings import Settings

OWNERS = ["team:videoai-data"]
# Assets whose output depends on a model: `videoai reprocess --stale --select tag:model_driven`.
MODEL_DRIVEN_TAG = "model_driven"
_MAX_KINDS = 3


def storage_kinds(settings: Settings) -> dict[str, str]:
    database = "postgres" if settings.database_url.startswith("postgresql") else "sqlite"
    return {"database": database, "objects": "s3" if settings.object_store == "s3" else "local-files",
            "search": "opensearch" if settings.search_backend == "opensearch" else database}


def asset_kinds(settings: Settings) -> dict[str, list[str]]:
    store = storage_kinds(settings)
    summarizer = "openai" if settings.summarizer_provider == "openai" else "extractive"
    embedder = "openai" if settings.embedding_provider == "openai" else "wordllama"
    return {
        "source_video": ["ffmpeg", store["objects"], store["database"]],
        "video_variants": ["ffmpeg", store["objects"], store["database"]],
        "transcript": ["whisper", store["objects"], store["database"]],
        "chunk_summaries": [summarizer, store["database"]],
        "video_summary": [summarizer, store["objects"], store["database"]],
        "passage_embeddings": [embedder, store["database"]],
        "chapters": [embedder, summarizer, store["database"]],
        "search_document": list(dict.fromkeys([store["search"], store["database"]])),
    }


def describe(assets: Sequence[dg.AssetsDefinition], settings: Settings) -> list[dg.AssetsDefinition]:
    """The assets with this installation's kinds, the owners and the model-driven tag."""
    kinds = asset_kinds(settings)

    def spec(s: dg.AssetSpec) -> dg.AssetSpec:
        name = s.key.to_user_string()
        tags = {k: v for k, v in s.tags.items() if not k.startswith("dagster/kind/")}
        if s.code_version:
            tags[MODEL_DRIVEN_TAG] = ""
        return s.replace_attributes(kinds=set(kinds.get(name, sorted(s.kinds))[:_MAX_KINDS]), owners=OWNERS, tags=tags)

    return [a.map_asset_specs(spec) for a in assets]
