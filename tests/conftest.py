"""Shared fixtures. Each area keeps its fixtures in its own plugin module."""

import os

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
