"""The summarizer (offline extractive, or an OpenAI-compatible chat API) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipeline.settings import OpenAISettings, SummarizationSettings
from pipeline.summarization import SummaryProvider, build_provider
from pipeline.summarization.providers import summarizer_version


class SummarizerResource(dg.ConfigurableResource):
    provider: Literal["extractive", "openai"] = "extractive"
    model: str = "gpt-4o-mini"
    prompt_version: str = "v1"
    base_url: str | None = None
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_retries: int = 5
    chunk_tokens: int = 8000
    batch_size: int = 5

    @classmethod
    def from_settings(
        cls, settings: SummarizationSettings, openai: OpenAISettings, *, api_key: str | None = None
    ) -> SummarizerResource:
        """`api_key`: in place of OPENAI_API_KEY's value (a Dagster EnvVar: read at launch)."""
        return cls(
            provider=settings.provider,
            model=settings.model,
            prompt_version=settings.prompt_version,
            base_url=openai.base_url,
            api_key=openai.api_key.get_secret_value() if api_key is None else api_key,
            timeout_seconds=openai.timeout_seconds,
            max_retries=openai.max_retries,
            chunk_tokens=settings.chunk_tokens,
            batch_size=settings.batch_size,
        )

    def model_version(self) -> str:
        return summarizer_version(self.provider, self.model, self.prompt_version, self.chunk_tokens)

    def get_provider(self, language: str | None = None) -> SummaryProvider:
        """The summarizer, writing in `language` (a video's transcript's; English when unknown)."""
        return build_provider(
            provider=self.provider,
            model=self.model,
            prompt_version=self.prompt_version,
            base_url=self.base_url,
            api_key=self.api_key,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            language=language,
        )
