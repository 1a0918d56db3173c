"""The search_scale benchmark's corpus has the shape it promises, and a tiny run of the whole benchmark completes.

A tiny run cannot say whether the goals are met (that takes 100,000 videos), but
it drives every step: the corpus through `load_corpus`, text search against an
exhaustive ranking, k-NN against an exact scan, the real API at 1 and several
clients, and videos appended while the API serves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.search_scale import __main__ as search_scale
from benchmarks.search_scale.corpus import (
    EPOCH,
    KINDS,
    SPAN_DAYS,
    Vocabulary,
    document_frequencies,
    documents,
    query_mix,
)
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.passage_embedding import cut_passages
from pipeline.search.base import SearchDocument


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture(scope="module")
def vocab(embedder: WordLlamaEmbedder) -> Vocabulary:
    return Vocabulary.build(embedder)


@pytest.fixture(scope="module")
def sample(vocab: Vocabulary) -> list[SearchDocument]:
    return list(documents(120, vocab))


def test_the_corpus_is_real_speech_shaped_and_reproducible(
    vocab: Vocabulary, sample: list[SearchDocument], embedder: WordLlamaEmbedder
) -> None:
    assert sample[:20] == list(documents(20, vocab))  # same seed, same videos
    assert sample[5] != next(documents(1, vocab, seed=13, first=6))
    for video in sample:
        words = len(video.transcript.split())
        assert 1_200 <= words <= 1_800 and 90 <= len(video.segments) <= 110
        assert 7 * 60 <= video.duration_seconds <= 13 * 60  # type: ignore[operator]  # ~10 minutes
        assert EPOCH <= video.created_at <= EPOCH.replace(year=EPOCH.year + SPAN_DAYS // 365)
    shares = document_frequencies(sample)
    frequent = [w for w, share in shares.items() if share >= 0.4]
    assert len(frequent) >= 40 and {"people", "time"} <= set(frequent)  # real English: the top words are real
    owners = [video.owner_id for video in sample]
    assert len(set(owners)) > 60 and max(map(owners.count, owners)) >= 3  # a long tail and some prolific owners
    passages = [len(cut_passages(v.title, v.summary, v.segments, v.duration_seconds, embedder.embed)[0]) for v in sample[:10]]
    assert 15 <= sum(passages) / len(passages) <= 30  # ~20 passages a video, as load_corpus cuts them


def test_the_query_mix_includes_frequent_words_and_filters(vocab: Vocabulary, sample: list[SearchDocument]) -> None:
    shares = document_frequencies(sample)
    mix = query_mix(60, vocab, shares)
    assert {bench.kind for bench in mix} == set(KINDS)
    assert all(shares[b.query.text] >= 0.4 for b in mix if b.kind.startswith("frequent"))
    assert any(b.query.owner_id is not None for b in mix) and any(b.query.created_from is not None for b in mix)


def test_a_tiny_run_drives_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        search_scale.main(
            [
                "--videos",
                "40",
                "--append-seconds",
                "3",
                "--queries",
                "30",
                "--seconds",
                "2",
                "--fresh-wait",
                "10",
                "--knn-queries",
                "10",
                "--order-sample",
                "10",
                "--dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"text page 1 = exhaustive ranking \(up to ties\): 10 of 10 queries", out), out
    assert re.search(r"passage recall@10 of the vector index against an exact scan: 1\.000; 1\.000 counting", out), out
    assert re.search(r"empty although matches exist: 0 of [1-9]\d*; recall@10 against an exact filtered scan 1\.000", out), out
    assert re.search(r"freshness by text\s*: .*; 0 of 3 not found", out), out
    assert re.search(r"freshness by meaning\s*: .*; 0 of 3 not found", out), out
    assert re.search(r"API hybrid  , 2 clients", out) is None and "API hybrid  , 32 clients" in out
    assert out.count(" met") + out.count("NOT MET") >= 11  # a verdict per goal
    assert list(tmp_path.iterdir()) == []  # the corpus, databases and index are removed
