"""The search contract over HTTP against OPENSEARCH_URL: a real cluster when it names one, else
the OpenSearch-compatible server the suite starts (osmem-server, tests/fixtures/opensearch.py),
so these tests always run here (they used to be skipped without a cluster).

Each test creates its own index (prefixed "videoai-contract-") and deletes it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from pipeline.search.opensearch import OpenSearchIndex
from tests.search.test_contract import TestSearchIndexContract as _Contract

OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")

pytestmark = [pytest.mark.integration]


class TestLiveOpenSearchContract(_Contract):
    @pytest.fixture
    def index(self, request: pytest.FixtureRequest) -> Iterator[OpenSearchIndex]:
        url = OPENSEARCH_URL or request.getfixturevalue("opensearch_url")
        live = OpenSearchIndex(url, f"videoai-contract-{uuid.uuid4().hex[:12]}", refresh="wait_for")
        live.ensure()
        try:
            yield live
        finally:
            live.client.indices.delete(index=live.index_name, ignore_unavailable=True)
