"""Retries where they belong: a transient LLM failure is retried by Dagster's RetryPolicy and the
video still gets its summary; a corrupt upload fails once, with no retry.

The LLM is a real HTTP server speaking OpenAI's API (tests/fixtures/llm.py) that answers 503;
the client's own retries are off, so only the step-level policy can recover.
"""

from __future__ import annotations

import warnings

import dagster as dg
import pytest
from sqlalchemy import func, select

from pipeline.db.models import ChunkSummary, Video, VideoStatus
from pipeline.db.session import session_scope

pytestmark = pytest.mark.e2e


def _steps(result, event_type: str) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type_value == event_type]


def test_a_transient_llm_failure_is_retried_and_the_video_is_summarized(harness, speech_video_path, fake_openai):
    vid = harness.register(speech_video_path, title="A talk")
    settings = harness.settings.updated(
        SUMMARIZER_PROVIDER="openai",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=fake_openai.api_key,
        SUMMARIZER_MODEL="fake-model",
        LLM_MAX_RETRIES=0,
    )
    fake_openai.fail_next(503, 1)  # the API is briefly down

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = harness.run(vid, settings=settings, assets=["source_video", "transcript", "chunk_summaries"])

    assert result.success
    # A normal run is quiet: no preview, beta or supersession warnings from Dagster.
    noisy = (dg.PreviewWarning, dg.BetaWarning, dg.SupersessionWarning)
    assert [str(w.message) for w in caught if issubclass(w.category, noisy)] == []
    assert _steps(result, "STEP_UP_FOR_RETRY") == ["chunk_summaries"]
    assert _steps(result, "STEP_FAILURE") == []
    assert len(fake_openai.requests) >= 2  # the failed call, then the retried step's calls
    with session_scope(harness.engine) as session:
        assert session.scalar(select(func.count()).select_from(ChunkSummary).where(ChunkSummary.video_id == vid)) >= 1


def test_a_corrupt_upload_fails_once_without_retries(harness, corrupt_video_path):
    vid = harness.register(corrupt_video_path, title="broken")

    result = harness.run(vid, raise_on_error=False, assets=["source_video"])

    assert not result.success
    assert _steps(result, "STEP_FAILURE") == ["source_video"]
    assert _steps(result, "STEP_UP_FOR_RETRY") == []
    with session_scope(harness.engine) as session:
        assert session.get(Video, vid).status == VideoStatus.FAILED.value
