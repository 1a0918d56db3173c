"""Text embeddings: the offline WordLlama default and any OpenAI-compatible `/v1/embeddings` API.

Every embedder returns L2-normalized float32 rows, so a dot product is the cosine
similarity whatever the provider. `model_id` names the model (and its dimensions):
it goes into the code_version of the assets built from embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pipeline.settings import EmbeddingSettings, OpenAISettings

# The OpenAI API takes at most 2048 inputs per request; smaller batches keep requests modest.
_OPENAI_BATCH = 256


class EmbeddingConfigError(ValueError):
    """The embedding settings cannot work (unknown provider, missing key...)."""


class EmbeddingError(RuntimeError):
    """The embedding service answered with something unusable."""


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized float32 row per text (shape (len(texts), dimensions))."""
        ...


def normalize(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


@lru_cache(maxsize=4)
def _load_wordllama(config: str, trunc_dim: int | None) -> Any:
    import wordllama
    from wordllama import WordLlama

    # The weights and tokenizer ship inside the wheel; its own lookup would try a model hub.
    return WordLlama.load(config=config, cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=trunc_dim)


class WordLlamaEmbedder:
    """Offline static embeddings (WordLlama, 256 dimensions, numpy only); loaded once per process."""

    def __init__(self, model: str = "l2_supercat", dimensions: int | None = None) -> None:
        try:
            self._model = _load_wordllama(model, dimensions)
        except Exception as exc:  # its loader raises several types for a missing or unknown model
            raise EmbeddingConfigError(f"cannot load WordLlama model {model!r} offline: {exc}") from exc
        self.dimensions = int(dimensions or self._model.embedding.shape[1])
        self.model_id = f"wordllama:{model}:{self.dimensions}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return normalize(self._model.embed(list(texts), norm=True))


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp server...).

    Retries are the openai client's: exponential backoff on connection errors,
    timeouts, 408/409/429 and 5xx, honouring `retry-after(-ms)`.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        dimensions: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 5,
    ) -> None:
        if not api_key:
            raise EmbeddingConfigError(
                "EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (servers that ignore keys accept any non-empty value)"
            )
        from openai import OpenAI  # imported here: the offline default never pays for it

        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self.model = model
        self._requested_dimensions = dimensions
        self.dimensions = dimensions or 0  # learned from the first answer when not configured
        self.model_id = f"openai:{model}" + (f":{dimensions}" if dimensions else "")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), _OPENAI_BATCH):
            batch = [text or " " for text in texts[start : start + _OPENAI_BATCH]]  # empty input is refused
            from openai import omit

            dimensions = self._requested_dimensions or omit
            response = self._client.embeddings.create(model=self.model, input=batch, dimensions=dimensions)
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise EmbeddingError(f"model {self.model!r} returned {len(data)} embeddings for {len(batch)} inputs")
            rows.extend(item.embedding for item in data)
        if not rows:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        matrix = normalize(np.asarray(rows, dtype=np.float32))
        self.dimensions = matrix.shape[1]
        return matrix

    def close(self) -> None:
        self._client.close()


def build_embedder(
    *,
    provider: str,
    model: str,
    dimensions: int | None = None,
    base_url: str | None = None,
    api_key: str = "",
    timeout_seconds: float = 60.0,
    max_retries: int = 5,
) -> Embedder:
    if provider == "wordllama":
        return WordLlamaEmbedder(model or "l2_supercat", dimensions)
    if provider == "openai":
        return OpenAIEmbedder(
            model=model or "text-embedding-3-small",
            api_key=api_key,
            base_url=base_url,
            dimensions=dimensions,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )
    raise EmbeddingConfigError(f"unknown EMBEDDING_PROVIDER {provider!r}; use 'wordllama' or 'openai'")


def embedder_version(provider: str, model: str, dimensions: int | None = None) -> str:
    """Identity of the embedding model: drives passage_embeddings' (and its dependents') code_version."""
    return f"{provider}:{model}" + (f":{dimensions}" if dimensions else "")


def embedder_from_settings(settings: EmbeddingSettings, openai: OpenAISettings) -> Embedder:
    return build_embedder(
        provider=settings.provider,
        model=settings.model_name(),
        dimensions=settings.dimensions,
        base_url=settings.api_base_url(openai),
        api_key=openai.api_key.get_secret_value(),
        timeout_seconds=openai.timeout_seconds,
        max_retries=openai.max_retries,
    )
