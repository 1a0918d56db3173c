"""The search contract against a real OpenSearch cluster, when OPENSEARCH_URL names one.

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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not OPENSEARCH_URL, reason="OPENSEARCH_URL not set: live OpenSearch tests need a real cluster"),
]


class TestLiveOpenSearchContract(_Contract):
    @pytest.fixture
    def index(self) -> Iterator[OpenSearchIndex]:
        assert OPENSEARCH_URL
        live = OpenSearchIndex(OPENSEARCH_URL, f"videoai-contract-{uuid.uuid4().hex[:12]}", refresh="wait_for")
        live.ensure()
        try:
            yield live
        finally:
            live.client.indices.delete(index=live.index_name, ignore_unavailable=True)
