"""The OpenAI-compatible summarizer against a real HTTP server speaking the wire format."""

from __future__ import annotations

import openai
import pytest

from pipeline.settings import Settings
from pipeline.summarization import (
    PROMPTS,
    ExtractiveSummarizer,
    OpenAIChatSummarizer,
    SummarizerConfigError,
    SummaryProvider,
    build_provider,
    chunk_segments,
    count_tokens,
    map_chunks,
    reduce_summaries,
    split_sentences,
    summarize_transcript,
    summarizer_from_settings,
)
from pipeline.text import TimedSegment

TOPICS = ["compost", "beehives", "tomatoes", "rainwater", "mulch", "seedlings",
          "pruning", "earthworms", "greenhouses", "herbs", "orchards", "irrigation"]  # fmt: skip
FAST_RETRY = {"retry-after-ms": "20"}  # the openai client honours it instead of its backoff


def twelve_segments() -> list[TimedSegment]:
    return [
        TimedSegment(
            start=10.0 * n,
            end=10.0 * n + 10.0,
            text=f"Part {n} is about {topic}. We explain why {topic} matter in a small garden. "
            f"Then we show one mistake people make with {topic}.",
        )
        for n, topic in enumerate(TOPICS)
    ]


def one_segment_per_chunk_budget(segments: list[TimedSegment]) -> int:
    """A budget that holds any one segment but no two."""
    return max(max(count_tokens(s.text), count_tokens(" " + s.text)) for s in segments)


def settings(**environment: str) -> Settings:
    return Settings(_env_file=None, **environment)


def summarizer_for(settings: Settings) -> SummaryProvider:
    return summarizer_from_settings(settings.summarization, settings.openai)


def openai_settings(fake_openai, **environment: str) -> Settings:
    """Settings for the OpenAI-compatible summarizer against the test's fake server."""
    return settings(
        SUMMARIZER_PROVIDER="openai", OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY=fake_openai.api_key, **environment
    )


@pytest.fixture
def summarizer(fake_openai):
    provider = OpenAIChatSummarizer(model="test-model", api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=3)
    yield provider
    provider.close()


def kind_of(request) -> str:
    return next(kind for kind, prompt in PROMPTS["v1"].items() if request.system == prompt)


def test_map_runs_in_concurrent_batches_of_five_and_reduce_recurses(fake_openai, summarizer):
    fake_openai.delay = 0.15  # hold requests so overlapping ones are seen in flight
    segments = twelve_segments()
    budget = one_segment_per_chunk_budget(segments)
    chunks = chunk_segments(segments, budget)
    assert len(chunks) == 12

    result = summarize_transcript(segments, summarizer, chunk_tokens=budget, batch_size=5)

    kinds = [kind_of(request) for request in fake_openai.requests]
    assert kinds == ["chunk"] * 12 + ["combine"] * 3 + ["final"]
    assert 1 < fake_openai.peak_concurrency <= 5
    # Batch after batch: the first five requests carry chunks 1-5, the next five 6-10.
    map_inputs = [request.user for request in fake_openai.requests[:12]]
    texts = [chunk.text for chunk in chunks]
    assert set(map_inputs[0:5]) == set(texts[0:5])
    assert set(map_inputs[5:10]) == set(texts[5:10])
    assert set(map_inputs[10:12]) == set(texts[10:12])
    # 12 chunk summaries -> 3 combined summaries (groups of 5, 5, 2) -> 1 final.
    assert result.reduce_rounds == 2
    assert sorted(len(split_sentences(r.user)) for r in fake_openai.requests[12:15]) == [4, 10, 10]
    # The fake echoes the first two sentences of what it is sent.
    for chunk, chunk_summary in zip(chunks, result.chunk_summaries, strict=True):
        assert chunk_summary.text == " ".join(split_sentences(chunk.text)[:2])
        assert (chunk_summary.position, chunk_summary.token_count) == (chunk.position, chunk.token_count)
        assert (chunk_summary.start, chunk_summary.end) == (chunk.start, chunk.end)
    assert result.sentences == split_sentences(fake_openai.requests[-1].user)[:2]
    assert result.model_info == {
        "provider": "openai",
        "model": "test-model",
        "prompt_version": "v1",
        "base_url": fake_openai.base_url + "/",
    }


def test_requests_use_the_chat_completions_wire_format(fake_openai, summarizer):
    summarizer.summarize_chunk("Compost needs air. Compost needs water. Keep meat out.")

    (request,) = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "test-model"
    assert request.body["temperature"] == 0
    assert request.body["messages"] == [
        {"role": "system", "content": PROMPTS["v1"]["chunk"]},
        {"role": "user", "content": "Compost needs air. Compost needs water. Keep meat out."},
    ]


def test_a_single_chunk_still_gets_a_final_combine(fake_openai, summarizer):
    fake_openai.echo_sentences = 5
    result = summarize_transcript(twelve_segments()[:2], summarizer)

    assert [kind_of(request) for request in fake_openai.requests] == ["chunk", "final"]
    assert result.reduce_rounds == 1
    assert len(result.sentences) == 5
    assert result.quality["shape"] == 1.0


def test_final_summary_is_trimmed_to_six_sentences(fake_openai, summarizer):
    fake_openai.echo_sentences = 9
    result = summarize_transcript(twelve_segments()[:4], summarizer)

    sent_to_final = split_sentences(fake_openai.requests[-1].user)
    assert len(sent_to_final) >= 9
    assert result.sentences == sent_to_final[:6]


