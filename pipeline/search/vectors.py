"""Vector search over passage embeddings, stored with the search data in the app database.

`search_passages` (migration `passage_embeddings`) holds each indexed video's
passages with their float32 vectors, on SQLite and PostgreSQL alike (a BLOB /
bytea column: no extension needed). Each process keeps the current model's
vectors in memory and searches them:

- an exact numpy scan (a matrix-vector product) while the index is small, and
- an inverted-file index (faiss IVF: the passages clustered, a query scanning the clusters
  nearest it) once it holds more than `EXACT_SCAN_MAX_ROWS` passages.

`search_vector_state.generation` goes up in the same transaction as every change,
so a process looks again only when something changed. A large snapshot (an IVF index)
is not rebuilt per change: the passages written since it was built (their ids are
higher) are read as a small delta, scanned exactly, and the videos they belong to
are left out of the index's answers; a background rebuild folds the delta in once
it outgrows `DELTA_MAX_ROWS`. A new video is findable by meaning at its next query.
Deleting a video's vectors leaves one tombstone row (kind `removed`, no vector) so
that the delta sees the deletion too; indexing the video again replaces it.

A large snapshot is saved under `SEARCH_INDEX_DIR/vectors/` (the IVF index, the matrix,
the passages' times and texts, as files) once built, and every API worker opens the
newest one through memory maps: the workers share one copy in the page cache, a
restart does not build again, and one worker builds (a file lock) while the others
answer by words. A saved snapshot never goes stale: whatever was written after it
is its delta.
pgvector would move the scan into PostgreSQL; `pgvector_available` says whether
the server has it (shown by /health/ready) — this build does not need it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import mmap
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from sqlalchemy import (
    Engine,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from pipeline.search.base import SearchQuery
from pipeline.search.plan import SearchPlan, plan_search
from pipeline.search.tables import search_documents, search_passages, search_vector_state

# An exact scan grows with the passages (about a millisecond per thousand on a small machine:
# benchmarks/README.md, `retrieval`); above this many, an IVF index answers in a few milliseconds.
EXACT_SCAN_MAX_ROWS = 10_000
# A filtered query whose videos have at most this many passages is answered by an exact scan of them.
FILTERED_EXACT_MAX_ROWS = 50_000
# Passage rows a build reads from the database at a time (a stream: the database's cursor holds the rest).
ROWS_PER_READ = 10_000
# Rows gathered at once by an exact scan of chosen rows (4 MiB of 256-dimension vectors).
SCAN_CHUNK_ROWS = 4096
# Passages written since the index was built that are scanned exactly before it is rebuilt.
DELTA_MAX_ROWS = 20_000
# The kind of a tombstone row: the video's vectors were deleted.
REMOVED = "removed"
# Passages a query scans in the IVF index at least (whole clusters, the nearest first; a query asking for more
# passages scans more). Queries are short and land between passages, among near ties (the tenth passage is ~0.04
# below the best), where a graph search misses true neighbours: over 2.3 million passages (100,000 videos) passage
# recall@10 against an exact scan was 0.985-0.990 scanning 16 of 2,048 clusters (18,000 passages, 1.4-2.4 ms),
# 0.987-0.990 at 32 and 0.993-0.995 at 64, against 0.842 for an HNSW graph (usearch, 16 links) exploring 2,048
# candidates (7.9 ms) and 0.945 at 16,384 (38 ms); the IVF index was built in 30 s, the graph in 450-620 s
# (benchmarks/README.md, `search_scale`). Less clustered text needs a wider share: over 65,000 passages of real
# English prose (256 clusters) 32 clusters found 0.951, 96 0.989 and 157 (40,000 passages) 0.996. A count of
# passages bounds a query's cost and scans a wide share of a small index, where that is cheap.
IVF_SCANNED_PASSAGES = 40_000
# Rows sampled to train the clusters (k-means), per cluster; fewer rows than faiss wants per cluster make fewer clusters.
IVF_TRAINING_ROWS_PER_CLUSTER = 64
IVF_MIN_TRAINING_ROWS_PER_CLUSTER = 39
# Saved snapshots kept per model (older ones may still be mapped by a worker that has not moved on).
SAVED_SNAPSHOTS_KEPT = 2
SAVED_SNAPSHOT = re.compile(r"upto-(\d+)")
IVF_FILE = "ivf.faiss"
# Names the layout of saved snapshots (part of their directory's name): a snapshot saved by a version that searched
# another way (an HNSW graph) is not opened, and is removed once this format's is saved.
SNAPSHOT_FORMAT = "ivf1"

_Meta = tuple[str, float | None, float | None, str]  # kind, start, end, text


@dataclass(frozen=True)
class PassageVector:
    kind: str
    start: float | None
    end: float | None
    text: str
    vector: np.ndarray  # L2-normalized float32


@dataclass(frozen=True)
class VectorHit:
    """A video found by meaning: its best passage (the moment to open it at) and that passage's similarity."""

    video_id: int
    score: float
    kind: str
    start: float | None
    end: float | None
    text: str
    title: str
    status: str
    created_at: datetime


