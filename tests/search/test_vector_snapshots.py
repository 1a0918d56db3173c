"""Saved vector snapshots are found by name, and one that another process is still writing is not one of them; a
small graph built twice from the same passages answers the same."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pipeline.search.vectors import EXACT_SCAN_MAX_ROWS, HNSW_ONE_THREAD_MAX_ROWS, _saved_snapshots, _Snapshot, vector_bytes


def test_a_snapshot_still_being_written_is_not_taken_for_a_saved_one(tmp_path: Path) -> None:
    for name in ("upto-00000000000000000009", "upto-00000000000000000017", "upto-00000000000000000023.partial-25184"):
        (tmp_path / name).mkdir()
    (tmp_path / "upto-notes").mkdir()
    assert _saved_snapshots(tmp_path) == [
        (9, tmp_path / "upto-00000000000000000009"),
        (17, tmp_path / "upto-00000000000000000017"),
    ]
    assert _saved_snapshots(tmp_path / "absent") == []


def test_a_graph_built_twice_from_the_same_passages_answers_the_same() -> None:
    rng = np.random.default_rng(18)
    count = min(HNSW_ONE_THREAD_MAX_ROWS, 2 * EXACT_SCAN_MAX_ROWS)
    vectors = rng.standard_normal((count, 64)).astype(np.float32)
    rows = [
        SimpleNamespace(
            id=i + 1, video_id=i // 20, kind="transcript", start_seconds=0.0, end_seconds=1.0, text="", vector=vector_bytes(v)
        )
        for i, v in enumerate(vectors)
    ]
    first, second = _Snapshot(rows), _Snapshot(rows)
    assert first.graph is not None and second.graph is not None
    for query in rng.standard_normal((50, 64)).astype(np.float32):
        assert first.nearest(query, 10)[0].tolist() == second.nearest(query, 10)[0].tolist()
