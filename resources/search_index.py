"""The search index (Tantivy, the app database, or OpenSearch) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipeline.search import SearchIndex
from pipeline.search.vectors import VectorIndex
from pipeline.settings import SearchSettings
from resources.database import DatabaseResource


class SearchIndexResource(dg.ConfigurableResource):
    database: DatabaseResource
    backend: Literal["tantivy", "database", "opensearch"] = "tantivy"
    opensearch_url: str | None = None
    opensearch_index: str = "videoai-videos"
    index_dir: str | None = None  # the tantivy backend's directory

    @classmethod
    def from_settings(cls, settings: SearchSettings, database: DatabaseResource) -> SearchIndexResource:
        return cls(
            database=database,
            backend=settings.backend,
            opensearch_url=settings.opensearch_url,
            opensearch_index=settings.opensearch_index,
            index_dir=str(settings.index_dir),
        )

    def get_index(self) -> SearchIndex:
        from pipeline.search.factory import search_index_for

        index = search_index_for(self.backend, self.database.engine(), self.opensearch_url, self.opensearch_index, self.index_dir)
        index.ensure()
        return index

    def get_vector_index(self) -> VectorIndex | None:
        """Where passage vectors are indexed beside the text; None for a backend without vectors."""
        from pipeline.search.vectors import vector_index_for

        return vector_index_for(self.backend, self.database.engine())
