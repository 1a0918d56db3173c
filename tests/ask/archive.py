"""A small archive with facts said at known seconds, loaded as the pipeline indexes videos (`load_corpus`'s
functions: passages cut and embedded by WordLlama, the text index, passage vectors)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, update

from pipeline.ask import Asker, EvidenceFinder
from pipeline.corpus import load_videos
from pipeline.db.models import Video, VideoStatus
from pipeline.db.session import make_engine, migrate
from pipeline.embeddings import Embedder, WordLlamaEmbedder
from pipeline.search.base import SearchDocument, SearchIndex
from pipeline.search.factory import search_index_for
from pipeline.search.hybrid import HybridSearch
from pipeline.search.moments import MomentFinder
from pipeline.search.vectors import SqlVectorIndex, VectorIndex
from pipeline.settings import Settings
from pipeline.text import TimedSegment

FILLER = (
    "Thanks for joining us again on the channel today.",
    "We have a lot of ground to cover, so let us get going.",
    "The weather has been kind to us this week.",
    "Remember to check the notes below the video for the links.",
    "A quick word about our next episode before we move on.",
    "That is all the time we have for this part of the show.",
)
SECONDS_PER_SEGMENT = 6.0


@dataclass(frozen=True)
class Said:
    video_id: int
    sentence: str
    start: float
    end: float


def talk(video_id: int, title: str, facts: tuple[str, ...], owner_id: int = 1) -> tuple[SearchDocument, list[Said]]:
    """A video whose speech is filler with each of `facts` said as one segment, spread through it."""
    lines = list(FILLER)
    for i, fact in enumerate(facts):
        lines.insert(2 + 3 * i, fact)
    segments = tuple(
        TimedSegment(i * SECONDS_PER_SEGMENT, i * SECONDS_PER_SEGMENT + SECONDS_PER_SEGMENT - 0.5, line)
        for i, line in enumerate(lines)
    )
    created = datetime(2026, 3, 1, tzinfo=UTC)
    document = SearchDocument(
        video_id=video_id,
        title=title,
        description="",
        owner_id=owner_id,
        owner_name=f"owner{owner_id}",
        transcript=" ".join(lines),
        summary=lines[0],
        status=VideoStatus.READY.value,
        language="en",
        created_at=created,
        updated_at=created,
        duration_seconds=segments[-1].end,
        segments=segments,
    )
    said = [Said(video_id, s.text, s.start, s.end) for s in segments if s.text in facts]
    return document, said


def load(
    documents: list[SearchDocument],
    engine: Engine,
    index: SearchIndex,
    vectors: VectorIndex | None,
    embedder: Embedder,
    processing: tuple[int, ...] = (),
) -> None:
    """Index the documents as ready videos; those in `processing` are then moved back to transcribing (as a
    video being processed again is), in the app database and in the search index."""
    for _ in load_videos(documents, engine, index, vectors, embedder):
        pass
    for document in documents:
        if document.video_id in processing:
            with engine.begin() as conn:
                conn.execute(update(Video).where(Video.id == document.video_id).values(status=VideoStatus.TRANSCRIBING.value))
            index.upsert(replace(document, status=VideoStatus.TRANSCRIBING.value))


@dataclass
class Archive:
    asker: Asker
    said: dict[str, Said]  # each fact, where it is said
    embedder: WordLlamaEmbedder


def loaded_archive(directory: Path, videos: list[tuple[SearchDocument, list[Said]]], processing: tuple[int, ...] = ()) -> Archive:
    """The videos loaded into a new SQLite app database under `directory` (its own text index and passage
    vectors), asked as the API asks by default (the embedded answerer at the shipped `ASK_MIN_SCORE`)."""
    directory.mkdir()
    url = f"sqlite:///{directory / 'app.db'}"
    migrate(url)
    engine = make_engine(url)
    index = search_index_for("database", engine)
    vectors = SqlVectorIndex(engine)
    embedder = WordLlamaEmbedder()
    load([document for document, _ in videos], engine, index, vectors, embedder, processing=processing)
    search = HybridSearch(index, vectors, lambda: embedder, moments=MomentFinder(engine))
    said = {s.sentence: s for _, facts in videos for s in facts}
    return Archive(Asker(EvidenceFinder(search, engine, lambda: embedder), Settings().ask.min_score), said, embedder)
