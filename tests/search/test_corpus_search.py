"""A corpus loaded through `load_corpus`, searched by words and by meaning, with filters, appends and deletes.

The corpus is made here from topic sentence pools (real English, so the real
WordLlama embedder places paraphrases near them); owners and creation days
vary, so the owner and date filters select real subsets. Every semantic answer
is checked against an exact filtered scan over the stored passage vectors.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from sqlalchemy import Engine, select
from sqlalchemy import text as sql

from benchmarks.support import api_server
from orchestration.processes import free_port
from pipeline.corpus import load_videos, parse_video, video_line
from pipeline.db.models import VideoPassage
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.search import vectors as vectors_module
from pipeline.search.base import SearchDocument, SearchQuery
from pipeline.search.hybrid import HybridSearch
from pipeline.search.tables import search_documents
from pipeline.search.vectors import SqlVectorIndex
from pipeline.text import TimedSegment
from tests.search.embedded import embedded_search

TOPICS = {
    "volcano": [
        "The volcano erupted and lava flowed down the slope.",
        "Ash clouds rose above the crater.",
        "Geologists measured the gas coming out of the vents.",
        "Magma pushes up from deep underground.",
    ],
    "bread": [
        "Knead the dough for ten minutes.",
        "Let the loaf rise in a warm place.",
        "Bake the bread until the crust turns golden.",
        "Flour, water, salt and yeast are all you need.",
    ],
    "space": [
        "The rocket launched at dawn towards the space station.",
        "Astronauts float inside the capsule.",
        "The telescope photographed a distant galaxy.",
        "Mars has the tallest mountain in the solar system.",
    ],
    "football": [
        "The striker scored in the final minute.",
        "The goalkeeper saved a penalty kick.",
        "Fans sang in the stadium all night.",
        "The coach changed the team's formation at half time.",
    ],
    "garden": [
        "Compost turns kitchen scraps into soil.",
        "Water the tomatoes early in the morning.",
        "Prune the roses in late winter.",
        "Worms keep the garden beds healthy.",
    ],
}
PARAPHRASES = {
    "volcano": "molten rock pouring from a mountain",
    "bread": "making a homemade loaf",
    "space": "astronauts travelling to orbit",
    "football": "a goal in the last seconds of the match",
    "garden": "growing vegetables in the backyard",
}
T0 = datetime(2025, 1, 1, tzinfo=UTC)
VIDEOS = 60


def corpus_video(video_id: int) -> SearchDocument:
    """Video `video_id`: one topic's sentences, in an order and number of its own."""
    rng = np.random.default_rng(video_id)
    topic = sorted(TOPICS)[video_id % len(TOPICS)]
    sentences = [TOPICS[topic][i] for i in rng.integers(0, 4, 24)]
    segments = tuple(TimedSegment(round(6.0 * i, 3), round(6.0 * i + 5.0, 3), text) for i, text in enumerate(sentences))
    created = T0 + timedelta(days=int(rng.integers(0, 30)), seconds=int(rng.integers(0, 86_400)))
    owner = 1 + video_id % 3
    return SearchDocument(
        video_id=video_id,
        title=f"Notes {video_id}",
        description="",
        owner_id=owner,
        owner_name=f"owner{owner}",
        transcript=" ".join(sentences),
        summary=sentences[0],
        status="ready",
        language="en",
        created_at=created,
        updated_at=created,
        duration_seconds=segments[-1].end,
        segments=segments,
    )


@dataclass
class Loaded:
    engine: Engine
    search: HybridSearch
    vectors: SqlVectorIndex
    embedder: WordLlamaEmbedder
    url: str
    index_dir: Path


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture
def loaded(tmp_path: Path, embedder: WordLlamaEmbedder) -> Iterator[Loaded]:
    url, engine, index, vectors = embedded_search(tmp_path)
    lines = [video_line(corpus_video(i)) for i in range(1, VIDEOS + 1)]
    reports = list(load_videos((parse_video(line) for line in lines), engine, index, vectors, embedder, batch=25))
    assert [r.videos for r in reports] == [25, 50, 60]
    yield Loaded(engine, HybridSearch(index, vectors, lambda: embedder), vectors, embedder, url, tmp_path / "search")
    engine.dispose()


