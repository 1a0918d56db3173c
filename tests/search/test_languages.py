"""Search in each video's language: the embedded engine (Tantivy), PostgreSQL and OpenSearch analyse a video's
words with its language's stemmer, so an inflected form in a query finds the word as said; each language's words
are ranked among that language's; a `language` filter keeps one language (every backend)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import languages
from pipeline.db.session import make_engine, migrate
from pipeline.search import SearchIndex, SearchQuery
from pipeline.search.factory import search_index_for
from tests.fixtures.opensearch import OPENSEARCH_URL
from tests.search.test_contract import ICELAND, video

FRENCH = dataclasses.replace(
    video(21, "Au pied du volcan", ["Les montagnes fument depuis des semaines.", "Les scientifiques mesurent les gaz."]),
    language="fr",
)
SPANISH = dataclasses.replace(
    video(22, "El volcán dormido", ["La montaña está tranquila.", "Los científicos miden los gases cada mañana."]),
    language="es",
)
GERMAN = dataclasses.replace(
    video(23, "Der schlafende Berg", ["Die Vulkane im Süden sind ruhig.", "Die Häuser stehen am Fluss."]), language="de"
)
# A language without a stemmer: its words are matched as said, lower-cased.
WELSH = dataclasses.replace(video(24, "Mynydd tân", ["Mae'r mynydd yn dawel heddiw."]), language="cy")

# English videos where "lava" is rarer than "chocolate", so the one with "lava" in its title ranks first; Spanish
# videos that say "lava" (the same letters, a Spanish word) would make it the commoner word if they were counted.
LAVA_TITLE = video(41, "Lava fields", ["We drank hot chocolate by the road."])
CHOCOLATE_TITLE = video(42, "Chocolate fields", ["We watched the lava by the road."])
CHOCOLATE_ONLY = video(43, "Chocolate recipes", ["We baked a cake by the road."])
SPANISH_LAVA = [
    dataclasses.replace(video(50 + i, f"La lava del volcán {i}", ["La lava baja hacia el mar."] * (i + 1)), language="es")
    for i in range(6)
]


@pytest.fixture(params=["tantivy", "database-sqlite", "database-postgresql", "opensearch"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    built: SearchIndex
    if request.param == "opensearch":
        built = request.getfixturevalue("opensearch_search_index")
        engine = None
    else:
        backend, _, dialect = request.param.partition("-")
        url = request.getfixturevalue("postgres_url") if dialect == "postgresql" else f"sqlite:///{tmp_path / 'app.db'}"
        migrate(url)
        engine = make_engine(url)
        built = search_index_for(backend, engine, index_dir=tmp_path / "search")
        built.ensure()
    for document in (ICELAND, FRENCH, SPANISH, GERMAN, WELSH):
        built.upsert(document)
    yield built
    if engine is not None:
        engine.dispose()


def _scores(index: SearchIndex, text: str, **filters: object) -> dict[int, float]:
    page = index.search(SearchQuery(text=text, **filters))  # type: ignore[arg-type]
    return {hit.video_id: hit.score for hit in page.hits}


def _ids(index: SearchIndex, text: str, **filters: object) -> list[int]:
    return [hit.video_id for hit in index.search(SearchQuery(text=text, **filters)).hits]  # type: ignore[arg-type]


def test_a_language_filter_keeps_that_languages_videos(index: SearchIndex) -> None:
    assert _ids(index, "lava", language="en") == [ICELAND.video_id]
    assert _ids(index, "lava", language="fr") == []
    assert _ids(index, "gaz", language="fr") == [FRENCH.video_id]
    assert _ids(index, "gaz", language="de") == []


def test_volcan_volcanes_and_volcan_meet_with_accents_folded(index: SearchIndex) -> None:
    if index.backend_name not in ("tantivy", "opensearch"):
        pytest.skip("only the embedded engine and OpenSearch's spanish analyzer fold accents after stemming")
    assert _ids(index, "volcanes", language="es") == [SPANISH.video_id]  # "volcán" in the title


@pytest.mark.parametrize(
    ("query", "language", "expected", "said"),
    [
        ("montagne", "fr", FRENCH, "Les montagnes fument depuis des semaines."),  # singular finds the plural
        ("scientifique", "fr", FRENCH, "Les scientifiques mesurent les gaz."),
        ("montañas", "es", SPANISH, "La montaña está tranquila."),  # plural finds the singular
        ("científico", "es", SPANISH, "Los científicos miden los gases cada mañana."),
        ("Vulkan", "de", GERMAN, "Die Vulkane im Süden sind ruhig."),
        ("Haus", "de", GERMAN, "Die Häuser stehen am Fluss."),  # umlaut plural
        ("mynydd", "cy", WELSH, "Mae'r mynydd yn dawel heddiw."),
    ],
)
def test_an_inflected_form_finds_the_word_as_said_with_its_moment(index, query, language, expected, said) -> None:
    if index.backend_name == "sqlite-fts5" and languages.stemmer_name(language):
        pytest.skip("SQLite FTS5 (SEARCH_BACKEND=database on SQLite) stems English only")
    for filters in ({}, {"language": language}):
        page = index.search(SearchQuery(text=query, **filters))  # type: ignore[arg-type]
        found = [hit.video_id for hit in page.hits]
        # Unfiltered, the word may also be another language's ("volcanes" stems as French "volcan" too).
        assert found == [expected.video_id] if filters else found[0] == expected.video_id, (query, filters, found)
        (segment,) = [s for s in expected.segments if s.text == said]
        assert page.hits[0].matches[0].start == segment.start, page.hits[0].matches
        assert "<mark>" in page.hits[0].snippet


def test_another_languages_videos_leave_an_english_ranking_as_it_was(index: SearchIndex) -> None:
    index.bulk_upsert([LAVA_TITLE, CHOCOLATE_TITLE, CHOCOLATE_ONLY])
    english = _scores(index, "lava chocolate")
    assert list(english) == [LAVA_TITLE.video_id, CHOCOLATE_TITLE.video_id]
    index.bulk_upsert(SPANISH_LAVA)
    # The English videos are ranked by the English texts' term statistics, which the Spanish "lava" never enters.
    for filters in ({}, {"language": "en"}):
        ranked = _scores(index, "lava chocolate", **filters)
        assert list(ranked) == list(english), filters
        # Tantivy and osmem count every document of the index (not only the language's) in a word's rarity.
        if index.backend_name in ("sqlite-fts5", "postgresql-fts") or (index.backend_name == "opensearch" and OPENSEARCH_URL):
            assert ranked == english, filters


def test_english_stays_english(index: SearchIndex) -> None:
    # Stemmed the English way ("erupting" -> "erupt"), never the French one.
    assert _ids(index, "erupted") == [ICELAND.video_id]
    assert _ids(index, "scientist") == [ICELAND.video_id]


ITALIAN = dataclasses.replace(video(25, "Il monte", ["I vulcani dormono da secoli."]), language="it")


def test_a_video_in_a_language_new_to_the_index_is_found_by_the_next_search(index: SearchIndex) -> None:
    assert _ids(index, "vulcani") == []  # read once while the index holds no Italian
    index.upsert(ITALIAN)
    assert _ids(index, "vulcani") == [ITALIAN.video_id]


def test_a_video_without_a_language_is_searched_as_english_in_an_index_of_it_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        alone = search_index_for("tantivy", engine, index_dir=tmp_path / "search")
        alone.ensure()
        alone.upsert(dataclasses.replace(video(26, "Night watch", ["The volcano was erupting all night."]), language=None))
        assert _ids(alone, "erupted") == [26]  # stemmed as English, though the index holds no video marked English
    finally:
        engine.dispose()
