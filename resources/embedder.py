"""The embedding model (offline WordLlama, or an OpenAI-compatible /v1/embeddings API) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import PrivateAttr

from pipeline.embeddings import Embedder, build_embedder, embedder_version
from pipeline.settings import EmbeddingSettings, OpenAISettings


class EmbeddingResource(dg.ConfigurableResource):
    provider: Literal["wordllama", "openai"] = "wordllama"
    model: str = "l2_supercat"
    dimensions: int | None = None
    base_url: str | None = None
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_retries: int = 5
    _embedder: Embedder | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(
        cls, settings: EmbeddingSettings, openai: OpenAISettings, *, api_key: str | None = None
    ) -> EmbeddingResource:
        """`api_key`: in place of OPENAI_API_KEY's value (a Dagster EnvVar: read at launch)."""
        return cls(
            provider=settings.provider,
            model=settings.model_name(),
            dimensions=settings.dimensions,
            base_url=settings.api_base_url(openai),
            api_key=openai.api_key.get_secret_value() if api_key is None else api_key,
            timeout_seconds=openai.timeout_seconds,
            max_retries=openai.max_retries,
        )

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
