"""Shared fixtures. Each area keeps its fixtures in its own plugin module."""

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
