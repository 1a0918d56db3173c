"""Shared fixtures. Each area keeps its fixtures in its own plugin module."""

import os
import signal
from collections.abc import Iterator

import pytest

# The suite's English clips, the words and times its tests check, were made with the English-only tiny.en, which
# is also 2-3x faster than the multilingual default on 2 cores: every process the tests start inherits it. The
# tests of other languages name the multilingual `base` themselves.
os.environ.setdefault("WHISPER_MODEL", "tiny.en")

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.database",
    "tests.fixtures.pipeline",
    "tests.fixtures.media",
    "tests.fixtures.llm",
    "tests.fixtures.s3",
    "tests.fixtures.kafka",
    "tests.fixtures.opensearch",
]


@pytest.fixture(scope="session", autouse=True)
def one_api_process() -> Iterator[None]:
    """Every `videoai serve` a test starts is one API process, not one per core (API_WORKERS): on two
    cores a server with two workers took 2.5 times as long to answer, and the tests start dozens.
    Serving with several workers is tested where it is the point (test_corpus_search)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("API_WORKERS", "1")
        yield


@pytest.fixture(scope="session", autouse=True)
def interrupts_not_ignored() -> None:
    """Started as a background job (`scripts/run test &`), the suite inherits an ignored SIGINT. Dagster maps
    SIGTERM to SIGINT's handler around an in-process run, so SIGTERM would be ignored too, and so by every
    `tail` its compute-log capture starts: each could then not be stopped, 30 s lost per step."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
