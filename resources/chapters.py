"""How chapters are cut, as a Dagster resource: part of the chapters' code version."""

from __future__ import annotations

import dagster as dg

from pipeline.chapters import CHAPTER_PROMPT_VERSION
from pipeline.settings import EmbeddingSettings


class ChapterRulesResource(dg.ConfigurableResource):
    """The shortest chapter (CHAPTER_MIN_SECONDS) and the chapter writer's prompt."""

    min_seconds: float = EmbeddingSettings.model_fields["chapter_min_seconds"].default

    def model_version(self) -> str:
        return f"{CHAPTER_PROMPT_VERSION} | min{self.min_seconds:g}s"
