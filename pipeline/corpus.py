"""Loading ready videos in bulk from JSON Lines: what benchmarks and migrations from another platform share.

One JSON object per line:

    {"video_id": 1, "title": "...", "description": "...", "owner_id": 7, "owner_name": "ana",
     "created_at": "2025-03-01T12:00:00Z", "duration_seconds": 612.4, "language": "en",
     "summary": "...", "segments": [{"start": 0.0, "end": 4.2, "text": "..."}, ...]}

Each video becomes a `ready` row of `videos` (its owner a user who cannot sign
in until a password is set), then is indexed by the same functions the
`passage_embeddings` and `search_document` assets use: `cut_passages` cuts its
passages at its topic changes, the configured embedder embeds them,
`save_passages` stores them, and the configured text and vector indexes take
the document and the vectors.
Loading a video again replaces it, so a corpus can be appended to, or reloaded,
while the API serves. Transcript rows are not written: search keeps the timed
segments with its documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.db.models import User, Video, VideoStatus
from pipeline.db.videos import save_passages
from pipeline.embeddings import Embedder
from pipeline.passage_embedding import cut_passages
from pipeline.search.base import SearchDocument, SearchIndex
from pipeline.search.vectors import PassageVector, VectorIndex
from pipeline.text import TimedSegment

# A password hash no password matches: corpus owners sign in only after a reset.
UNUSABLE_PASSWORD = "!"


class CorpusError(ValueError):
    """A line of the corpus that is not a video (says which line and why)."""


@dataclass(frozen=True)
class LoadReport:
    videos: int
    passages: int


def read_corpus(path: Path) -> Iterator[SearchDocument]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield parse_video(line, number)


def parse_video(line: str, number: int = 1) -> SearchDocument:
    try:
        item = json.loads(line)
        created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
        segments = tuple(TimedSegment(float(s["start"]), float(s["end"]), str(s["text"])) for s in item["segments"])
        return SearchDocument(
            video_id=int(item["video_id"]),
            title=str(item["title"]),
            description=str(item.get("description") or ""),
            owner_id=None if item.get("owner_id") is None else int(item["owner_id"]),
            owner_name=item.get("owner_name"),
            transcript=" ".join(s.text for s in segments),
            summary=str(item.get("summary") or ""),
            status=VideoStatus.READY.value,
            language=item.get("language"),
            created_at=created,
            updated_at=created,
            duration_seconds=None if item.get("duration_seconds") is None else float(item["duration_seconds"]),
            segments=segments,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"line {number}: not a video ({type(exc).__name__}: {exc})") from exc


def video_line(document: SearchDocument) -> str:
    """The JSON line `parse_video` reads back as `document`."""
    return json.dumps(
        {
            "video_id": document.video_id,
            "title": document.title,
            "description": document.description,
            "owner_id": document.owner_id,
            "owner_name": document.owner_name,
            "created_at": document.created_at.isoformat(),
            "duration_seconds": document.duration_seconds,
            "language": document.language,
            "summary": document.summary,
            "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in document.segments],
        }
    )


# A load of at least this many videos refreshes PostgreSQL's planner statistics (~3 s at 100,000 videos); appending
# a few videos to a served archive leaves that to autovacuum.
ANALYZE_AFTER_VIDEOS = 1_000


def load_videos(
    documents: Iterable[SearchDocument],
    engine: Engine,
    index: SearchIndex,
    vectors: VectorIndex | None,
    embedder: Embedder,
    batch: int = 200,
) -> Iterator[LoadReport]:
    """Load and index `documents`, a batch at a time; yields the running totals after each batch."""
    videos = passages = 0
    pending: list[SearchDocument] = []
    for document in documents:
        pending.append(document)
        if len(pending) >= batch:
            passages += _load_batch(pending, engine, index, vectors, embedder)
            videos += len(pending)
            pending = []
            yield LoadReport(videos, passages)
    if pending:
        passages += _load_batch(pending, engine, index, vectors, embedder)
        videos += len(pending)
        yield LoadReport(videos, passages)
    if engine.dialect.name == "postgresql":
        # Rows came with their ids: the next video or user the API creates must get a new one.
        with engine.begin() as conn:
            for table in ("users", "videos"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(max(id), 1) FROM {table}))")
                )
        if videos >= ANALYZE_AFTER_VIDEOS:
            # Fresh planner statistics for a bulk load, as pg_restore's users are told to: without them (autovacuum
            # off, or not yet run) PostgreSQL planned a search's few-row lookups among 2.3 million passages as
            # parallel scans with JIT compilation, 650 ms a semantic search through the API instead of 16 ms.
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))


def _load_batch(
    documents: Sequence[SearchDocument], engine: Engine, index: SearchIndex, vectors: VectorIndex | None, embedder: Embedder
) -> int:
    cut = [cut_passages(d.title, d.summary, d.segments, d.duration_seconds, embedder.embed)[0] for d in documents]
    embedded = embedder.embed([p.text for passages in cut for p in passages])
    offsets = np.cumsum([0, *(len(passages) for passages in cut)])
    with Session(engine) as session, session.begin():
        _upsert(
            session,
            User,
            [
                {
                    "id": d.owner_id,
                    "email": f"owner{d.owner_id}@corpus.invalid",
                    "full_name": d.owner_name,
                    "hashed_password": UNUSABLE_PASSWORD,
                }
                for d in {d.owner_id: d for d in documents if d.owner_id is not None}.values()
            ],
            update=False,
        )
        _upsert(
            session,
            Video,
            [
                {
                    "id": d.video_id,
                    "owner_id": d.owner_id,
                    "title": d.title,
                    "description": d.description,
                    "status": VideoStatus.READY.value,
                    "duration_seconds": d.duration_seconds,
                    "created_at": d.created_at,
                }
                for d in documents
            ],
            update=True,
        )
        save_passages(
            session,
            embedder.model_id,
            {
                d.video_id: (passages, embedded[offsets[n] : offsets[n + 1]])
                for n, (d, passages) in enumerate(zip(documents, cut, strict=True))
            },
        )
    index.bulk_upsert(documents)
    if vectors is not None:
        vectors.bulk_upsert(
            embedder.model_id,
            {
                document.video_id: [
                    PassageVector(p.kind, p.start, p.end, p.text, vector)
                    for p, vector in zip(passages, embedded[offsets[n] : offsets[n + 1]], strict=True)
                ]
                for n, (document, passages) in enumerate(zip(documents, cut, strict=True))
            },
        )
    return len(embedded)


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], *, update: bool) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model)
    statement = (
        statement.on_conflict_do_update(
            index_elements=["id"], set_={name: statement.excluded[name] for name in rows[0] if name != "id"}
        )
        if update
        else statement.on_conflict_do_nothing(index_elements=["id"])
    )
    session.execute(statement, rows)
