"""The search contract: every SearchIndex backend passes these same tests.

Backends: Tantivy (documents in a freshly migrated SQLite or PostgreSQL
database), SQLite FTS5 and PostgreSQL full-text (each test on a freshly migrated
database) and OpenSearch (an osmem-server clone with a fresh index per test).
tests/search/test_live_opensearch.py runs this class again against a real cluster.
OpenSearch scores here are osmem's, not Lucene's, so ranking is asserted only
where it is unambiguous (a title match against a transcript-only match).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.db.session import make_engine
from pipeline.search import opensearch, sql_store, tantivy_index
from pipeline.search.base import (
    InvalidCursor,
    SearchDocument,
    SearchIndex,
    SearchPage,
    SearchQuery,
    SegmentMatch,
    TimedSegment,
)
from pipeline.search.factory import search_index_for
from pipeline.search.opensearch import OpenSearchIndex

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def video(
    video_id: int,
    title: str,
    segments: list[str],
    *,
    description: str = "",
    summary: str = "",
    owner_id: int | None = 10,
    status: str = "ready",
    created_at: datetime = T0,
) -> SearchDocument:
    """A document whose transcript is its segments, each 4 s long."""
    timed = tuple(TimedSegment(start=4.0 * i, end=4.0 * i + 3.5, text=text) for i, text in enumerate(segments))
    return SearchDocument(
        video_id=video_id,
        title=title,
        description=description,
        owner_id=owner_id,
        owner_name=f"user{owner_id}" if owner_id else None,
        transcript=" ".join(segments),
        summary=summary,
        status=status,
        language="en",
        created_at=created_at,
        updated_at=created_at + timedelta(minutes=5),
        duration_seconds=4.0 * len(segments),
        segments=timed,
    )


ICELAND = video(
    1,
    "Volcanoes of Iceland",
    [
        "Welcome to the Reykjanes peninsula.",
        "Behind me the volcano has been erupting for three weeks.",
        "The lava flows north towards the sea.",
        "Scientists measure the gas every morning.",
    ],
    description="A field trip with two geologists.",
    summary="Geologists explain how the eruptions started and why the lava fields keep growing.",
)
CAKE = video(
    2,
    "Chocolate cake for beginners",
    [
        "Today we bake a cake shaped like a mountain.",
        "It looks like a volcano when the chocolate sauce runs down.",
        "Let it cool for an hour before slicing.",
    ],
    description="A simple recipe for a party.",
    summary="A baker shows a moist chocolate cake.",
    owner_id=11,
    created_at=T0 + timedelta(days=1),
)
GARDEN = video(
    3,
    "Composting in a small garden",
    ["Compost needs greens and browns.", "Turn the pile with a fork every week.", "Keep meat and dairy out of the bin."],
    description="Pallet bins and worms.",
    summary="How to turn kitchen scraps into soil.",
    created_at=T0 + timedelta(days=2),
)
CORPUS = (ICELAND, CAKE, GARDEN)


def ids(page: SearchPage) -> list[int]:
    return [hit.video_id for hit in page.hits]


def search(index: SearchIndex, text: str, **kwargs: object) -> SearchPage:
    return index.search(SearchQuery(text=text, **kwargs))  # type: ignore[arg-type]


class TestSearchIndexContract:
    """Subclasses may override `index` to run the contract against another backend."""

    @pytest.fixture(params=["tantivy-sqlite", "tantivy-postgresql", "sqlite", "postgresql", "opensearch"])
    def index(self, request: pytest.FixtureRequest, tmp_path: Path, make_migrated_database) -> Iterator[SearchIndex]:
        if request.param == "opensearch":
            url = request.getfixturevalue("opensearch_url")
            opensearch = OpenSearchIndex(url, f"videos-{uuid.uuid4().hex[:8]}", refresh="wait_for")
            opensearch.ensure()
            yield opensearch
            return
        backend, _, dialect = request.param.rpartition("-")
        engine = make_engine(make_migrated_database(dialect))
        database_index = search_index_for(backend or "database", engine, index_dir=tmp_path / "search")
        database_index.ensure()
        yield database_index
        engine.dispose()

    @pytest.fixture
    def corpus(self, index: SearchIndex) -> SearchIndex:
        for document in CORPUS:
            index.upsert(document)
        return index

    # --- documents ------------------------------------------------------------------------
    def test_get_returns_the_stored_document_with_segments(self, corpus: SearchIndex) -> None:
        assert corpus.get(ICELAND.video_id) == ICELAND
        assert corpus.get(999) is None

    def test_reindexing_replaces_the_document_and_its_segments(self, corpus: SearchIndex) -> None:
        changed = video(ICELAND.video_id, "Glaciers of Iceland", ["The glacier is melting.", "Ice caves everywhere."])
        corpus.upsert(changed)
        corpus.upsert(changed)
        assert corpus.get(ICELAND.video_id) == changed
        assert ids(search(corpus, "volcanoes")) == [CAKE.video_id]
        page = search(corpus, "glacier")
        assert (ids(page), page.total) == ([ICELAND.video_id], 1)
        assert page.hits[0].matches == (SegmentMatch(0.0, 3.5, "The glacier is melting."),)

    def test_delete_removes_the_document_and_tolerates_a_missing_one(self, corpus: SearchIndex) -> None:
        corpus.delete(ICELAND.video_id)
        corpus.delete(999)
        assert corpus.get(ICELAND.video_id) is None
        assert ids(search(corpus, "lava")) == []
        assert ids(search(corpus, "chocolate")) == [CAKE.video_id]

    def test_ensure_is_idempotent_and_ping_succeeds(self, corpus: SearchIndex) -> None:
        corpus.ensure()
        corpus.ping()
        assert corpus.get(GARDEN.video_id) == GARDEN

    # --- matching -------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("words", "field"), [("composting", "title"), ("pallet", "description"), ("scraps", "summary"), ("dairy", "transcript")]
    )
    def test_every_text_field_is_searched(self, corpus: SearchIndex, words: str, field: str) -> None:
        assert ids(search(corpus, words)) == [GARDEN.video_id], field

    def test_words_are_stemmed(self, corpus: SearchIndex) -> None:
        assert ids(search(corpus, "volcanoes")) == [ICELAND.video_id, CAKE.video_id]  # "volcano" in CAKE
        assert ids(search(corpus, "eruption")) == [ICELAND.video_id]  # "erupting", "eruptions"
        assert ids(search(corpus, "baking")) == [CAKE.video_id]  # "bake", "baker"

    def test_a_title_match_ranks_above_a_transcript_only_match(self, corpus: SearchIndex) -> None:
        page = search(corpus, "volcano")
        assert ids(page) == [ICELAND.video_id, CAKE.video_id]
        assert page.hits[0].score > page.hits[1].score

    def test_every_word_of_a_multi_word_query_must_match_in_some_field(self, corpus: SearchIndex) -> None:
        assert ids(search(corpus, "chocolate volcano")) == [CAKE.video_id]
        assert ids(search(corpus, "geologists lava sea")) == [ICELAND.video_id]  # description, summary, transcript
        assert ids(search(corpus, "chocolate iceland")) == []

    def test_stop_words_do_not_narrow_the_search(self, corpus: SearchIndex) -> None:
        assert ids(search(corpus, "the volcanoes of Iceland")) == [ICELAND.video_id]
        assert search(corpus, "the of and") == SearchPage(hits=[], total=0)
        assert search(corpus, "") == SearchPage(hits=[], total=0)

    def test_query_syntax_in_user_input_is_plain_text(self, corpus: SearchIndex) -> None:
        # Operators are words like any other: these all mean "lava" (or/and/not are stop words).
        for text in [
            '"lava',
            'lava"',
            "lava*",
            "-lava",
            "lava:",
            "lava OR",
            "OR lava",
            "(lava",
            "lava)",
            "lava AND",
            "NOT lava",
            "lava & | !",
            "lava'",
            "{lava}",
            "[lava]",
            "lava\\",
            "lava/",
            "+lava",
            "<lava>",
        ]:
            assert ids(search(corpus, text)) == [ICELAND.video_id], text
        for text in [
            "title:lava",
            "NEAR(lava sea)",
            "lava^2 ~3",
            "'; DROP TABLE search_documents; --",
            "*",
            '"',
            "()",
            "::",
            '"unbalanced',
            "a OR (b",
            "-",
            "AND OR NOT NEAR",
            "\x00",
            "ü",
            "é*" * 50,
        ]:
            assert isinstance(search(corpus, text), SearchPage), text
        assert corpus.get(ICELAND.video_id) == ICELAND

    # --- filters --------------------------------------------------------------------------
    def test_status_filter_defaults_to_ready(self, corpus: SearchIndex) -> None:
        failed = video(4, "Volcano drone footage", ["The drone flew over the volcano."], status="failed")
        corpus.upsert(failed)
        assert ids(search(corpus, "drone")) == []
        assert ids(search(corpus, "drone", status="failed")) == [failed.video_id]
        assert ids(search(corpus, "drone", status=None)) == [failed.video_id]
        assert sorted(ids(search(corpus, "volcano", status=None))) == [1, 2, 4]

    def test_owner_filter(self, corpus: SearchIndex) -> None:
        assert ids(search(corpus, "volcano", owner_id=11)) == [CAKE.video_id]
        assert ids(search(corpus, "volcano", owner_id=12)) == []

    def test_created_range_is_inclusive_at_both_ends(self, corpus: SearchIndex) -> None:
        day = CAKE.created_at
        assert ids(search(corpus, "cake", created_from=day, created_to=day)) == [CAKE.video_id]
        everything = "volcano"
        assert ids(search(corpus, everything, created_from=day)) == [CAKE.video_id]
        assert ids(search(corpus, everything, created_to=day - timedelta(microseconds=1000))) == [ICELAND.video_id]
        assert ids(search(corpus, everything, created_from=day + timedelta(seconds=1))) == []
        # Bounds in another zone mean the same instants.
        cet = timezone(timedelta(hours=1))
        assert ids(search(corpus, everything, created_from=day.astimezone(cet), created_to=day.astimezone(cet))) == [2]

    # --- paging ---------------------------------------------------------------------------
    def test_cursor_pages_yield_every_match_once_in_rank_order(self, index: SearchIndex) -> None:
        # Two title matches rank first; seven identical transcript matches tie and
        # must come in video id order, across page boundaries.
        title_matches = [video(100 + i, f"Mars rover part {i}", ["Landing day."]) for i in range(2)]
        ties = [video(200 + i, "Space news", ["The rover drove two metres today."]) for i in range(7)]
        for document in [*reversed(ties), *title_matches]:
            index.upsert(document)

        seen: list[int] = []
        scores: list[float] = []
        cursor = None
        pages = 0
        while True:
            page = search(index, "rover", limit=3, cursor=cursor)
            pages += 1
            assert page.total == 9
            assert len(page.hits) <= 3
            seen += ids(page)
            scores += [hit.score for hit in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3
        assert sorted(seen[:2]) == [100, 101]
        assert seen[2:] == list(range(200, 207))
        assert scores == sorted(scores, reverse=True)
        assert ids(search(index, "rover", limit=100)) == seen

    def test_limit_is_respected_and_total_counts_all_matches(self, corpus: SearchIndex) -> None:
        page = search(corpus, "volcano", limit=1)
        assert (ids(page), page.total) == ([ICELAND.video_id], 2)
        assert page.next_cursor is not None
        last = search(corpus, "volcano", limit=1, cursor=page.next_cursor)
        assert (ids(last), last.total, last.next_cursor) == ([CAKE.video_id], 2, None)
        # The same with a date filter, which SQLite plans apart (filter first, then rank).
        since = T0 - timedelta(days=3650)
        page = search(corpus, "volcano", limit=1, created_from=since)
        last = search(corpus, "volcano", limit=1, created_from=since, cursor=page.next_cursor)
        assert (ids(page), ids(last), last.total, last.next_cursor) == ([ICELAND.video_id], [CAKE.video_id], 2, None)

    def test_totals_are_counted_up_to_a_cap_then_said_to_be_at_least(
        self, index: SearchIndex, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for module in (sql_store, opensearch, tantivy_index):
            monkeypatch.setattr(module, "TOTAL_CAP", 3)
        for i in range(5):
            index.upsert(video(300 + i, "Glacier walk", ["The glacier is melting."], owner_id=20 + i % 2))
        page = search(index, "glacier", limit=2)
        assert (len(page.hits), page.total, page.total_exact) == (2, 3, False)
        page = search(index, "glacier", owner_id=20)
        assert (ids(page), page.total, page.total_exact) == ([300, 302, 304], 3, True)

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage!",
            "",
            "bm90IGpzb24",
            base64.urlsafe_b64encode(b"[1, 2]").decode(),
            base64.urlsafe_b64encode(json.dumps({"s": "high", "id": 1, "q": "x"}).encode()).decode(),
        ],
    )
    def test_a_garbled_cursor_raises_invalid_cursor(self, corpus: SearchIndex, cursor: str) -> None:
        with pytest.raises(InvalidCursor):
            search(corpus, "volcano", cursor=cursor)

    def test_a_cursor_from_another_search_raises_invalid_cursor(self, corpus: SearchIndex) -> None:
        cursor = search(corpus, "volcano", limit=1).next_cursor
        with pytest.raises(InvalidCursor):
            search(corpus, "lava", limit=1, cursor=cursor)
        with pytest.raises(InvalidCursor):
            search(corpus, "volcano", limit=1, cursor=cursor, owner_id=10)
        assert ids(search(corpus, "volcano", limit=5, cursor=cursor)) == [CAKE.video_id]  # limit may change

    # --- snippets and timed matches --------------------------------------------------------
    def test_snippet_marks_the_matched_words(self, corpus: SearchIndex) -> None:
        hit = search(corpus, "lava").hits[0]
        marked = re.findall(r"<mark>(.*?)</mark>", hit.snippet)
        assert marked and {word.lower() for word in marked} == {"lava"}

    def test_snippet_escapes_html_from_the_source_text(self, index: SearchIndex) -> None:
        index.upsert(video(5, "Tricky", ['Click <script>alert("hi")</script> & see the <b>volcano</b> now']))
        snippet = search(index, "volcano").hits[0].snippet
        assert "<mark>" in snippet
        assert not re.search(r"[<>]", re.sub(r"</?mark>", "", snippet)), snippet

    def test_matches_are_the_timed_segments_that_say_the_words(self, corpus: SearchIndex) -> None:
        hit = search(corpus, "lava").hits[0]
        assert hit.matches == (SegmentMatch(8.0, 11.5, "The lava flows north towards the sea."),)
        # Words of one query spoken in different segments: each segment says when, in time order.
        hit = search(corpus, "erupting lava").hits[0]
        assert [m.start for m in hit.matches] == [4.0, 8.0]
        assert search(corpus, "chocolate").hits[0].matches == (
            SegmentMatch(4.0, 7.5, "It looks like a volcano when the chocolate sauce runs down."),
        )

    def test_matches_are_capped_and_ordered_by_start(self, index: SearchIndex) -> None:
        index.upsert(video(6, "Lecture", [f"Point {i}: the magma chamber." for i in range(8)]))
        matches = search(index, "magma").hits[0].matches
        assert [m.start for m in matches] == [0.0, 4.0, 8.0, 12.0, 16.0]

    def test_hit_carries_title_status_and_creation_time(self, corpus: SearchIndex) -> None:
        hit = search(corpus, "compost").hits[0]
        assert (hit.video_id, hit.title, hit.status, hit.created_at) == (3, GARDEN.title, "ready", GARDEN.created_at)
        assert GARDEN.title in search(corpus, "composting").hits[0].title
        assert replace(hit, score=0.0).score == 0.0
