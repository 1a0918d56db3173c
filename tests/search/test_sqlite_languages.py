"""SQLite FTS5's side of search in each video's language (migration sqlite_search_languages): Porter stems English
only, so English videos (and those without speech) are in the Porter table and every other language's in an
unstemmed one (unicode61, diacritics removed), each with its own statistics; a video moves when its language
changes, and the migration moves the videos indexed before it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from pipeline.db.session import alembic_config, make_engine, migrate
from pipeline.search import SearchQuery
from pipeline.search.segments import encode_segments
from pipeline.search.sqlite_fts import SqliteFtsIndex
from tests.search.test_contract import ICELAND
from tests.search.test_languages import FRENCH, SPANISH

STEMMED, UNSTEMMED = "search_documents_fts", "search_documents_fts_unstemmed"


# Words of the videos these tests index (ICELAND, FRENCH and SPANISH), as each table's tokenizer keeps them.
_ANY_OF_THEIR_WORDS = "volcano OR volcanoes OR volcan OR pied OR dormido"


def _indexed(engine: Engine, table: str) -> set[int]:
    """The videos whose words `table` holds (from its own index, not its content view)."""
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT rowid FROM {table} WHERE {table} MATCH :words"), {"words": _ANY_OF_THEIR_WORDS})
        return set(found.scalars())


def _ids(index: SqliteFtsIndex, words: str, **filters: object) -> list[int]:
    return [hit.video_id for hit in index.search(SearchQuery(text=words, **filters)).hits]  # type: ignore[arg-type]


def test_other_languages_are_matched_by_their_words_with_diacritics_removed(sqlite_database_url: str) -> None:
    engine = make_engine(sqlite_database_url)
    index = SqliteFtsIndex(engine)
    index.bulk_upsert([ICELAND, FRENCH, SPANISH])
    assert _ids(index, "montana") == [SPANISH.video_id]  # "montaña"
    assert _ids(index, "cientificos", language="es") == [SPANISH.video_id]  # "científicos"
    # Porter would make "gases" "gase": unstemmed, the Spanish word is found as said, English "gas" as English.
    assert _ids(index, "gases") == [SPANISH.video_id]
    assert _ids(index, "gas", language="en") == [ICELAND.video_id]
    page = index.search(SearchQuery(text="mesurent"))
    assert [hit.video_id for hit in page.hits] == [FRENCH.video_id]
    assert page.hits[0].matches[0].text == "Les scientifiques mesurent les gaz."
    engine.dispose()


def test_a_video_moves_between_the_tables_when_its_language_changes(sqlite_database_url: str) -> None:
    engine = make_engine(sqlite_database_url)
    index = SqliteFtsIndex(engine)
    index.bulk_upsert([ICELAND, SPANISH])
    assert (_indexed(engine, STEMMED), _indexed(engine, UNSTEMMED)) == ({ICELAND.video_id}, {SPANISH.video_id})
    index.upsert(dataclasses.replace(SPANISH, language="en"))
    assert (_indexed(engine, STEMMED), _indexed(engine, UNSTEMMED)) == ({ICELAND.video_id, SPANISH.video_id}, set())
    index.upsert(dataclasses.replace(SPANISH, language=None))  # no speech: analysed as English
    assert _indexed(engine, UNSTEMMED) == set()
    index.upsert(SPANISH)
    index.delete(ICELAND.video_id)
    assert (_indexed(engine, STEMMED), _indexed(engine, UNSTEMMED)) == (set(), {SPANISH.video_id})
    assert _ids(index, "volcán") == [SPANISH.video_id]
    engine.dispose()


def test_the_migration_moves_the_videos_indexed_before_it_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    command.upgrade(alembic_config(url), "search_languages")
    engine = make_engine(url)
    documents = "INSERT INTO search_documents (video_id, status, created_at, updated_at, language) VALUES "
    texts = "INSERT INTO search_texts (video_id, title, description, summary, transcript, segments, text_config) VALUES "
    with engine.begin() as conn:
        for document, config in ((ICELAND, "english"), (FRENCH, "french")):
            at = document.created_at.replace(tzinfo=None)
            conn.execute(
                text(documents + "(:id, 'ready', :at, :at, :language)"),
                {"id": document.video_id, "at": at, "language": document.language},
            )
            conn.execute(
                text(texts + "(:id, :title, '', '', videoai_pack(:transcript), :segments, :config)"),
                {
                    "id": document.video_id,
                    "title": document.title,
                    "transcript": document.transcript,
                    "segments": encode_segments(document.transcript, document.segments),
                    "config": config,
                },
            )
    assert _indexed(engine, STEMMED) == {ICELAND.video_id, FRENCH.video_id}
    migrate(url)
    assert (_indexed(engine, STEMMED), _indexed(engine, UNSTEMMED)) == ({ICELAND.video_id}, {FRENCH.video_id})
    assert _ids(SqliteFtsIndex(engine), "pied", language="fr") == [FRENCH.video_id]
    command.downgrade(alembic_config(url), "search_languages")
    assert _indexed(engine, STEMMED) == {ICELAND.video_id, FRENCH.video_id}
    engine.dispose()
