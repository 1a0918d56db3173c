"""Text embeddings: the offline WordLlama default and any OpenAI-compatible `/v1/embeddings` API.

Every embedder returns L2-normalized float32 rows, so a dot product is the cosine
similarity whatever the provider. `model_id` names the model (and its dimensions):
it goes into the code_version of the assets built from embeddings.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pipeline.settings import EmbeddingSettings, OpenAISettings

# The OpenAI API takes at most 2048 inputs per request; smaller batches keep requests modest.
_OPENAI_BATCH = 256
# Texts pooled together: bounds the token rows gathered at once (~100 tokens a passage, 1 KiB a row).
_POOL_BATCH = 256
# Distinct words whose token ids are remembered; past this the memory starts over (speech repeats its words).
_WORD_CACHE_MAX = 200_000
# SentencePiece's word marker: a Llama tokenizer turns every space into it.
_MARK = "\u2581"


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


class RecentVectors:
    """Vectors of the most recent `size` search texts, by model: many people search the same words, and a
    remote model costs a round trip per text. The vectors are read-only: every caller shares them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, embedder: Embedder, text: str) -> np.ndarray:
        key = (embedder.model_id, text)
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
                return vector
        vector = embedder.embed([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._vectors[key] = vector
            if len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


_recent_queries = RecentVectors(1024)


def query_vector(embedder: Embedder, text: str) -> np.ndarray:
    """`embedder`'s vector of one search text (read-only), kept among the process's recent ones."""
    return _recent_queries.of(embedder, text)


@lru_cache(maxsize=4)
def _load_wordllama(config: str, trunc_dim: int | None) -> Any:
    import wordllama
    from wordllama import WordLlama

    # The weights and tokenizer ship inside the wheel; its own lookup would try a model hub.
    return WordLlama.load(config=config, cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=trunc_dim)


class WordTokens:
    """Token ids of texts, tokenized word by word and remembered per word.

    Only for a tokenizer that marks each space (a Llama SentencePiece one: spaces become
    `_MARK`, one more before the text, no pre-tokenizer) and has no token with a mark
    inside a word: its tokens never span two words, so a text of words joined by single
    spaces is its words' tokens in order, and each word is tokenized once per process
    instead of once per text it is in (chapter windows overlap, passages repeat
    sentences). A text with other spacing (leading, trailing or double spaces) is
    tokenized whole.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._words: dict[str, list[int]] = {}

    @classmethod
    def of(cls, tokenizer: Any) -> WordTokens | None:
        """Word-by-word tokens for `tokenizer`, or None where its tokens could span words."""
        from tokenizers import Tokenizer

        config = json.loads(tokenizer.to_str())
        marks_spaces = config.get("normalizer") == {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": _MARK},
                {"type": "Replace", "pattern": {"String": " "}, "content": _MARK},
            ],
        }
        inner_marks = any(_MARK in token[1:] and token.strip(_MARK) for token in tokenizer.get_vocab())
        if not marks_spaces or config.get("pre_tokenizer") is not None or inner_marks:
            return None
        own = Tokenizer.from_str(tokenizer.to_str())  # unpadded, without changing the model's own
        own.no_padding()
        own.no_truncation()
        return cls(own)

    @staticmethod
    def joinable(text: str) -> bool:
        """Whether joined to other texts by single spaces, `text` keeps its own tokens (its words are
        whole, and it neither starts nor ends with a space)."""
        return "" not in text.split(" ")

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        split = [text.split(" ") for text in texts]
        known = self._words
        new = [word for word in set(chain.from_iterable(split)) if word not in known]
        if len(known) + len(new) > _WORD_CACHE_MAX:
            known = self._words = {}  # a new dict: a thread still reading the old one keeps it whole
            new = list(set(chain.from_iterable(split)))
        known.update(zip(new, self._encode(new), strict=True))
        ids = [list(chain.from_iterable(map(known.__getitem__, words))) for words in split]
        whole = [i for i, words in enumerate(split) if "" in words]
        for i, text_ids in zip(whole, self._encode([texts[i] for i in whole]), strict=True):
            ids[i] = text_ids
        return ids

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)] if texts else []


class WordLlamaEmbedder:
    """Offline static embeddings (WordLlama, 256 dimensions, numpy only); loaded once per process.

    A text's vector is the mean of its tokens' vectors, computed as WordLlama computes
    it (float32 sums in token order, the same bits) from tokens found word by word
    (`WordTokens`) where the tokenizer allows.
    """

    def __init__(self, model: str = "l2_supercat", dimensions: int | None = None) -> None:
        try:
            self._model = _load_wordllama(model, dimensions)
        except Exception as exc:  # its loader raises several types for a missing or unknown model
            raise EmbeddingConfigError(f"cannot load WordLlama model {model!r} offline: {exc}") from exc
        self.dimensions = int(dimensions or self._model.embedding.shape[1])
        self.model_id = f"wordllama:{model}:{self.dimensions}"
        self._tokens = None if self._model.binary else _word_tokens(model, dimensions)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self._tokens is None:
            return normalize(self._model.embed(list(texts), norm=True))
        texts = list(texts)
        return np.concatenate(
            [self._mean(*self._token_sums(texts[i : i + _POOL_BATCH])) for i in range(0, len(texts), _POOL_BATCH)]
        )

    def embed_joined(self, texts: Sequence[str], groups: Sequence[Sequence[int]]) -> np.ndarray:
        """What `embed` gives for each group of `texts` (increasing indexes) joined by single spaces.

        Each text is tokenized and its tokens' vectors summed once, however many groups
        it is in (overlapping windows over a transcript's segments); a group's sum is
        its texts' sums added in float64, so it may differ from WordLlama's float32
        running sum in the last bit.
        """
        if not groups:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self._tokens is None:
            return self.embed([" ".join(texts[i] for i in group) for group in groups])
        texts = list(texts)
        sums, counts = self._token_sums(texts)
        # Running totals over the texts in float64: a run of texts is the difference of two.
        totals, total_counts = np.zeros((len(texts) + 1, sums.shape[1])), np.zeros(len(texts) + 1)
        totals[1:] = np.cumsum(sums, axis=0, dtype=np.float64)
        total_counts[1:] = np.cumsum(counts)
        firsts = np.array([group[0] for group in groups])
        ends = np.array([group[-1] for group in groups]) + 1
        runs = ends - firsts == np.array([len(group) for group in groups])  # increasing: a run fills its span
        group_sums, group_counts = totals[ends] - totals[firsts], total_counts[ends] - total_counts[firsts]
        for k in np.flatnonzero(~runs).tolist():
            members = list(groups[k])
            group_sums[k], group_counts[k] = sums[members].sum(axis=0, dtype=np.float64), counts[members].sum()
        vectors = self._mean(group_sums.astype(np.float32), group_counts)
        # Texts that change their tokens when joined (spaces at their ends, or none) are embedded joined.
        unjoinable = {i for i, text in enumerate(texts) if not WordTokens.joinable(text)}
        split = [k for k, group in enumerate(groups) if len(group) > 1 and unjoinable.intersection(group)] if unjoinable else []
        if split:
            vectors[split] = self.embed([" ".join(texts[i] for i in groups[k]) for k in split])
        return vectors

    def _token_sums(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's token vectors summed in order in float32 (WordLlama's sum, bit for bit), and their counts."""
        assert self._tokens is not None
        table = self._model.embedding
        ids = self._tokens.ids(texts)
        counts = np.array([len(i) for i in ids])
        ends = np.cumsum(counts)
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(ends[-1]) if len(ends) else 0)
        rows = table[np.clip(flat, 0, len(table) - 1)]
        sums = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for k, (start, end) in enumerate(zip((ends - counts).tolist(), ends.tolist(), strict=True)):
            if end > start:
                sums[k] = rows[start:end].sum(axis=0)
        return sums, counts.astype(np.float64)

    @staticmethod
    def _mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """WordLlama's pooling from the sums: over the token count, then L2-normalized."""
        pooled = sums / np.maximum(counts, 1.0).astype(np.float32)[:, None]
        with np.errstate(invalid="ignore"):  # an empty text: 0 / 0, NaN as WordLlama gives it
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return normalize(pooled)


def embed_joined(embed: Callable[[list[str]], np.ndarray], texts: Sequence[str], groups: Sequence[Sequence[int]]) -> np.ndarray:
    """`embed` of each group of `texts` (indexes, in order) joined by single spaces: by the embedder's own
    `embed_joined` when `embed` is a WordLlama embedder's (the same vectors, without tokenizing each
    text once per group it is in)."""
    embedder = getattr(embed, "__self__", None)
    if isinstance(embedder, WordLlamaEmbedder):
        return embedder.embed_joined(texts, groups)
    return embed([" ".join(texts[i] for i in group) for group in groups])


@lru_cache(maxsize=4)
def _word_tokens(config: str, trunc_dim: int | None) -> WordTokens | None:
    return WordTokens.of(_load_wordllama(config, trunc_dim).tokenizer)


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