@runtime_checkable
class VectorIndex(Protocol):
    backend_name: str

    def upsert(self, video_id: int, model: str, passages: Sequence[PassageVector]) -> None: ...

    def bulk_upsert(self, model: str, videos: Mapping[int, Sequence[PassageVector]]) -> None:
        """`upsert` of many videos (id: passages) at once."""
        ...

    def delete(self, video_id: int) -> None: ...

    def search(self, vector: np.ndarray, model: str, query: SearchQuery, limit: int, min_similarity: float) -> list[VectorHit]:
        """The best `limit` videos (best passage each) that pass the query's filters, most similar first."""
        ...

    def describe(self) -> str:
        """How vectors are searched here, for /health/ready."""
        ...

    def warm_up(self, model: str) -> None:
        """Make `model`'s vectors ready to search (a first search then waits for nothing); the first build of a
        large index goes on in the background."""
        ...


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class StoredPassage(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> float | None: ...
    @property
    def end(self) -> float | None: ...
    @property
    def text(self) -> str: ...


def passage_row(video_id: int, position: int, model: str, passage: StoredPassage, vector: np.ndarray) -> dict[str, Any]:
    """A passage's columns as both the app's passages and the search index's store them."""
    return {
        "video_id": video_id,
        "position": position,
        "kind": passage.kind,
        "start_seconds": passage.start,
        "end_seconds": passage.end,
        "text": passage.text,
        "model": model,
        "vector": vector_bytes(vector),
    }


def vector_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


class _Passages(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, row: int) -> _Meta: ...


# Similarity, video id, and where its passage is: the passages of its snapshot and its row there. A passage is
# read only when it may be shown: a filtered scan ranks hundreds of passages to show a page of them.
_Candidate = tuple[float, int, _Passages, int]


class _StoredPassages:
    """A saved snapshot's passages, read from memory-mapped arrays: (kind, start, end, text) by row."""

    def __init__(self, directory: Path) -> None:
        self.kinds, self.starts, self.ends, self.offsets = (
            _mapped(directory / f"{name}.npy") for name in ("kinds", "starts", "ends", "text_offsets")
        )
        self.texts = (
            np.memmap(directory / "texts.bin", dtype=np.uint8, mode="r").view(np.ndarray)  # a plain array, as _mapped
            if (directory / "texts.bin").stat().st_size
            else np.zeros(0, dtype=np.uint8)
        )

    def __len__(self) -> int:
        return len(self.kinds)

    def __getitem__(self, row: int) -> _Meta:
        start, end = float(self.starts[row]), float(self.ends[row])
        text = bytes(self.texts[int(self.offsets[row]) : int(self.offsets[row + 1])]).decode()
        return (str(self.kinds[row]), None if np.isnan(start) else start, None if np.isnan(end) else end, text)


class _Snapshot:
    """One model's passages: metadata, the matrix, and an IVF index when large; in memory or saved."""

    meta: _Passages

    def __init__(self, rows: Iterable[Any], exact: bool = False, expected: int = 0) -> None:
        """From passage rows in video order, read once: a stream of them is held a row at a time, each vector
        copied straight into the matrix (made `expected` rows tall, grown if more come). Holding every row of
        2.3 million passages first took a build to 13.9 GB on PostgreSQL."""
        self.max_id = 0  # tombstones included: the delta starts after them
        video_ids: list[int] = []
        meta: list[_Meta] = []
        matrix: np.ndarray | None = None
        for r in rows:
            self.max_id = max(self.max_id, r.id)
            if r.kind == REMOVED:
                continue
            vector = vector_from_bytes(r.vector)
            if matrix is None:
                matrix = np.empty((max(expected, 1), len(vector)), dtype=np.float32)
            elif len(meta) == len(matrix):
                matrix = np.concatenate([matrix, np.empty_like(matrix[: max(len(matrix) // 2, 1)])])
            matrix[len(meta)] = vector
            video_ids.append(r.video_id)
            meta.append((r.kind, r.start_seconds, r.end_seconds, r.text))
        self.meta = meta
        self.video_ids = np.array(video_ids, dtype=np.int64)
        self.starts = np.array([np.nan if m[1] is None else m[1] for m in meta], dtype=np.float64)
        self.matrix = matrix[: len(meta)] if matrix is not None else np.zeros((0, 1), dtype=np.float32)
        self.ivf: Any = _ivf_index(self.matrix) if len(self.meta) > EXACT_SCAN_MAX_ROWS and not exact else None
        self._index_videos()

    def _index_videos(self) -> None:
        """Each video's first row, by video id, in memory: where a filter's videos lie is found among the 100,000
        videos' ids (~1 MB) instead of among the 2.3 million passages' (mapped from the file): 3.7 -> 0.6 ms for
        the thousands of videos a date window passes."""
        video_ids = np.asarray(self.video_ids)
        firsts = _group_starts(video_ids)
        self.first_ids = np.array(video_ids[firsts], dtype=np.int64)
        self.first_rows = np.append(firsts, len(video_ids)).astype(np.int64)  # a video's rows: first_rows[i]:first_rows[i + 1]

    def save(self, directory: Path) -> None:
        """Write the snapshot to `directory` (made whole, then renamed into place)."""
        partial = directory.with_name(directory.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        passages = [self.meta[row] for row in range(len(self.meta))]
        # The texts go to their file one by one (all of them encoded at once were another copy of every text).
        offsets = np.zeros(len(passages) + 1, dtype=np.int64)
        with open(partial / "texts.bin", "wb") as texts:
            for row, meta in enumerate(passages):
                offsets[row + 1] = offsets[row] + texts.write(meta[3].encode())
        arrays = {
            "video_ids": self.video_ids,
            "matrix": self.matrix,
            "kinds": np.array([meta[0] for meta in passages], dtype=np.str_),
            "starts": np.array([np.nan if m[1] is None else m[1] for m in passages], dtype=np.float64),
            "ends": np.array([np.nan if m[2] is None else m[2] for m in passages], dtype=np.float64),
            "text_offsets": offsets,
        }
        for name, array in arrays.items():
            np.save(partial / f"{name}.npy", array)
        if self.ivf is not None:
            import faiss

            faiss.write_index(self.ivf, str(partial / IVF_FILE))
        os.replace(partial, directory)

    @classmethod
    def open(cls, directory: Path, max_id: int) -> _Snapshot:
        """A saved snapshot, memory-mapped: the pages are shared with every process that opens it."""
        import faiss  # loaded where a large index is (half a second), not by every process that imports this

        snapshot = cls.__new__(cls)
        snapshot.max_id = max_id
        snapshot.video_ids = _mapped(directory / "video_ids.npy")
        snapshot.matrix = _mapped(directory / "matrix.npy")
        snapshot.meta = _StoredPassages(directory)
        snapshot.starts = snapshot.meta.starts
        ivf = directory / IVF_FILE
        # Memory-mapped: the clusters' lists are read from the file, shared with every process that opens it.
        snapshot.ivf = faiss.read_index(str(ivf), faiss.IO_FLAG_MMAP) if ivf.exists() else None
        for array in (snapshot.matrix, snapshot.video_ids, snapshot.starts):
            _map_every_page(array)
        snapshot._index_videos()
        if snapshot.ivf is not None:
            # A search of every cluster maps every page of the lists: 0.13 s at 2.3 million passages, once, where a
            # query's first touch of its clusters cost ~290 page faults (~1 ms).
            every = faiss.SearchParametersIVF()
            every.nprobe = snapshot.ivf.nlist
            snapshot.ivf.search(np.zeros((1, snapshot.ivf.d), dtype=np.float32), 1, params=every)
        return snapshot

    def nearest(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices and similarities of the `count` passages most similar to `vector`, best first."""
        count = min(count, len(self.meta))
        if count == 0 or vector.shape[0] != self.matrix.shape[1]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self.ivf is None:
            return _ranked(np.arange(len(self.meta)), self.matrix @ vector, count)
        import faiss

        # The clusters scanned hold IVF_SCANNED_PASSAGES passages, or twice those asked for (clusters average
        # rows / clusters passages).
        scanned = max(IVF_SCANNED_PASSAGES, 2 * count)
        probes = min(math.ceil(scanned * self.ivf.nlist / len(self.meta)), self.ivf.nlist)
        params = faiss.SearchParametersIVF()
        params.nprobe = probes
        _, found = self.ivf.search(vector[None, :], count, params=params)
        rows = found[0][found[0] >= 0]
        # The lists hold float16 copies: the found passages are ranked again by their float32 vectors, as an exact
        # scan ranks them.
        return _ranked(*self.similarities(vector, rows), len(rows))

    def similarities(self, vector: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`rows` (row indices) and their similarities to `vector`, in the order given: an exact scan of them."""
        if len(rows) == 0 or vector.shape[0] != self.matrix.shape[1]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # A chunk at a time: the gathered rows stay in the CPU's cache for the product (~half the time of
        # gathering all of them first, for the 50,000 rows a filtered scan may take).
        scores = np.empty(len(rows), dtype=np.float32)
        for first in range(0, len(rows), SCAN_CHUNK_ROWS):
            chunk = rows[first : first + SCAN_CHUNK_ROWS]
            scores[first : first + len(chunk)] = self.matrix[chunk] @ vector
        return rows, scores


def _mapped(path: Path) -> np.ndarray:
    """The saved array at `path`, memory-mapped, as a plain array over the map: indexing a np.memmap wraps what it
    gives in another memmap (1.8 µs for one value, 0.15 µs from a plain array)."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


def _map_every_page(array: np.ndarray) -> None:
    """Touch one value per memory page of a memory-mapped array, so that this process maps its pages now.

    A worker's first touch of each page of a saved snapshot is a page fault even when the file is in the page
    cache: a filtered exact scan over 44,000 passages of a 2.3-million-passage matrix took 160 ms where every
    page had been touched before and 18 ms after (mapping that whole matrix: 130 ms, once, when it is opened).
    """
    flat = np.asarray(array).reshape(-1)
    if flat.size:
        float(flat[:: max(1, mmap.PAGESIZE // flat.itemsize)].sum())


def _ivf_index(matrix: np.ndarray) -> Any:
    """An IVF index of `matrix`'s rows (ids: the row numbers): k-means clusters trained on a seeded sample of the
    rows, each row kept as float16 in its cluster's list. As many clusters as the power of two at or above the
    square root of the rows (faiss's guideline is on that order): 2,048 for 2.3 million passages; fewer for a few
    thousand rows, which could not train that many."""
    import faiss

    rows, dimensions = matrix.shape
    clusters = max(1, min(1 << math.ceil(math.log2(math.sqrt(rows))), rows // IVF_MIN_TRAINING_ROWS_PER_CLUSTER))
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dimensions), dimensions, clusters, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.sort(np.random.default_rng(0).choice(rows, min(rows, IVF_TRAINING_ROWS_PER_CLUSTER * clusters), replace=False))
    ivf.train(matrix[sample])
    ivf.add(matrix)  # the snapshot's own matrix, contiguous: faiss reads it in place
    return ivf


def _group_starts(video_ids: np.ndarray) -> np.ndarray:
    """Where each video's run of rows starts in `video_ids` (grouped by video)."""
    if len(video_ids) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], video_ids[1:] != video_ids[:-1]]))


def _ranked(rows: np.ndarray, scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    top = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return rows[top], scores[top]


def _saved_snapshots(home: Path) -> list[tuple[int, Path]]:
    """The snapshots saved in `home` (`upto-<max id>`), oldest first; not those other processes are still writing
    (`upto-<max id>.partial-<pid>`)."""
    if not home.is_dir():
        return []
    found = (SAVED_SNAPSHOT.fullmatch(path.name) for path in home.iterdir())
    return sorted((int(match.group(1)), home / match.group(0)) for match in found if match)


@dataclass(frozen=True)
class _View:
    """What a process searches for one model: a snapshot, and the passages written since it was built."""

    generation: int
    base: _Snapshot
    delta: _Snapshot
    replaced: frozenset[int]  # videos with passages in the delta: their rows in the base are outdated

    @property
    def size(self) -> int:
        return len(self.base.meta) + len(self.delta.meta)

    def candidates(self, vector: np.ndarray, count: int) -> list[_Candidate]:
        """About the `count` passages most similar to `vector`, best first."""
        base = _candidates(self.base, *self.base.nearest(vector, count), skip=self.replaced)
        return _merged(base, _candidates(self.delta, *self.delta.nearest(vector, count)))

    def best_videos(self, vector: np.ndarray, count: int) -> _RankedVideos:
        """The videos of about the `count` passages most similar to `vector`, best first."""
        return _RankedVideos.of(
            [
                (self.base, *self.base.nearest(vector, count), self.replaced),
                (self.delta, *self.delta.nearest(vector, count), None),
            ]
        )

    def best_videos_among(self, vector: np.ndarray, rows: _VideoRows) -> _RankedVideos:
        """The videos whose `rows` these are, best first, by every passage they have: an exact scan."""
        found = []
        for snapshot, skip, (starts, ends) in ((self.base, self.replaced, rows.base), (self.delta, None, rows.delta)):
            lengths = ends - starts
            # Every row of every range, without a Python loop: each range's start, then +1 along it.
            each = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
            found.append((snapshot, *snapshot.similarities(vector, each.astype(np.int64)), skip))
        return _RankedVideos.of(found)

    def rows_of(self, video_ids: np.ndarray) -> _VideoRows:
        """Where the passages of these videos (sorted ids) lie, in the base and in the delta."""
        return _VideoRows(_ranges(self.base, video_ids), _ranges(self.delta, video_ids))


@dataclass(frozen=True)
class _VideoRows:
    """Some videos' passages in a view: in each snapshot, each video's first row and the row after its last."""

    base: tuple[np.ndarray, np.ndarray]
    delta: tuple[np.ndarray, np.ndarray]

    @property
    def count(self) -> int:
        """How many passages these are; a replaced video's old rows count too."""
        return sum(int((ends - starts).sum()) for starts, ends in (self.base, self.delta))


def _ranges(snapshot: _Snapshot, video_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each video's first row and the row after its last (the snapshot's rows are in video id order); an empty
    range for a video without rows here."""
    at = np.searchsorted(snapshot.first_ids, video_ids)
    known = at < len(snapshot.first_ids)
    known[known] = snapshot.first_ids[at[known]] == video_ids[known]
    return np.where(known, snapshot.first_rows[at], 0), np.where(
        known, snapshot.first_rows[np.minimum(at + 1, len(snapshot.first_rows) - 1)], 0
    )


def _candidates(
    snapshot: _Snapshot, rows: np.ndarray, scores: np.ndarray, skip: frozenset[int] = frozenset()
) -> list[_Candidate]:
    video_ids = np.asarray(snapshot.video_ids[rows]).tolist()
    return [
        (score, video_id, snapshot.meta, row)
        for row, score, video_id in zip(rows.tolist(), scores.tolist(), video_ids, strict=True)
        if video_id not in skip
    ]


def _merged(*ranked: list[_Candidate]) -> list[_Candidate]:
    return sorted((c for candidates in ranked for c in candidates), key=lambda c: -c[0])


@dataclass(frozen=True)
class _RankedVideos:
    """Videos found by their passages, best first: each one's score (its best passage's) and the passage of its
    moment, its best transcript passage (title and summary have no time), or its best passage when none of its
    transcript passages was among those ranked. Passages are read only for the videos shown."""

    video_ids: list[int]
    scores: list[float]
    moments: list[tuple[_Passages, int]]
    lowest: float  # the lowest score of a passage ranked: below the threshold, a wider search finds no more

    @classmethod
    def of(cls, found: Sequence[tuple[_Snapshot, np.ndarray, np.ndarray, frozenset[int] | None]]) -> _RankedVideos:
        """From passages (rows and scores) of snapshots whose videos are distinct once each one's `skip` is left out."""
        bests = [(snapshot.meta, _video_bests(snapshot, rows, scores, skip)) for snapshot, rows, scores, skip in found]
        order = np.argsort(-np.concatenate([best.scores for _, best in bests]), kind="stable")
        video_ids = np.concatenate([best.video_ids for _, best in bests])[order]
        scores = np.concatenate([best.scores for _, best in bests])[order]
        moments = [(passages, row) for passages, best in bests for row in best.rows.tolist()]
        return cls(
            video_ids.tolist(),
            scores.tolist(),
            [moments[i] for i in order.tolist()],
            min((best.lowest for _, best in bests), default=np.inf),
        )

    def above(self, min_similarity: float) -> dict[int, tuple[float, _Passages, int]]:
        """Video id: (score, passages, moment row), best first, for the videos scoring at least `min_similarity`."""
        best = {}
        for video_id, score, (passages, row) in zip(self.video_ids, self.scores, self.moments, strict=True):
            if score < min_similarity:
                break
            best[video_id] = (score, passages, row)
        return best


class _VideoBests(NamedTuple):
    video_ids: np.ndarray
    scores: np.ndarray
    rows: np.ndarray  # each video's moment
    lowest: float


def _video_bests(snapshot: _Snapshot, rows: np.ndarray, scores: np.ndarray, skip: frozenset[int] | None) -> _VideoBests:
    """Each video among the passages `rows` (scored `scores`) once, by id: its best score and its moment's row
    (see `_RankedVideos`); and the lowest score. Videos in `skip` are left out. Linear in the rows when they come
    grouped by video (an exact scan's do), without a sort."""
    video_ids = np.asarray(snapshot.video_ids[rows], dtype=np.int64)
    if skip:
        kept = ~np.isin(video_ids, np.fromiter(skip, dtype=np.int64, count=len(skip)))
        rows, scores, video_ids = rows[kept], scores[kept], video_ids[kept]
    if len(rows) == 0:
        return _VideoBests(video_ids, scores.astype(np.float32), rows, np.inf)
    if np.any(video_ids[1:] < video_ids[:-1]):
        order = np.argsort(video_ids, kind="stable")
        rows, scores, video_ids = rows[order], scores[order], video_ids[order]
    firsts = _group_starts(video_ids)
    group = np.repeat(np.arange(len(firsts)), np.diff(np.concatenate([firsts, [len(rows)]])))
    timed = ~np.isnan(np.asarray(snapshot.starts[rows], dtype=np.float64))
    best = np.maximum.reduceat(scores, firsts)
    best_timed = np.maximum.reduceat(np.where(timed, scores, -np.inf), firsts)
    positions, none = np.arange(len(rows)), len(rows)
    # The first row reaching each video's best score, and its best timed score (if it has a timed passage).
    best_row = np.minimum.reduceat(np.where(scores == best[group], positions, none), firsts)
    best_timed_row = np.minimum.reduceat(np.where(timed & (scores == best_timed[group]), positions, none), firsts)
    moments = np.where(best_timed_row < none, best_timed_row, best_row)
    return _VideoBests(video_ids[firsts], best, rows[moments], float(scores.min()))


def _among(video_ids: list[int], allowed: np.ndarray) -> list[int]:
    """`video_ids` that are in `allowed` (sorted), in their order."""
    ids = np.asarray(video_ids, dtype=np.int64)
    return ids[np.isin(ids, allowed, assume_unique=True)].tolist()


class VectorsLoading(RuntimeError):
    """A large index's vectors are being loaded into this process for the first time: search without them."""


def _tombstone(video_id: int) -> dict[str, Any]:
    """The row that says a video's passages are gone (in every model)."""
    return {
        "video_id": video_id,
        "position": 0,
        "kind": REMOVED,
        "start_seconds": None,
        "end_seconds": None,
        "text": "",
        "model": "",
        "vector": b"",
    }


class SqlVectorIndex:
    """Passage vectors in the app database (SQLite or PostgreSQL), searched in this process."""

    def __init__(self, engine: Engine, directory: Path | None = None) -> None:
        self.engine = engine
        self.directory = directory  # where large snapshots are saved and shared; None: never saved
        self.backend_name = f"{engine.dialect.name}-vectors"
        self._lock = threading.Lock()
        self._views: dict[str, _View] = {}
        self._rebuilding: set[str] = set()
        self._opening = threading.Lock()  # one thread opens a saved snapshot; the others wait for it

    # --- writing ----------------------------------------------------------------------------
    def upsert(self, video_id: int, model: str, passages: Sequence[PassageVector]) -> None:
        self.bulk_upsert(model, {video_id: passages})

    def bulk_upsert(self, model: str, videos: Mapping[int, Sequence[PassageVector]]) -> None:
        if not videos:
            return
        rows = [
            passage_row(video_id, i, model, p, p.vector) for video_id, passages in videos.items() for i, p in enumerate(passages)
        ]
        # A video left without passages gets a tombstone: a loaded index learns of removals only from new rows.
        rows += [_tombstone(video_id) for video_id, passages in videos.items() if not passages]
        with self.engine.begin() as conn:  # one transaction: a commit per video costs more than its rows
            conn.execute(delete(search_passages).where(search_passages.c.video_id.in_(list(videos))))
            conn.execute(insert(search_passages), rows)
            self._bump(conn)

    def delete(self, video_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(search_passages).where(search_passages.c.video_id == video_id))
            conn.execute(insert(search_passages), _tombstone(video_id))
            self._bump(conn)

    @staticmethod
    def _bump(conn: Any) -> None:
        conn.execute(
            update(search_vector_state)
            .where(search_vector_state.c.id == 1)
            .values(generation=search_vector_state.c.generation + 1)
        )

    # --- reading ----------------------------------------------------------------------------
    def view(self, model: str) -> _View:
        """The model's vectors as of the index's current generation.

        A small snapshot is rebuilt at once. A large one (an IVF index, seconds to
        minutes to build) is built by a background thread, the first time too, and
        `VectorsLoading` says so meanwhile; later it gets the passages written since
        it was built as a delta, and once the delta is large the background thread
        rebuilds it while the old one and its delta keep answering. No search waits
        for a large build.
        """
        with self.engine.connect() as conn:
            generation = conn.execute(select(search_vector_state.c.generation)).scalar_one()
            with self._lock:
                cached = self._views.get(model)
            if cached is not None and cached.generation == generation:
                return cached
            if cached is None:
                with self._opening:
                    with self._lock:
                        cached = self._views.get(model)
                    if cached is None:
                        cached = self._open_saved(model)
            if cached is None and self._more_than(conn, model, EXACT_SCAN_MAX_ROWS):
                self._rebuild_in_background(model)
                raise VectorsLoading(f"more than {EXACT_SCAN_MAX_ROWS:,} passage vectors are loading into this process")
            if cached is None or cached.base.ivf is None:
                return self._rebuild(model)
            changed = conn.execute(self._rows(model).where(search_passages.c.id > cached.base.max_id)).all()
        delta = _Snapshot(changed, exact=True)
        view = _View(generation, cached.base, delta, frozenset(row.video_id for row in changed))
        with self._lock:
            if self._views.get(model) is cached:
                self._views[model] = view
        if len(delta.meta) > DELTA_MAX_ROWS:
            self._rebuild_in_background(model)
        return view

    @staticmethod
    def _more_than(conn: Any, model: str, rows: int) -> bool:
        """Whether `model` has more than `rows` passages, counting no further: every search asks while a first
        build runs, and counting all 2.3 million passages was a scan of the table on PostgreSQL each time (16
        first queries at once kept the server busy, and themselves queued, for tens of seconds)."""
        first = select(search_passages.c.id).where(search_passages.c.model == model).limit(rows + 1).subquery()
        return conn.execute(select(func.count()).select_from(first)).scalar_one() > rows

    def warm_up(self, model: str) -> None:
        with contextlib.suppress(VectorsLoading):
            self.view(model)

    def loaded_view(self, model: str, timeout: float | None = None) -> _View:
        """`view`, waiting for a large index's first build (warming a process up, or measuring it); by default
        as long as it takes (millions of passages take tens of minutes on two cores)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self.view(model)
            except VectorsLoading:
                if deadline is not None and time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _saved_dir(self, model: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{hashlib.sha256(model.encode()).hexdigest()[:16]}-{SNAPSHOT_FORMAT}"

    def _open_saved(self, model: str, newer_than: int = -1) -> _View | None:
        """The newest snapshot saved for `model` if it is newer than `newer_than` (a max id), opened; its
        delta is read at the next `view`."""
        home = self._saved_dir(model)
        saved = _saved_snapshots(home) if home is not None else []
        if not saved or saved[-1][0] <= newer_than:
            return None
        max_id, path = saved[-1]
        view = _View(-1, _Snapshot.open(path, max_id), _Snapshot([]), frozenset())
        with self._lock:
            self._views[model] = view
        return view

    def _save(self, model: str, snapshot: _Snapshot) -> _Snapshot:
        """Save a large snapshot for every process and return it opened from disk (its memory shared)."""
        home = self._saved_dir(model)
        if home is None or snapshot.ivf is None:
            return snapshot
        home.mkdir(parents=True, exist_ok=True)
        target = home / f"upto-{snapshot.max_id:020d}"
        if not target.exists():
            snapshot.save(target)
        for _, old in _saved_snapshots(home)[:-SAVED_SNAPSHOTS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)
        # The model's snapshots in an earlier format (no process of this version opens them).
        for other in home.parent.glob(home.name.removesuffix(f"-{SNAPSHOT_FORMAT}") + "*"):
            if other != home:
                shutil.rmtree(other, ignore_errors=True)
        return _Snapshot.open(target, snapshot.max_id)

    def _rebuild_in_background(self, model: str) -> None:
        with self._lock:
            if model in self._rebuilding:
                return
            self._rebuilding.add(model)
        threading.Thread(target=self._rebuild_unless_elsewhere, args=(model,), daemon=True, name=f"vectors-{model}").start()

    def _rebuild_unless_elsewhere(self, model: str) -> None:
        with contextlib.suppress(VectorsLoading):  # another process builds it; the next search opens it
            self._rebuild(model)

    @staticmethod
    def _rows(model: str) -> Any:
        return (
            select(
                search_passages.c.id,
                search_passages.c.video_id,
                search_passages.c.kind,
                search_passages.c.start_seconds,
                search_passages.c.end_seconds,
                search_passages.c.text,
                search_passages.c.vector,
            )
            .where(or_(search_passages.c.model == model, search_passages.c.kind == REMOVED))
            .order_by(search_passages.c.video_id, search_passages.c.position)
        )

    def _rebuild(self, model: str) -> _View:
        try:
            with self._lock:
                current = self._views.get(model)
            with self._build_lock(model) as building_here:
                # Another process may have saved a newer snapshot meanwhile, or be building one.
                opened = self._open_saved(model, newer_than=current.base.max_id if current is not None else -1)
                if opened is not None:
                    return opened
                if not building_here:
                    raise VectorsLoading("passage vectors are being built by another process")
                with self.engine.connect() as conn:
                    generation = conn.execute(select(search_vector_state.c.generation)).scalar_one()
                    statement = self._rows(model)
                    expected = conn.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
                    rows = conn.execution_options(yield_per=ROWS_PER_READ).execute(statement)
                    snapshot = _Snapshot(rows, expected=expected)
                view = _View(generation, self._save(model, snapshot), _Snapshot([]), frozenset())
            with self._lock:
                # Only a newer index replaces the one searched: a search may have opened this very snapshot
                # from disk meanwhile, and its delta view is as current.
                current = self._views.get(model)
                if current is None or current.base.max_id < view.base.max_id:
                    self._views[model] = view
            return view
        finally:
            with self._lock:
                self._rebuilding.discard(model)

    @contextmanager
    def _build_lock(self, model: str) -> Iterator[bool]:
        """Whether this process may build `model`'s large snapshot: one process at a time does."""
        home = self._saved_dir(model)
        if home is None:
            yield True
            return
        home.mkdir(parents=True, exist_ok=True)
        with open(home / "build.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def search(self, vector: np.ndarray, model: str, query: SearchQuery, limit: int, min_similarity: float) -> list[VectorHit]:
        view = self.view(model)
        vector = np.asarray(vector, dtype=np.float32).ravel()
        plan = plan_search(query)
        with self.engine.connect() as conn:
            filtered = any(value is not None for value in (plan.owner_id, plan.created_from, plan.created_to))
            allowed = self._filtered_videos(conn, plan) if filtered else None
            allowed_rows = view.rows_of(allowed) if allowed is not None else None
            if allowed_rows is not None and allowed_rows.count <= FILTERED_EXACT_MAX_ROWS:
                # Few videos pass the filter: rank exactly those, so the answer is an exact filtered scan's.
                best = view.best_videos_among(vector, allowed_rows).above(min_similarity)
                kept = self._kept(conn, list(best), query, limit)
            else:
                # Videos have many passages and filters drop some: widen the passage window until the page
                # is full of distinct visible videos, or the window holds every passage. The first window is
                # as much wider as the filter is narrower (a date window passing 5 % of the passages: 20 times),
                # and the videos outside the filter are dropped before their rows are read.
                share = max(allowed_rows.count if allowed_rows is not None else view.size, 1) / max(view.size, 1)
                count = min(int(max(8 * limit, 64) / share), max(view.size, 1))
                while True:
                    ranked = view.best_videos(vector, count)
                    best = ranked.above(min_similarity)
                    ordered = list(best) if allowed is None else _among(list(best), allowed)
                    kept = self._kept(conn, ordered, query, limit)
                    if len(kept) >= limit or ranked.lowest < min_similarity or count >= view.size:
                        break
                    count *= 4
            titles = self._titles(conn, [video_id for video_id, _ in kept])
        hits = []
        for video_id, document in kept:
            score, passages, row = best[video_id]
            kind, start, end, passage = passages[row]
            hits.append(
                VectorHit(
                    video_id=video_id,
                    score=score,
                    kind=kind,
                    start=start,
                    end=end,
                    text=passage,
                    title=titles.get(video_id, ""),
                    status=document.status,
                    created_at=document.created_at,
                )
            )
        return hits

    def _kept(self, conn: Any, ordered: list[int], query: SearchQuery, limit: int) -> list[tuple[int, Any]]:
        """The first `limit` of `ordered` (video ids, best first) that pass the query's filters, with their rows.

        Filters are checked a page at a time, on the narrow filter rows.
        """
        kept: list[tuple[int, Any]] = []
        batch = limit + 8
        for offset in range(0, len(ordered), batch):
            chunk = ordered[offset : offset + batch]
            visible = self._visible(conn, chunk, query)
            kept += [(video_id, visible[video_id]) for video_id in chunk if video_id in visible]
            if len(kept) >= limit:
                break
        return kept[:limit]

    @staticmethod
    def _filtered_videos(conn: Any, plan: SearchPlan) -> np.ndarray:
        """The videos passing an owner or date filter, sorted."""
        statement = select(func.aggregate_strings(cast(search_documents.c.video_id, String), ","))
        if plan.owner_id is not None:
            statement = statement.where(search_documents.c.owner_id == plan.owner_id)
        if plan.created_from is not None:
            statement = statement.where(search_documents.c.created_at >= plan.created_from)
        if plan.created_to is not None:
            statement = statement.where(search_documents.c.created_at <= plan.created_to)
        if plan.status is not None:
            statement = statement.where(search_documents.c.status == plan.status)
        # One string of ids, parsed in C: row by row, a two-month window's 8,000 videos took 9 ms, as one string 3.
        ids = conn.execute(statement).scalar_one()
        return np.sort(np.fromstring(ids or "", dtype=np.int64, sep=","))

    @staticmethod
    def _visible(conn: Any, ids: list[int], query: SearchQuery) -> dict[int, Any]:
        """Status and creation time of the videos among `ids` that pass the query's filters.

        Rows are read by primary key and filtered here: with the filters in SQL, SQLite may pick
        the status index and walk every ready video instead of looking up these few.
        """
        plan = plan_search(query)
        return {
            row.video_id: row
            for row in conn.execute(_VISIBLE, {"ids": ids})
            if (plan.status is None or row.status == plan.status)
            and (plan.owner_id is None or row.owner_id == plan.owner_id)
            and (plan.created_from is None or row.created_at >= plan.created_from)
            and (plan.created_to is None or row.created_at <= plan.created_to)
        }

    @staticmethod
    def _titles(conn: Any, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {row.video_id: row.title for row in conn.execute(_TITLES, {"ids": ids})}

    def describe(self) -> str:
        detail = (
            f"in-process search over {self.engine.dialect.name} passages "
            f"(exact scan, faiss IVF above {EXACT_SCAN_MAX_ROWS} passages)"
        )
        if self.engine.dialect.name == "postgresql":
            available = pgvector_available(self.engine)
            detail += (
                "; pgvector extension available but not used"
                if available
                else "; pgvector extension not installed on this server"
            )
        return detail

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(search_vector_state.c.generation)).scalar_one()


# Statements built once: built for each search, they cost about as much as running them.
_VISIBLE = select(
    search_documents.c.video_id, search_documents.c.status, search_documents.c.owner_id, search_documents.c.created_at
).where(search_documents.c.video_id.in_(bindparam("ids", expanding=True)))
_TITLES = text("SELECT video_id, title FROM search_texts WHERE video_id IN :ids").bindparams(bindparam("ids", expanding=True))


def pgvector_available(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is not None
    except SQLAlchemyError:
        return False


def vector_index_for(backend: str, engine: Engine | None, directory: Path | None = None) -> VectorIndex | None:
    """The vector index beside the configured text index, or None where vectors are not searched.

    OpenSearch: vectors are not indexed there yet, so search falls back to text
    (`vector_search_unavailable_reason` says so in /health/ready).
    """
    if backend in ("tantivy", "database") and engine is not None and engine.dialect.name in ("sqlite", "postgresql"):
        return SqlVectorIndex(engine, directory)
    return None


def vector_search_unavailable_reason(backend: str) -> str:
    return (
        f"SEARCH_BACKEND={backend}: passage vectors are not indexed in this backend yet, so semantic and "
        "hybrid search answer with text search"
    )
