"""Semantic and hybrid search over passage vectors (real WordLlama), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import numpy as np
import pytest

from pipeline.db.session import make_engine
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.passages import split_transcript, video_passages
from pipeline.search.base import InvalidCursor, SearchDocument, SearchQuery
from pipeline.search.factory import search_index_for
from pipeline.search.hybrid import HybridSearch, reciprocal_rank_fusion
from pipeline.search.vectors import PassageVector, SqlVectorIndex
from tests.search.embedded import embedded_search
from tests.search.test_contract import video

OCEAN = video(
    21,
    "Field notes",
    [
        "Welcome back to the channel.",
        "First a word about our sponsor.",
        "The humpback whales swim thousands of kilometres south each winter.",
        "Their songs carry across the open ocean for days.",
        "Calves are born in the warm lagoons near the equator.",
    ]
    * 3,
    summary="A season on a research boat.",
)
KITCHEN = video(
    22,
    "Sunday kitchen",
    [
        "Preheat the oven before anything else.",
        "Whisk the eggs with sugar until pale.",
        "Fold in the flour and the melted chocolate.",
    ]
    * 3,
    summary="A recipe for a dense brownie.",
)
GARAGE = video(
    23,
    "Garage hour",
    [
        "Loosen the bolts on the wheel before lifting the car.",
        "Raise the car with the jack on the frame.",
        "Swap the flat tyre for the spare.",
    ]
    * 3,
    summary="Changing a wheel by the road.",
)
CORPUS = (OCEAN, KITCHEN, GARAGE)


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def index_vectors(vectors: SqlVectorIndex, embedder: WordLlamaEmbedder, document: SearchDocument) -> None:
    # Passages of 10-20 s here, so these short documents get several, each with its own moment.
    passages = video_passages(document.title, document.summary, [])
    passages += split_transcript(document.segments, 10, 20)
    matrix = embedder.embed([p.text for p in passages])
    vectors.upsert(
        document.video_id,
        embedder.model_id,
        [PassageVector(p.kind, p.start, p.end, p.text, row) for p, row in zip(passages, matrix, strict=True)],
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def search(request: pytest.FixtureRequest, make_migrated_database, embedder: WordLlamaEmbedder) -> Iterator[HybridSearch]:
    engine = make_engine(make_migrated_database(request.param))
    text_index = search_index_for("database", engine)
    vectors = SqlVectorIndex(engine)
    for document in CORPUS:
        text_index.upsert(document)
        index_vectors(vectors, embedder, document)
    yield HybridSearch(text_index, vectors, lambda: embedder, min_similarity=0.25)
    engine.dispose()


def ids(page) -> list[int]:
    return [hit.video_id for hit in page.hits]


def test_a_paraphrase_finds_the_video_and_the_moment_of_the_right_passage(search: HybridSearch):
    query = SearchQuery(text="marine mammals migrating to tropical waters")
    assert ids(search.search(query, "text")) == []  # no word in common
    for mode in ("semantic", "hybrid"):
        page = search.search(query, mode)
        assert ids(page)[0] == OCEAN.video_id, mode
        moment = page.hits[0].moment
        assert moment is not None and "whales" in moment.text
        assert any(s.start == moment.start for s in OCEAN.segments)
        assert page.extra["mode"] == mode


def test_exact_words_rank_as_in_text_mode(search: HybridSearch):
    for words in ("flat tyre", "chocolate", "sponsor"):
        query = SearchQuery(text=words)
        text_page = search.search(query, "text")
        assert ids(search.search(query, "hybrid"))[: len(text_page.hits)] == ids(text_page), words


def test_nothing_similar_enough_answers_as_text_search(search: HybridSearch):
    query = SearchQuery(text="zzzqx")
    page = search.search(query, "hybrid")
    assert ids(page) == [] and page.extra["mode"] == "text"
    assert search.search(query, "semantic").hits == []


def test_filters_apply_to_hits_found_by_meaning(search: HybridSearch):
    query = SearchQuery(text="marine mammals migrating to tropical waters", owner_id=999)
    assert ids(search.search(query, "semantic")) == []
    assert OCEAN.video_id not in ids(search.search(SearchQuery(text="marine mammals", status="failed"), "hybrid"))


def test_semantic_pages_follow_their_cursor_and_refuse_another_search_s(search: HybridSearch):
    search = dataclasses.replace(search, min_similarity=-1.0)  # every video is a candidate
    query = SearchQuery(text="cooking a dessert and repairing a car", limit=1)
    first = search.search(query, "semantic")
    assert len(first.hits) == 1 and first.next_cursor
    second = search.search(SearchQuery(text=query.text, limit=1, cursor=first.next_cursor), "semantic")
    assert second.hits and ids(second) != ids(first) and first.total == second.total == len(CORPUS)
    with pytest.raises(InvalidCursor):
        search.search(SearchQuery(text="something else", cursor=first.next_cursor), "semantic")


def test_reindexing_and_deleting_change_what_other_processes_find(search: HybridSearch, embedder):
    other_process = SqlVectorIndex(search.vectors.engine)  # type: ignore[union-attr]
    query = SearchQuery(text="marine mammals migrating to tropical waters")
    vector = embedder.embed([query.text])[0]
    assert next(h.video_id for h in other_process.search(vector, embedder.model_id, query, 5, 0.25)) == OCEAN.video_id
    search.vectors.delete(OCEAN.video_id)  # type: ignore[union-attr]
    assert OCEAN.video_id not in [h.video_id for h in other_process.search(vector, embedder.model_id, query, 5, 0.25)]
    # Vectors of another model are never compared with this one's.
    assert other_process.search(vector, "another-model", query, 5, -1.0) == []


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])
    assert max(fused, key=fused.get) == 1 and fused[3] > fused[2] and fused[4] < fused[2]


def test_exact_scan_and_ivf_index_agree(monkeypatch):
    import pipeline.search.vectors as vectors_module

    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(2000, 64)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)

    class Row:
        def __init__(self, i: int) -> None:
            self.id, self.video_id, self.kind, self.start_seconds, self.end_seconds, self.text = (
                i + 1,
                i,
                "transcript",
                0.0,
                1.0,
                "",
            )
            self.vector = matrix[i].astype("<f4").tobytes()

    rows = [Row(i) for i in range(len(matrix))]
    exact = vectors_module._Snapshot(rows)
    monkeypatch.setattr(vectors_module, "EXACT_SCAN_MAX_ROWS", 100)
    clustered = vectors_module._Snapshot(rows)
    assert exact.ivf is None and clustered.ivf is not None
    query = matrix[42] + 0.1 * matrix[7]
    query /= np.linalg.norm(query)
    exact_rows = exact.nearest(query, 5)[0]
    found_rows, found_scores = clustered.nearest(query, 5)
    # Fewer passages than a query scans at least: every cluster is scanned, so the answer is the exact one.
    assert found_rows.tolist() == exact_rows.tolist() and found_rows[0] == 42
    # The passages found are scored by their float32 vectors, as the exact scan scores them.
    assert found_scores.tolist() == pytest.approx([float(matrix[row] @ query) for row in found_rows.tolist()], abs=1e-6)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_large_snapshot_is_built_in_the_background_and_changes_are_searched_at_once(
    database, make_migrated_database, tmp_path, embedder, monkeypatch
):
    import pipeline.search.vectors as vectors_module

    monkeypatch.setattr(vectors_module, "EXACT_SCAN_MAX_ROWS", 2)  # an IVF index from 3 passages on
    monkeypatch.setattr(vectors_module, "ROWS_PER_READ", 2)  # the build reads the passages as a stream
    engine = make_engine(make_migrated_database(database))
    saved = tmp_path / "vectors"
    text_index, vectors = search_index_for("database", engine), SqlVectorIndex(engine, saved)
    for document in CORPUS:
        text_index.upsert(document)
        index_vectors(vectors, embedder, document)
    query = SearchQuery(text="marine mammals migrating to tropical waters")
    vector = embedder.embed([query.text])[0]
    # The first search does not wait for the index: hybrid search answers by words meanwhile.
    hybrid = HybridSearch(text_index, vectors, lambda: embedder)
    page = hybrid.search(query, mode="semantic")
    assert page.extra["mode"] == "text" and "loading" in page.extra["fallback"]
    built = vectors.loaded_view(embedder.model_id, timeout=30).base
    assert vectors.search(vector, embedder.model_id, query, 5, 0.25)[0].video_id == OCEAN.video_id
    # Saved for every process: another one opens it (memory-mapped) instead of building its own.
    other_process = SqlVectorIndex(engine, saved)
    assert other_process.view(embedder.model_id).base.ivf is not None
    assert other_process.view(embedder.model_id).base.video_ids.base.filename is not None  # a view of a memory map
    passages = [
        [
            (h.video_id, h.kind, h.start, h.end, h.text, round(h.score, 5))
            for h in index.search(vector, embedder.model_id, query, 5, 0.25)
        ]
        for index in (other_process, vectors)
    ]
    assert passages[0] == passages[1] and passages[0][0][0] == OCEAN.video_id
    assert built.ivf is not None

    vectors.delete(OCEAN.video_id)
    assert OCEAN.video_id not in [h.video_id for h in vectors.search(vector, embedder.model_id, query, 5, 0.25)]
    index_vectors(vectors, embedder, OCEAN)  # indexed again: found through the delta
    assert vectors.search(vector, embedder.model_id, query, 5, 0.25)[0].video_id == OCEAN.video_id
    view = vectors.view(embedder.model_id)
    assert view.base is built and view.replaced == {OCEAN.video_id} and len(view.delta.meta) > 0

    monkeypatch.setattr(vectors_module, "DELTA_MAX_ROWS", 0)  # a large delta: folded in by a rebuild
    vectors.delete(GARAGE.video_id)
    vectors.search(vector, embedder.model_id, query, 5, 0.25)
    deadline = time.monotonic() + 10
    while vectors.view(embedder.model_id).base is built:
        assert time.monotonic() < deadline, "the background rebuild never replaced the snapshot"
        time.sleep(0.05)
    assert vectors.search(vector, embedder.model_id, query, 5, 0.25)[0].video_id == OCEAN.video_id
    engine.dispose()


class _DescribedAtOnce:
    """A text index that only searches: every candidate comes described."""

    def __init__(self, index) -> None:
        self.index = index

    def search(self, query: SearchQuery):
        return self.index.search(query)


def test_hybrid_describes_only_the_text_hits_its_page_shows(tmp_path, embedder, monkeypatch):
    _, _, text_index, vectors = embedded_search(tmp_path)
    for copy in range(3):  # each video three times: a word matches several, found by both sides
        for document in CORPUS:
            document = dataclasses.replace(document, video_id=document.video_id + 100 * copy)
            text_index.upsert(document)
            index_vectors(vectors, embedder, document)
    described: list[list[int]] = []
    describe = text_index.describe
    monkeypatch.setattr(text_index, "describe", lambda page, ids: described.append(list(ids)) or describe(page, ids))
    deferred = HybridSearch(text_index, vectors, lambda: embedder)
    eager = HybridSearch(_DescribedAtOnce(text_index), vectors, lambda: embedder)  # type: ignore[arg-type]
    for text in ("whales", "the ocean", "car wheel", "eggs", "marine mammals migrating"):
        query = SearchQuery(text=text, limit=1)
        for _ in range(3):  # the first page and the next two, through the cursors
            described.clear()
            page = deferred.search(query)
            assert len([video_id for ids in described for video_id in ids]) <= 1
            assert page == eager.search(query)
            if page.next_cursor is None:
                break
            query = dataclasses.replace(query, cursor=page.next_cursor)
