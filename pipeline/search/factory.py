"""Choosing the search backend from configuration.

`tantivy` (the default) ranks with Tantivy in a local directory and keeps the
documents in the app database; `database` keeps search inside the app database
(FTS5 on SQLite, tsvector on PostgreSQL, picked from the engine's dialect);
`opensearch` moves it to a cluster.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pipeline.search.base import SearchIndex
from pipeline.search.postgres_fts import PostgresFtsIndex
from pipeline.search.sql_store import SqlSearchIndex
from pipeline.search.sqlite_fts import SqliteFtsIndex
from pipeline.settings import SearchSettings


class SearchConfigurationError(ValueError):
    """The search settings cannot work together (say which variable to set)."""


def search_index_for(
    backend: str,
    engine: Engine | None,
    opensearch_url: str | None = None,
    opensearch_index: str = "videoai-videos",
    index_dir: Path | str | None = None,
) -> SearchIndex:
    if backend == "tantivy":
        if index_dir is None:
            raise SearchConfigurationError("SEARCH_BACKEND=tantivy needs SEARCH_INDEX_DIR (a local directory)")
        from pipeline.search.tantivy_index import TantivySearchIndex

        return TantivySearchIndex(_database_index(backend, engine), Path(index_dir))
    if backend == "database":
        return _database_index(backend, engine)
    if backend == "opensearch":
        if not opensearch_url:
            raise SearchConfigurationError("SEARCH_BACKEND=opensearch needs OPENSEARCH_URL (e.g. http://localhost:9200)")
        if not opensearch_index:
            raise SearchConfigurationError("SEARCH_BACKEND=opensearch needs a non-empty OPENSEARCH_INDEX")
        # Imported here so the embedded default never loads the OpenSearch client.
        from pipeline.search.opensearch import OpenSearchIndex

        return OpenSearchIndex(opensearch_url, opensearch_index)
    raise SearchConfigurationError(f"unknown SEARCH_BACKEND {backend!r}: use 'tantivy', 'database' or 'opensearch'")


def _database_index(backend: str, engine: Engine | None) -> SqlSearchIndex:
    """The app database's own search tables (where the tantivy backend keeps its documents too)."""
    if engine is None:
        raise SearchConfigurationError(f"SEARCH_BACKEND={backend} needs the app database engine")
    if engine.dialect.name == "sqlite":
        return SqliteFtsIndex(engine)
    if engine.dialect.name == "postgresql":
        return PostgresFtsIndex(engine)
    raise SearchConfigurationError(
        f"SEARCH_BACKEND={backend} supports SQLite and PostgreSQL app databases, not {engine.dialect.name}; "
        "set SEARCH_BACKEND=opensearch and OPENSEARCH_URL"
    )


def search_index_from_settings(settings: SearchSettings, engine: Engine | None) -> SearchIndex:
    return search_index_for(settings.backend, engine, settings.opensearch_url, settings.opensearch_index, str(settings.index_dir))
