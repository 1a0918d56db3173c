"""An API worker's native libraries compute a request's products on one thread (API_NATIVE_THREADS): the
workers are the parallelism, and a library pool fanning one request out over every core waits there for the
cores the other requests hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# In a fresh interpreter, as a worker process starts: numpy's BLAS is loaded before the limit (the app's
# imports load it), faiss after it (with the first large vector index); both are asked from a request's thread.
_WORKER = """
import json, threading
import numpy
from serving_api.server import limit_native_threads
limit_native_threads({threads})
import faiss
from threadpoolctl import threadpool_info
found = []
thread = threading.Thread(target=lambda: found.extend(threadpool_info()))
thread.start(); thread.join()
print(json.dumps([(pool["internal_api"], pool["filepath"], pool["num_threads"]) for pool in found]))
"""


@pytest.mark.parametrize("threads", [1, 3])  # 3: no pool's default on 2 cores
def test_the_native_libraries_loaded_before_and_after_the_limit_use_the_set_threads(threads: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WORKER.format(threads=threads)], capture_output=True, text=True, timeout=120, check=True
    )
    pools = json.loads(result.stdout)
    libraries = " ".join(path for _, path, _ in pools)
    assert "numpy" in libraries and "faiss" in libraries, pools
    assert {api for api, _, _ in pools} >= {"openblas", "openmp"}, pools
    assert all(count == threads for _, _, count in pools), pools
