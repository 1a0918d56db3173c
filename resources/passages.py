"""How passages are cut, as a Dagster resource: part of the passages' (and the search document's) code version."""

from __future__ import annotations

import dagster as dg

from pipeline.passages import PASSAGES_VERSION
from pipeline.settings import EmbeddingSettings


class PassageRulesResource(dg.ConfigurableResource):
    """Passages never span a topic change; topics are found as chapters are, at least `topic_min_seconds` long
    (CHAPTER_MIN_SECONDS)."""

    topic_min_seconds: float = EmbeddingSettings.model_fields["chapter_min_seconds"].default

    def model_version(self) -> str:
        return f"{PASSAGES_VERSION} | topics-min{self.topic_min_seconds:g}s"
