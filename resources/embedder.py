"""The embedding model (offline WordLlama, or an OpenAI-compatible /v1/embeddings API) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipeline.embeddings import Embedder, build_embedder


class EmbeddingResource(dg.ConfigurableResource):
    provider: Literal["wordllama", "openai"] = "wordllama"
    model: str = "l2_supercat"
    dimensions: int | None = None
    base_url: str | None = None
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_retries: int = 5

    def get_embedder(self) -> Embedder:
        return build_embedder(provider=self.provider, model=self.model, dimensions=self.dimensions,
                              base_url=self.base_url, api_key=self.api_key, timeout_seconds=self.timeout_seconds,
                              max_retries=self.max_retries)