def test_too_short_final_summary_is_kept_and_scored_lower(fake_openai, summarizer):
    fake_openai.responder = lambda body: "Gardens need care. Compost helps."
    result = summarize_transcript(twelve_segments(), summarizer)

    assert result.sentences == ["Gardens need care.", "Compost helps."]
    assert result.quality["shape"] == pytest.approx(0.5)


def test_a_rate_limited_request_is_retried_by_the_client(fake_openai, summarizer):
    fake_openai.fail_next(429, 1, FAST_RETRY)

    summary = summarizer.summarize_chunk("Bees pollinate orchards. They need water. Hives face south.")

    assert summary == "Bees pollinate orchards. They need water."
    assert len(fake_openai.requests) == 2
    first, retry = fake_openai.requests
    assert first.body == retry.body
    assert [first.headers["x-stainless-retry-count"], retry.headers["x-stainless-retry-count"]] == ["0", "1"]


def test_server_errors_are_retried_by_the_client(fake_openai, summarizer):
    fake_openai.fail_next(503, 1, FAST_RETRY)
    fake_openai.fail_next(500, 1, FAST_RETRY)

    text = "Mulch keeps soil moist. It feeds worms."
    assert summarizer.summarize_chunk(text) == text
    assert len(fake_openai.requests) == 3


def test_retries_follow_the_configured_limit_then_fail(fake_openai):
    fake_openai.fail_next(503, 5, FAST_RETRY)
    provider = summarizer_for(openai_settings(fake_openai, LLM_MAX_RETRIES="2"))
    with pytest.raises(openai.InternalServerError):
        provider.summarize_chunk("Mulch keeps soil moist.")
    assert len(fake_openai.requests) == 3  # the first try and two retries
    provider.close()


def test_settings_build_a_working_openai_summarizer(fake_openai):
    fake_openai.echo_sentences = 5
    provider = summarizer_for(openai_settings(fake_openai, SUMMARIZER_MODEL="llama-3.1-8b"))
    result = summarize_transcript(twelve_segments(), provider)
    assert len(result.sentences) == 5
    assert {request.body["model"] for request in fake_openai.requests} == {"llama-3.1-8b"}
    provider.close()


def test_a_wrong_api_key_is_refused_by_the_server(fake_openai):
    provider = OpenAIChatSummarizer(model="m", api_key="wrong", base_url=fake_openai.base_url, max_retries=3)
    with pytest.raises(openai.AuthenticationError):
        provider.summarize_chunk("Anything.")
    assert len(fake_openai.requests) == 1  # 401 is not retried
    provider.close()


def test_missing_api_key_is_a_clear_configuration_error():
    with pytest.raises(SummarizerConfigError, match="OPENAI_API_KEY"):
        summarizer_for(settings(SUMMARIZER_PROVIDER="openai", OPENAI_API_KEY=""))


def test_unknown_prompt_version_is_a_clear_configuration_error():
    with pytest.raises(SummarizerConfigError, match=r"SUMMARY_PROMPT_VERSION 'v9'.*v1"):
        summarizer_for(settings(SUMMARIZER_PROVIDER="openai", OPENAI_API_KEY="k", SUMMARY_PROMPT_VERSION="v9"))


def test_an_unknown_provider_is_a_clear_configuration_error():
    with pytest.raises(SummarizerConfigError, match="SUMMARIZER_PROVIDER 'claude'"):
        build_provider(provider="claude", model="m")


def test_the_default_provider_is_the_offline_extractive_one():
    assert isinstance(summarizer_from_settings(settings().summarization, settings().openai), ExtractiveSummarizer)


@pytest.mark.parametrize("segments", [[], [TimedSegment(0.0, 2.0, "  ")]])
def test_an_empty_transcript_makes_no_calls(fake_openai, summarizer, segments):
    result = summarize_transcript(segments, summarizer)

    assert result.summary == "" and result.sentences == [] and result.chunk_summaries == []
    assert result.quality_score == 0.0 and result.reduce_rounds == 0
    assert fake_openai.requests == []


def test_progress_is_reported(fake_openai, summarizer):
    messages: list[str] = []
    segments = twelve_segments()
    budget = one_segment_per_chunk_budget(segments)
    summarize_transcript(segments, summarizer, chunk_tokens=budget, progress=messages.append)
    assert messages == [
        "map chunks 1-5 of 12",
        "map chunks 6-10 of 12",
        "map chunks 11-12 of 12",
        "reduce round 1 groups 1-3 of 3",
        "reduce round 2: final combine of 3 summaries",
    ]


def test_a_batch_size_below_two_is_refused_before_any_call(fake_openai, summarizer):
    with pytest.raises(ValueError, match="batch_size"):
        summarize_transcript(twelve_segments(), summarizer, batch_size=1)
    assert fake_openai.requests == []


def test_the_map_and_reduce_halves_run_separately(fake_openai, summarizer):
    segments = twelve_segments()
    chunks = chunk_segments(segments, one_segment_per_chunk_budget(segments))
    mapped = map_chunks(chunks, summarizer)
    assert [m.position for m in mapped] == list(range(12))

    reduced = reduce_summaries([m.text for m in mapped], summarizer, source_text=" ".join(c.text for c in chunks))
    assert reduced.reduce_rounds == 2
    assert [kind_of(request) for request in fake_openai.requests] == ["chunk"] * 12 + ["combine"] * 3 + ["final"]
    assert reduced.quality_score > 0
