"""Saved vector snapshots are found by name, and one that another process is still writing is not one of them; an
IVF index built twice from the same passages answers the same; a rebuild keeps the index a search already opened,
and a video re-indexed without passages leaves a loaded index's answers."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import pipeline.search.vectors as vectors_module
from pipeline.db.session import make_engine, migrate
from pipeline.search.vectors import (
    EXACT_SCAN_MAX_ROWS,
    PassageVector,
    SqlVectorIndex,
    _saved_snapshots,
    _Snapshot,
    vector_bytes,
)

MODEL = "test-model"


def test_a_snapshot_still_being_written_is_not_taken_for_a_saved_one(tmp_path: Path) -> None:
    for name in ("upto-00000000000000000009", "upto-00000000000000000017", "upto-00000000000000000023.partial-25184"):
        (tmp_path / name).mkdir()
    (tmp_path / "upto-notes").mkdir()
    assert _saved_snapshots(tmp_path) == [
        (9, tmp_path / "upto-00000000000000000009"),
        (17, tmp_path / "upto-00000000000000000017"),
    ]
    assert _saved_snapshots(tmp_path / "absent") == []


def test_an_index_built_twice_from_the_same_passages_answers_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # A query scans a few of the clusters, so answers depend on how the passages were clustered.
    monkeypatch.setattr(vectors_module, "IVF_SCANNED_PASSAGES", 1_000)
    rng = np.random.default_rng(18)
    count = 2 * EXACT_SCAN_MAX_ROWS
    vectors = rng.standard_normal((count, 64)).astype(np.float32)
    rows = [
        SimpleNamespace(
            id=i + 1, video_id=i // 20, kind="transcript", start_seconds=0.0, end_seconds=1.0, text="", vector=vector_bytes(v)
        )
        for i, v in enumerate(vectors)
    ]
    first, second = _Snapshot(rows), _Snapshot(rows)
    assert first.ivf is not None and second.ivf is not None
    for query in rng.standard_normal((50, 64)).astype(np.float32):
        assert first.nearest(query, 10)[0].tolist() == second.nearest(query, 10)[0].tolist()


def _passages(rng: np.random.Generator, count: int) -> list[PassageVector]:
    vectors = rng.standard_normal((count, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [PassageVector("transcript", 10.0 * i, 10.0 * i + 10, f"passage {i}", v) for i, v in enumerate(vectors)]


@pytest.fixture
def ivf_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SqlVectorIndex, dict[int, list[PassageVector]]]:
    """An index large enough for a saved IVF index (the threshold lowered), and the passages it holds per video."""
    monkeypatch.setattr(vectors_module, "EXACT_SCAN_MAX_ROWS", 5)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    rng = np.random.default_rng(7)
    videos = {video_id: _passages(rng, 3) for video_id in range(1, 6)}
    index = SqlVectorIndex(make_engine(url), tmp_path / "vectors")
    index.bulk_upsert(MODEL, videos)
    return index, videos


def test_a_rebuild_keeps_the_index_a_search_opened_from_disk_meanwhile(ivf_index) -> None:
    index, _ = ivf_index
    index.loaded_view(MODEL, timeout=30)  # built and saved
    # Another process opens the saved index, then rebuilds the same passages (its build raced a search's open).
    other = SqlVectorIndex(index.engine, index.directory)
    opened = other.view(MODEL).base
    other._rebuild(MODEL)
    assert other.view(MODEL).base is opened


def test_a_video_indexed_again_without_passages_leaves_a_loaded_indexs_answers(ivf_index) -> None:
    index, videos = ivf_index
    view = index.loaded_view(MODEL, timeout=30)
    assert view.base.ivf is not None
    query = videos[3][1].vector
    assert view.candidates(query, 3)[0][1] == 3
    index.bulk_upsert(MODEL, {3: []})
    assert 3 not in {video_id for _, video_id, _, _ in index.view(MODEL).candidates(query, 15)}


def test_searches_arriving_together_open_a_saved_index_once(ivf_index) -> None:
    index, _ = ivf_index
    index.loaded_view(MODEL, timeout=30)  # built and saved
    fresh = SqlVectorIndex(index.engine, index.directory)  # a new worker, its first searches at once
    with ThreadPoolExecutor(8) as pool:
        bases = list(pool.map(lambda _: fresh.view(MODEL).base, range(8)))
    assert all(base is bases[0] for base in bases)


@pytest.mark.parametrize("seed", range(5))
def test_videos_ranked_by_their_passages_as_a_plain_loop_ranks_them(seed: int) -> None:
    """Each video's score is its best passage's; its moment is its best timed passage, else its best passage."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 400))
    vectors = rng.standard_normal((count, 16)).astype(np.float32)
    video_ids = np.sort(rng.integers(1, 40, count))
    rows = [
        SimpleNamespace(
            id=i + 1,
            video_id=int(v),
            kind="title" if untimed else "transcript",
            start_seconds=None if untimed else float(i),
            end_seconds=None if untimed else float(i + 1),
            text=f"passage {i}",
            vector=vector_bytes(vector),
        )
        for i, (v, vector, untimed) in enumerate(zip(video_ids, vectors, rng.random(count) < 0.3, strict=True))
    ]
    snapshot = _Snapshot(rows, exact=True)
    view = vectors_module._View(0, snapshot, _Snapshot([]), frozenset())
    query = rng.standard_normal(16).astype(np.float32)
    scores = vectors @ query
    expected = {}
    for video_id in sorted(set(video_ids.tolist())):
        mine = [i for i in range(count) if video_ids[i] == video_id]
        best = max(mine, key=lambda i: scores[i])
        timed = [i for i in mine if rows[i].start_seconds is not None]
        expected[video_id] = (float(scores[best]), max(timed, key=lambda i: scores[i]) if timed else best)

    def answer(ranked: vectors_module._RankedVideos) -> list[tuple[int, float, int]]:
        return [(video_id, round(score, 4), row) for video_id, (score, _, row) in ranked.above(-np.inf).items()]

    def reference(videos: list[int]) -> list[tuple[int, float, int]]:
        return [(v, round(expected[v][0], 4), expected[v][1]) for v in sorted(videos, key=lambda v: -expected[v][0])]

    # Some of a filter's videos may have no passages (ids 0 and 40 never do): they have none to rank.
    without = rng.choice(np.setdiff1d(np.arange(41), video_ids), size=3)
    chosen = np.unique(np.concatenate([rng.choice(video_ids, size=max(1, len(expected) // 2)), without]))
    assert answer(view.best_videos_among(query, view.rows_of(chosen))) == reference([v for v in chosen.tolist() if v in expected])
    # Through the passages nearest the query, every passage taken: every video.
    assert answer(view.best_videos(query, count)) == reference(list(expected))


def test_a_snapshot_saved_in_an_earlier_format_is_not_opened_and_is_removed(ivf_index) -> None:
    index, videos = ivf_index
    home = index._saved_dir(MODEL)
    assert home is not None
    earlier = home.with_name(home.name.rsplit("-", 1)[0]) / "upto-00000000000000099999"  # the HNSW version's layout
    earlier.mkdir(parents=True)
    (earlier / "graph.usearch").write_bytes(b"not an IVF index")
    view = index.loaded_view(MODEL, timeout=30)
    assert view.base.ivf is not None and view.candidates(videos[2][0].vector, 1)[0][1] == 2
    assert not earlier.parent.exists() and [path.parent for _, path in _saved_snapshots(home)] == [home]