def exact_semantic(loaded: Loaded, text: str, query: SearchQuery, limit: int) -> tuple[list[int], dict[int, float]]:
    """Each video's best passage similarity, filtered as `query` says, best first (the exact answer), and
    every video's best similarity."""
    vector = loaded.embedder.embed([text])[0]
    with loaded.engine.connect() as conn:
        passages = conn.execute(select(VideoPassage.video_id, VideoPassage.vector)).all()
        documents = {row.video_id: row for row in conn.execute(select(search_documents))}
    best: dict[int, float] = {}
    for video_id, blob in passages:
        score = float(np.frombuffer(blob, dtype="<f4") @ vector)
        best[video_id] = max(best.get(video_id, -2.0), score)
    created = {v: d.created_at.replace(tzinfo=UTC) for v, d in documents.items()}
    passing = [
        v
        for v, score in best.items()
        if score >= 0.25
        and (query.owner_id is None or documents[v].owner_id == query.owner_id)
        and (query.created_from is None or created[v] >= query.created_from)
        and (query.created_to is None or created[v] <= query.created_to)
    ]
    return sorted(passing, key=lambda v: (-best[v], v))[:limit], best


FILTERS = [
    {},
    {"owner_id": 2},
    {"created_from": T0 + timedelta(days=5), "created_to": T0 + timedelta(days=12)},
    {"owner_id": 3, "created_from": T0 + timedelta(days=20)},
]


