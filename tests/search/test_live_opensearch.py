"""The search contract over HTTP against OPENSEARCH_URL: a real cluster when it names one, else
the OpenSearch-compatible server the suite starts (osmem-server, tests/fixtures/opensearch.py),
so these tests always run here (they used to be skipped without a cluster).

Each test creates its own index (prefixed "videoai-test-") and deletes it afterwards.
"""

from __future__ import annotations

import pytest

from pipeline.search.opensearch import OpenSearchIndex
from tests.search.test_contract import TestSearchIndexContract as _Contract

pytestmark = [pytest.mark.integration]


class TestLiveOpenSearchContract(_Contract):
    @pytest.fixture
    def index(self, opensearch_search_index: OpenSearchIndex) -> OpenSearchIndex:
        return opensearch_search_index
