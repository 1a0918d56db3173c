"""The embedding model (offline WordLlama, or an OpenAI-compatible /v1/embeddings API) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import PrivateAttr

from pipeline.embeddings import Embedder, build_embedder, embedder_version


class EmbeddingResource(dg.ConfigurableResource):
    provider: Literal["wordllama", "openai"] = "wordllama"
    model: str = "l2_supercat"
    dimensions: int | None = None
    base_url: str | None = None
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_retries: int = 5
    _embedder: Embedder | None = PrivateAttr(default=None)

    def model_version(self) -> str:
        return embedder_version(self.provider, self.model, self.dimensions)

    def get_embedder(self) -> Embedder:
        """Built when a step first embeds, then kept for the run's later steps. Not before the run's first
        step: loading WordLlama (~0.5 s) would delay the transcode and the first playable rung."""
        if self._embedder is None:
            self._embedder = self._build()
        return self._embedder

    def _build(self) -> Embedder:
        return build_embedder(
            provider=self.provider,
            model=self.model,
            dimensions=self.dimensions,
            base_url=self.base_url,
            api_key=self.api_key,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
        )
