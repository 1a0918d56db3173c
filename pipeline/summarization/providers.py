"""Summary providers: the offline extractive default and any OpenAI-compatible chat API.

A provider summarizes one transcript chunk (map) and combines summaries (reduce); the
last combine is `final=True` and yields the user-facing 4-6 sentence summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from pipeline import languages
from pipeline.settings import OpenAISettings, SummarizationSettings
from pipeline.summarization.quality import MAX_SUMMARY_SENTENCES, NEAR_DUPLICATE_JACCARD, jaccard
from pipeline.summarization.text import content_words, split_sentences


class SummarizerConfigError(ValueError):
    """The summarizer settings cannot work (missing key, unknown prompt version...)."""


class SummarizerError(RuntimeError):
    """The summarizer answered, but with nothing usable."""


@runtime_checkable
class SummaryProvider(Protocol):
    def summarize_chunk(self, text: str) -> str: ...

    def combine(self, summaries: Sequence[str], *, final: bool) -> str: ...

    def model_info(self) -> dict: ...


# ---------------------------------------------------------------- extractive (offline)


def textrank_scores(
    sentences: Sequence[str], *, damping: float = 0.85, max_iterations: int = 100, language: str | None = None
) -> list[float]:
    """TextRank (Mihalcea & Tarau, 2004): PageRank over a sentence-similarity graph.

    Edge weight = shared content words / (log(|a| + 1) + log(|b| + 1)); the +1 keeps
    one-word sentences from dividing by zero. The graph is kept sparse because a
    chunk holds hundreds of sentences and most pairs share nothing.
    """
    if not sentences:
        return []
    words = [set(content_words(sentence, language)) for sentence in sentences]
    count = len(sentences)
    edges: list[dict[int, float]] = [{} for _ in range(count)]
    for i in range(count):
        for j in range(i + 1, count):
            shared = len(words[i] & words[j])
            if shared:
                weight = shared / (math.log(len(words[i]) + 1) + math.log(len(words[j]) + 1))
                edges[i][j] = edges[j][i] = weight
    out_weight = [sum(neighbours.values()) for neighbours in edges]
    scores = [1.0 / count] * count
    for _ in range(max_iterations):
        updated = [
            (1 - damping) / count + damping * sum(weight * scores[j] / out_weight[j] for j, weight in edges[i].items())
            for i in range(count)
        ]
        converged = max(abs(a - b) for a, b in zip(updated, scores, strict=True)) < 1e-6
        scores = updated
        if converged:
            break
    return scores


def select_sentences(sentences: Sequence[str], limit: int, language: str | None = None) -> list[str]:
    """The `limit` best TextRank sentences, skipping near-duplicates, in original order.

    Near-duplicates come back only when too few distinct sentences exist, so the
    requested count is kept whenever the input has that many sentences.
    """
    scores = textrank_scores(sentences, language=language)
    words = [set(content_words(sentence, language)) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    near_duplicates: list[int] = []
    for i in ranked:
        if len(chosen) == limit:
            break
        if any(jaccard(words[i], words[c]) >= NEAR_DUPLICATE_JACCARD for c in chosen):
            near_duplicates.append(i)
        else:
            chosen.append(i)
    chosen += near_duplicates[: limit - len(chosen)]
    return [sentences[i] for i in sorted(chosen)]


class ExtractiveSummarizer:
    """Offline summarizer: keeps the most central sentences, in their original order (so a summary is in the
    transcript's language), judged by the content words of `language`."""

    def __init__(self, *, chunk_sentences: int = 8, final_sentences: int = 5, language: str | None = None) -> None:
        if not 4 <= final_sentences <= MAX_SUMMARY_SENTENCES:
            raise SummarizerConfigError(f"final_sentences must be 4-{MAX_SUMMARY_SENTENCES}, got {final_sentences}")
        self.chunk_sentences = chunk_sentences
        self.final_sentences = final_sentences
        self.language = language

    def summarize_chunk(self, text: str) -> str:
        return " ".join(select_sentences(split_sentences(text), self.chunk_sentences, self.language))

    def combine(self, summaries: Sequence[str], *, final: bool) -> str:
        sentences = [sentence for summary in summaries for sentence in split_sentences(summary)]
        limit = self.final_sentences if final else self.chunk_sentences
        return " ".join(select_sentences(sentences, limit, self.language))

    def model_info(self) -> dict:
        return {
            "provider": "extractive",
            "model": "extractive-textrank",
            "chunk_sentences": self.chunk_sentences,
            "final_sentences": self.final_sentences,
        }


# ---------------------------------------------------------------- OpenAI-compatible chat API

# Versioned so a prompt change is a new version (and a new code_version for the assets).
# The instruction goes in the system message, the material alone in the user message.
PROMPTS: dict[str, dict[str, str]] = {
    "v1": {
        "chunk": (
            "You summarize one part of a video transcript. Write 3 to 5 plain sentences that cover "
            "its main points in the order they occur. Use only information from the transcript. "
            "No preamble, lists or headings."
        ),
        "combine": (
            "You merge summaries of consecutive parts of one video into a single summary of at most "
            "8 plain sentences, keeping the order of events. Use only information in the summaries. "
            "No preamble, lists or headings."
        ),
        "final": (
            "You write the final summary of a whole video from summaries of its consecutive parts. "
            "Write 4 to 6 plain sentences of prose that cover the main points in order. Use only "
            "information in the summaries. No preamble, lists or headings."
        ),
    },
}


def prompts_for(version: str) -> dict[str, str]:
    try:
        return PROMPTS[version]
    except KeyError:
        known = ", ".join(sorted(PROMPTS))
        raise SummarizerConfigError(f"unknown SUMMARY_PROMPT_VERSION {version!r}; known versions: {known}") from None


class OpenAIChatSummarizer:
    """Summarizes with any OpenAI-compatible chat completions API (OpenAI, vLLM, Ollama...).

    Retries are the openai client's own: exponential backoff with jitter on connection
    errors, timeouts, 408/409/429 and 5xx, honouring `retry-after(-ms)` headers.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        prompt_version: str = "v1",
        timeout: float = 60.0,
        max_retries: int = 5,
        language: str | None = None,
    ) -> None:
        if not api_key:
            raise SummarizerConfigError(
                "SUMMARIZER_PROVIDER=openai needs OPENAI_API_KEY (servers that ignore keys, "
                "such as vLLM or Ollama, accept any non-empty value)"
            )
        self.model = model
        self.prompt_version = prompt_version
        self.prompts = prompts_for(prompt_version)
        self.language = language
        from openai import OpenAI  # imported here: the offline default never pays for it

        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def summarize_chunk(self, text: str) -> str:
        return self._complete(self.prompts["chunk"], text)

    def combine(self, summaries: Sequence[str], *, final: bool) -> str:
        material = "\n\n".join(summaries)
        if not final:
            return self._complete(self.prompts["combine"], material)
        # Models overshoot sentence limits; trimming is honest. Too few sentences is
        # left as is and shows in the quality score.
        sentences = split_sentences(self._complete(self.prompts["final"], material))
        return " ".join(sentences[:MAX_SUMMARY_SENTENCES])

    def model_info(self) -> dict:
        return {
            "provider": "openai",
            "model": self.model,
            "prompt_version": self.prompt_version,
            "base_url": str(self._client.base_url),
        }

    def close(self) -> None:
        self._client.close()

    def complete(self, instruction: str, material: str) -> str:
        """One chat completion with this model (used for chapter titles)."""
        return self._complete(instruction, material)

    def stream(self, instruction: str, material: str) -> Iterator[str]:
        """One chat completion, piece by piece as the model writes it (server-sent events; used to answer
        questions while the answer is written)."""
        chunks = self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": instruction}, {"role": "user", "content": material}],
            temperature=0,
            stream=True,
        )
        with chunks:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def _complete(self, instruction: str, material: str) -> str:
        if self.language:  # the video's language, whatever the instruction's
            instruction += f" Write in {languages.describe(self.language)}, the language of the video."
        response = self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": instruction}, {"role": "user", "content": material}],
            temperature=0,  # summaries should be reproducible across reruns
        )
        choice = response.choices[0]
        content = (choice.message.content or "").strip()
        if not content:
            raise SummarizerError(f"model {self.model!r} returned no text (finish_reason={choice.finish_reason!r})")
        return content


def build_provider(
    *,
    provider: str,
    model: str,
    api_key: str = "",
    base_url: str | None = None,
    prompt_version: str = "v1",
    timeout_seconds: float = 60.0,
    max_retries: int = 5,
    language: str | None = None,
) -> SummaryProvider:
    """The configured provider: "extractive" (offline) or "openai" (any compatible chat API); its summaries in
    `language` (the transcript's)."""
    if provider == "extractive":
        return ExtractiveSummarizer(language=language)
    if provider == "openai":
        return OpenAIChatSummarizer(
            model=model,
            api_key=api_key,
            base_url=base_url,
            prompt_version=prompt_version,
            timeout=timeout_seconds,
            max_retries=max_retries,
            language=language,
        )
    raise SummarizerConfigError(f"unknown SUMMARIZER_PROVIDER {provider!r}; use 'extractive' or 'openai'")


def summarizer_from_settings(settings: SummarizationSettings, openai: OpenAISettings) -> SummaryProvider:
    return build_provider(
        provider=settings.provider,
        model=settings.model,
        api_key=openai.api_key.get_secret_value(),
        base_url=openai.base_url,
        prompt_version=settings.prompt_version,
        timeout_seconds=openai.timeout_seconds,
        max_retries=openai.max_retries,
    )


def summarizer_version(provider: str, model: str, prompt_version: str, chunk_tokens: int) -> str:
    """Identity of the summarizer: what its output depends on (drives the summary assets' code_version)."""
    model = "extractive-textrank" if provider == "extractive" else model
    return f"{provider}:{model}:prompt-{prompt_version}:chunk{chunk_tokens}"
