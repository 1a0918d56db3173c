"""Choosing a backend from settings, and the search schema that migrations 0002 and search_scale own."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import bindparam, create_engine, inspect, text

from pipeline.db.models import UTCDateTime
from pipeline.db.session import alembic_config, make_engine, migrate
from pipeline.search.base import SearchIndexUnavailable, SearchQuery
from pipeline.search.factory import SearchConfigurationError, search_index_for, search_index_from_settings
from pipeline.search.opensearch import OpenSearchIndex
from pipeline.search.postgres_fts import PostgresFtsIndex
from pipeline.search.sqlite_fts import SqliteFtsIndex
from pipeline.search.tantivy_index import SCHEMA_DIRECTORY, TantivySearchIndex

SEARCH_TABLES = {"search_documents", "search_texts"}


def test_database_backend_follows_the_engine_dialect(make_settings, tmp_path: Path) -> None:
    settings = make_settings(SEARCH_BACKEND="database")
    assert isinstance(search_index_from_settings(settings.search, make_engine(f"sqlite:///{tmp_path / 'a.db'}")), SqliteFtsIndex)
    # Choosing needs only the dialect: no connection is made.
    postgres = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert isinstance(search_index_from_settings(settings.search, postgres), PostgresFtsIndex)


def test_tantivy_is_the_default_and_keeps_its_documents_in_the_app_database(make_settings, tmp_path: Path) -> None:
    settings = make_settings()
    index = search_index_from_settings(settings.search, make_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    assert isinstance(index, TantivySearchIndex)
    assert isinstance(index.store, SqliteFtsIndex)
    assert index.directory == settings.videoai_home / "search" / SCHEMA_DIRECTORY
    with pytest.raises(SearchConfigurationError, match="SEARCH_INDEX_DIR"):
        search_index_for("tantivy", make_engine(f"sqlite:///{tmp_path / 'a.db'}"))


def test_opensearch_backend_uses_url_and_index_from_settings(make_settings) -> None:
    settings = make_settings(SEARCH_BACKEND="opensearch", OPENSEARCH_URL="http://127.0.0.1:9200", OPENSEARCH_INDEX="vids")
    index = search_index_from_settings(settings.search, None)
    assert isinstance(index, OpenSearchIndex)
    assert index.index_name == "vids"


def test_misconfiguration_is_reported_clearly(make_settings) -> None:
    with pytest.raises(SearchConfigurationError, match="OPENSEARCH_URL"):
        search_index_from_settings(make_settings(SEARCH_BACKEND="opensearch").search, None)
    with pytest.raises(SearchConfigurationError, match="unknown SEARCH_BACKEND"):
        search_index_for("elastic", None)
    with pytest.raises(SearchConfigurationError, match="engine"):
        search_index_for("database", None)


def test_backend_refuses_an_engine_of_the_other_dialect(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        PostgresFtsIndex(make_engine(f"sqlite:///{tmp_path / 'a.db'}"))


def test_ensure_names_the_missing_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(database_url), "0001")
    index = search_index_for("database", engine)
    with pytest.raises(RuntimeError, match="run the database migrations"):
        index.ensure()
    engine.dispose()


def test_migration_0002_upgrades_and_downgrades_cleanly(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= SEARCH_TABLES
    command.downgrade(alembic_config(database_url), "0001")
    inspector = inspect(engine)
    assert not {name for name in inspector.get_table_names() if name.startswith("search_")}
    migrate(database_url)
    search_index_for("database", engine).ensure()
    engine.dispose()


def test_ping_raises_when_the_index_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(SearchIndexUnavailable):
        SqliteFtsIndex(make_engine(f"sqlite:///{tmp_path / 'empty.db'}")).ping()
    with pytest.raises(SearchIndexUnavailable):
        OpenSearchIndex("http://127.0.0.1:9", "videos").ping()


def test_search_scale_migration_carries_documents_over_and_back(database_url: str) -> None:
    """Documents indexed under 0002's layout survive the upgrade to search_scale and the way back."""
    from tests.search.test_contract import CAKE, ICELAND

    command.upgrade(alembic_config(database_url), "0002")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for document in (ICELAND, CAKE):
            conn.execute(
                text(
                    "INSERT INTO search_documents (video_id, title, description, summary, transcript, owner_id, owner_name,"
                    " status, language, created_at, updated_at, duration_seconds) VALUES (:video_id, :title, :description,"
                    " :summary, :transcript, :owner_id, :owner_name, :status, :language, :created_at, :updated_at,"
                    " :duration_seconds)"
                ).bindparams(bindparam("created_at", type_=UTCDateTime()), bindparam("updated_at", type_=UTCDateTime())),
                {
                    name: getattr(document, name)
                    for name in (
                        "video_id",
                        "title",
                        "description",
                        "summary",
                        "transcript",
                        "owner_id",
                        "owner_name",
                        "status",
                        "language",
                        "created_at",
                        "updated_at",
                        "duration_seconds",
                    )
                },
            )
            conn.execute(
                text(
                    "INSERT INTO search_segments (video_id, position, start_seconds, end_seconds, text) "
                    "VALUES (:v, :p, :s, :e, :t)"
                ),
                [
                    {"v": document.video_id, "p": p, "s": seg.start, "e": seg.end, "t": seg.text}
                    for p, seg in enumerate(document.segments)
                ],
            )
    migrate(database_url)
    index = search_index_for("database", engine)
    assert index.get(ICELAND.video_id) == ICELAND
    assert [hit.video_id for hit in index.search(SearchQuery(text="volcano")).hits] == [1, 2]
    assert index.search(SearchQuery(text="lava")).hits[0].matches[0].text == "The lava flows north towards the sea."
    command.downgrade(alembic_config(database_url), "0002")
    with engine.connect() as conn:
        segments = conn.execute(text("SELECT text FROM search_segments WHERE video_id = 2 ORDER BY position")).scalars()
        assert list(segments) == [segment.text for segment in CAKE.segments]
    engine.dispose()
