"""The embedding providers: offline WordLlama, and an OpenAI-compatible /v1/embeddings API over HTTP."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from orchestration.definitions import build_resources
from pipeline.embeddings import (
    EmbeddingConfigError,
    OpenAIEmbedder,
    RecentVectors,
    WordLlamaEmbedder,
    build_embedder,
    embedder_from_settings,
)
from resources.embedder import EmbeddingResource
from tests.fixtures.llm import EMBEDDING_DIMENSIONS


def test_wordllama_embeds_offline_normalized_and_ranks_a_paraphrase_first():
    embedder = WordLlamaEmbedder()
    documents = [
        "The whales migrate south every winter across the ocean.",
        "The volcano erupted and lava flowed toward the sea.",
        "Today we bake a chocolate cake for the party.",
    ]
    vectors = embedder.embed(documents)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for query, expected in [("marine mammals travelling", 0), ("molten rock from a mountain", 1), ("sweet dessert recipe", 2)]:
        scores = vectors @ embedder.embed([query])[0]
        assert int(np.argmax(scores)) == expected, (query, scores)
    assert embedder.model_id == "wordllama:l2_supercat:256"
    assert embedder.embed([]).shape == (0, 256)


def test_recent_vectors_embed_a_search_text_once_per_model_and_keep_only_the_newest():
    wordllama = WordLlamaEmbedder()
    calls: list[tuple[str, list[str]]] = []

    class Counting:
        """WordLlama under another model id, counting what it is asked to embed."""

        def __init__(self, model_id: str) -> None:
            self.model_id, self.dimensions = model_id, wordllama.dimensions

        def embed(self, texts):
            calls.append((self.model_id, list(texts)))
            return wordllama.embed(texts)

    a, b = Counting("model-a"), Counting("model-b")
    recent = RecentVectors(2)

    lava = recent.of(a, "lava")
    assert np.array_equal(lava, wordllama.embed(["lava"])[0])
    assert not lava.flags.writeable  # shared by every caller: none may change it
    assert recent.of(a, "lava") is lava
    recent.of(b, "lava")  # another model: a vector of its own
    recent.of(a, "whales")  # a third text: the least recently used one goes
    recent.of(a, "lava")
    assert calls == [("model-a", ["lava"]), ("model-b", ["lava"]), ("model-a", ["whales"]), ("model-a", ["lava"])]


def test_default_settings_give_the_offline_embedder(settings):
    embedder = embedder_from_settings(settings.embeddings, settings.openai)
    assert isinstance(embedder, WordLlamaEmbedder)
    assert build_resources(settings)["embedding"].model_version() == "wordllama:l2_supercat"


def test_unknown_provider_and_missing_key_are_configuration_errors():
    with pytest.raises(EmbeddingConfigError, match="EMBEDDING_PROVIDER"):
        build_embedder(provider="nope", model="x")
    with pytest.raises(EmbeddingConfigError, match="OPENAI_API_KEY"):
        build_embedder(provider="openai", model="x", api_key="")
    with pytest.raises(EmbeddingConfigError, match="offline"):
        WordLlamaEmbedder("no_such_model")


def test_openai_embedder_calls_the_endpoint_in_batches_and_retries_a_429(fake_openai):
    fake_openai.fail_next(429, 1, {"retry-after-ms": "10"})
    resource = EmbeddingResource(
        provider="openai", model="fake-embed", base_url=fake_openai.base_url, api_key=fake_openai.api_key, max_retries=2
    )
    embedder = resource.get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    texts = [f"passage number {i} about lava" for i in range(300)] + ["whales and oceans"]

    vectors = embedder.embed(texts)

    assert vectors.shape == (301, EMBEDDING_DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    calls = [r for r in fake_openai.requests if r.path == "/v1/embeddings"]
    # The 429 was answered first and retried; 301 texts go in two batches.
    assert len(calls) == 3
    assert calls[0].body == calls[1].body and len(calls[1].body["input"]) == 256
    assert calls[-1].body["model"] == "fake-embed" and len(calls[-1].body["input"]) == 45
    # Order is kept: the vectors come back for the right texts.
    assert float(vectors[0] @ vectors[1]) > 0.5 and float(vectors[0] @ vectors[-1]) < 0.3
    assert embedder.model_id == "openai:fake-embed"


def test_openai_embedder_gives_up_after_its_retries(fake_openai):
    import openai

    fake_openai.fail_next(429, 5, {"retry-after-ms": "1"})
    embedder = build_embedder(
        provider="openai", model="m", base_url=fake_openai.base_url, api_key=fake_openai.api_key, max_retries=1
    )
    with pytest.raises(openai.RateLimitError):
        embedder.embed(["anything"])
    assert len(fake_openai.requests) == 2


def test_the_resource_builds_the_embedder_when_a_step_first_embeds_and_keeps_it_for_the_run():
    """Not at the run's start (loading WordLlama would delay the first playable rung), and once per run."""
    seen: list[object] = []

    @dg.asset
    def needs_no_embedder(embedding: EmbeddingResource) -> None:
        seen.append(embedding._embedder)

    @dg.asset(deps=[needs_no_embedder])
    def embeds(embedding: EmbeddingResource) -> None:
        seen.append(embedding.get_embedder())

    @dg.asset(deps=[embeds])
    def embeds_again(embedding: EmbeddingResource) -> None:
        seen.append(embedding.get_embedder())

    assert dg.materialize([needs_no_embedder, embeds, embeds_again], resources={"embedding": EmbeddingResource()}).success
    assert seen[0] is None and isinstance(seen[1], WordLlamaEmbedder) and seen[2] is seen[1]