@pytest.mark.parametrize("ivf", [False, True], ids=["exact-scan", "ivf"])
def test_filtered_semantic_search_returns_what_an_exact_filtered_scan_returns(
    loaded: Loaded, ivf: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ivf:  # the same answers when the passages are searched through the IVF index
        monkeypatch.setattr(vectors_module, "EXACT_SCAN_MAX_ROWS", 0)
        monkeypatch.setattr(vectors_module, "FILTERED_EXACT_MAX_ROWS", 0)
        loaded.vectors.loaded_view(loaded.embedder.model_id, timeout=30)
    compared = 0
    for text in PARAPHRASES.values():
        for filters in FILTERS:
            query = SearchQuery(text=text, limit=5, **filters)  # type: ignore[arg-type]
            got = [hit.video_id for hit in loaded.search.search(query, mode="semantic").hits]
            expected, best = exact_semantic(loaded, text, query, 5)
            # Videos sharing a passage tie: equal up to the order of ties, rank by rank.
            assert [best[v] for v in got] == pytest.approx([best[v] for v in expected], abs=1e-5), (text, filters)
            assert set(got) - set(expected) <= {v for v in got if abs(best[v] - best[expected[-1]]) < 1e-5}
            compared += len(expected)
    assert compared > 50  # the filters leave real answers to compare


def test_a_paraphrase_finds_its_topic_and_text_search_finds_words(loaded: Loaded) -> None:
    for topic, paraphrase in PARAPHRASES.items():
        hits = loaded.search.search(SearchQuery(text=paraphrase, limit=5), mode="semantic").hits
        assert hits and all(hit.video_id % len(TOPICS) == sorted(TOPICS).index(topic) for hit in hits), topic
    page = loaded.search.search(SearchQuery(text="goalkeeper", limit=100), mode="text")
    assert page.total == len([i for i in range(1, VIDEOS + 1) if "goalkeeper" in corpus_video(i).transcript])
    assert all(match.text == "The goalkeeper saved a penalty kick." for hit in page.hits for match in hit.matches)


def test_a_deleted_video_disappears_from_both_sides(loaded: Loaded) -> None:
    query = SearchQuery(text="lava", limit=100)
    victim = loaded.search.search(query, mode="text").hits[0].video_id
    loaded.search.text_index.delete(victim)
    loaded.vectors.delete(victim)
    assert victim not in [h.video_id for h in loaded.search.search(query, mode="text").hits]
    semantic = SearchQuery(text=PARAPHRASES["volcano"], limit=100)
    assert victim not in [h.video_id for h in loaded.search.search(semantic, mode="semantic").hits]


def test_a_video_appended_while_the_api_serves_is_found_by_meaning_and_by_words_within_5_s(
    loaded: Loaded, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VIDEOAI_HOME": str(tmp_path / "home"),
        "DATABASE_URL": loaded.url,
        "SEARCH_INDEX_DIR": str(loaded.index_dir),
        "SEARCH_BACKEND": "tantivy",
        "JWT_SECRET": "corpus-test-" + "s" * 32,
        "LOG_FORMAT": "text",
    }
    newcomer = SearchDocument(
        video_id=VIDEOS + 1,
        title="Harbour diary",
        description="",
        owner_id=1,
        owner_name="owner1",
        transcript="The lighthouse keeper polished the lamp every evening before the ships came home.",
        summary="",
        status="ready",
        language="en",
        created_at=T0,
        updated_at=T0,
        duration_seconds=8.0,
        segments=(TimedSegment(0.0, 8.0, "The lighthouse keeper polished the lamp every evening before the ships came home."),),
    )
    corpus = tmp_path / "append.jsonl"
    corpus.write_text(video_line(newcomer) + "\n")
    with api_server(env, free_port(), tmp_path / "api.log") as api, httpx.Client(base_url=api.base) as client:

        def found(q: str, mode: str) -> bool:
            body = client.get("/api/v1/videos/search", params={"q": q, "mode": mode}).json()
            return newcomer.video_id in [hit["video_id"] for hit in body["hits"]]

        assert not found("lighthouse", "text")
        assert not found("keepers of lighthouses and their ships", "semantic")  # the API holds its vectors now
        subprocess.run(
            [sys.executable, "-m", "benchmarks", "load_corpus", str(corpus)],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        appended = time.monotonic()
        seen: dict[str, float] = {}
        while len(seen) < 2 and time.monotonic() - appended < 5.0:
            for mode, q in (("text", "lighthouse"), ("semantic", "keepers of lighthouses and their ships")):
                if mode not in seen and found(q, mode):
                    seen[mode] = time.monotonic() - appended
            time.sleep(0.05)
        assert set(seen) == {"text", "semantic"}, seen


def test_two_api_workers_answer_the_same(loaded: Loaded, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VIDEOAI_HOME": str(tmp_path / "home"),
        "DATABASE_URL": loaded.url,
        "SEARCH_INDEX_DIR": str(loaded.index_dir),
        "API_WORKERS": "2",
        "LOG_FORMAT": "text",
    }
    with api_server(env, free_port(), tmp_path / "api.log") as api:
        # uvicorn's supervisor spawns the workers (and multiprocessing's resource tracker).
        workers = [child for child in psutil.Process(api.pid).children() if "resource_tracker" not in " ".join(child.cmdline())]
        assert len(workers) == 2, [child.cmdline() for child in workers]
        # Each worker's native libraries start with one thread per pool (API_NATIVE_THREADS' default).
        assert all(
            worker.environ().get("OMP_NUM_THREADS") == "1" == worker.environ().get("OPENBLAS_NUM_THREADS") for worker in workers
        )
        answers = set()
        for _ in range(12):  # a new connection each time: the kernel spreads them over the workers
            for mode, q in (("text", "goalkeeper"), ("semantic", PARAPHRASES["bread"]), ("hybrid", "crater lava")):
                body = httpx.get(f"{api.base}/api/v1/videos/search", params={"q": q, "mode": mode}).json()
                answers.add((mode, tuple((hit["video_id"], round(hit["score"], 6)) for hit in body["hits"])))
        assert len(answers) == 3 and all(hits for _, hits in answers), answers
        assert all(worker.cpu_times().user > 0 for worker in workers)


def test_a_bulk_load_into_postgresql_leaves_planner_statistics_and_an_append_does_not_wait_for_them(
    make_migrated_database, tmp_path: Path, embedder: WordLlamaEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import corpus
    from pipeline.db.session import make_engine
    from pipeline.search.factory import search_index_for

    engine = make_engine(make_migrated_database("postgresql"))
    index, vectors = search_index_for("tantivy", engine, index_dir=tmp_path / "search"), SqlVectorIndex(engine)
    index.ensure()

    def analyzed() -> bool:
        with engine.connect() as conn:
            return conn.execute(
                sql("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'search_passages'")
            ).scalar_one()

    monkeypatch.setattr(corpus, "ANALYZE_AFTER_VIDEOS", 3)
    list(load_videos([corpus_video(1)], engine, index, vectors, embedder))  # an append: autovacuum's business
    assert not analyzed()
    list(load_videos([corpus_video(i) for i in range(2, 5)], engine, index, vectors, embedder))  # a bulk load
    assert analyzed()
    engine.dispose()
