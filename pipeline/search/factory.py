"""Choosing the search backend from configuration.

`database` keeps search where the data lives (FTS5 on SQLite, tsvector on
PostgreSQL, picked from the engine's dialect); `opensearch` moves it to a cluster.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from pipeline.search.base import SearchIndex
from pipeline.search.postgres_fts import PostgresFtsIndex
from pipeline.search.sqlite_fts import SqliteFtsIndex
from pipeline.settings import Settings


class SearchConfigurationError(ValueError):
    """The search settings cannot work together (say which variable to set)."""


def search_index_for(backend: str, engine: Engine | None, opensearch_url: str | None = None,
                     opensearch_index: str = "videoai-videos") -> SearchIndex:
    if backend == "database":
        if engine is None:
            raise SearchConfigurationError("SEARCH_BACKEND=database needs the app database engine")
        if engine.dialect.name == "sqlite":
            return SqliteFtsIndex(engine)
        if engine.dialect.name == "postgresql":
            return PostgresFtsIndex(engine)
        raise SearchConfigurationError(
            f"SEARCH_BACKEND=database supports SQLite and PostgreSQL app databases, not {engine.dialect.name}; "
            "set SEARCH_BACKEND=opensearch and OPENSEARCH_URL")
    if backend == "opensearch":
        if not opensearch_url:
            raise SearchConfigurationError("SEARCH_BACKEND=opensearch needs OPENSEARCH_URL (e.g. http://localhost:9200)")
        if not opensearch_index:
            raise SearchConfigurationError("SEARCH_BACKEND=opensearch needs a non-empty OPENSEARCH_INDEX")
        # Imported here so the embedded default never loads the OpenSearch client.
        from pipeline.search.opensearch import OpenSearchIndex

        return OpenSearchIndex(opensearch_url, opensearch_index)
    raise SearchConfigurationError(f"unknown SEARCH_BACKEND {backend!r}: use 'database' or 'opensearch'")


def search_config(settings: Settings) -> dict[str, Any]:
    """`search_index_for`'s arguments from settings (but the engine): the resource and the API share them."""
    return {"backend": settings.search_backend, "opensearch_url": settings.opensearch_url,
            "opensearch_index": settings.opensearch_index}


def search_index_from_settings(settings: Settings, engine: Engine | None) -> SearchIndex:
    return search_index_for(engine=engine, **search_config(settings))
