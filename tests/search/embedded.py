"""The embedded default's search parts on a fresh SQLite database, for tests that load their own videos."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pipeline.db.session import make_engine, migrate
from pipeline.search.factory import search_index_for
from pipeline.search.tantivy_index import TantivySearchIndex
from pipeline.search.vectors import SqlVectorIndex


def embedded_search(directory: Path) -> tuple[str, Engine, TantivySearchIndex, SqlVectorIndex]:
    """The database URL and engine, the Tantivy text index (in `directory`/search) and the passage vectors."""
    url = f"sqlite:///{directory / 'app.db'}"
    migrate(url)
    engine = make_engine(url)
    index = search_index_for("tantivy", engine, index_dir=directory / "search")
    assert isinstance(index, TantivySearchIndex)
    index.ensure()
    return url, engine, index, SqlVectorIndex(engine)
