"""Saved vector snapshots are found by name, and one that another process is still writing is not one of them."""

from pathlib import Path

from pipeline.search.vectors import _saved_snapshots


def test_a_snapshot_still_being_written_is_not_taken_for_a_saved_one(tmp_path: Path) -> None:
    for name in ("upto-00000000000000000009", "upto-00000000000000000017", "upto-00000000000000000023.partial-25184"):
        (tmp_path / name).mkdir()
    (tmp_path / "upto-notes").mkdir()
    assert _saved_snapshots(tmp_path) == [
        (9, tmp_path / "upto-00000000000000000009"),
        (17, tmp_path / "upto-00000000000000000017"),
    ]
    assert _saved_snapshots(tmp_path / "absent") == []
