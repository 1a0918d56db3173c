"""Memory of the API server while it receives a 1 GiB upload over HTTP.

Starts the real server (uvicorn, in a subprocess) on a temporary embedded
install, uploads a generated 1 GiB video as one streamed multipart POST, and
samples the server process's RSS before, during and after. Bytes are made on
the fly, so the client holds no more than a chunk either.

The upload is an honest video: a real short MP4 made with ffmpeg, followed by
a top-level ISO-BMFF `free` box (padding that the format allows anywhere at
the top level), so it passes the magic-byte sniff and ffprobe alike.

    .venv/bin/python benchmarks/upload_memory.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from benchmarks.support import API, api_server
from orchestration.processes import free_port
from pipeline import samples

CHUNK = 1 << 20
PASSWORD = "benchmark-password-1"


def padded_mp4(video: bytes, total_size: int) -> Iterator[bytes]:
    """`video`, then a `free` box that brings the whole file to `total_size` bytes."""
    padding = total_size - len(video)
    if not 8 <= padding < 2**32:
        raise ValueError("padding must fit a 32-bit box size")
    yield video
    yield struct.pack(">I", padding) + b"free"
    remaining = padding - 8
    zeros = bytes(CHUNK)
    while remaining:
        step = min(CHUNK, remaining)
        yield zeros[:step]
        remaining -= step


def multipart_body(boundary: str, title: str, file_chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        f"Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield from file_chunks
    yield f"\r\n--{boundary}--\r\n".encode()


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _upload(client: httpx.Client, headers: dict[str, str], title: str, video: bytes, size: int) -> httpx.Response:
    boundary = "videoai-benchmark-boundary"
    return client.post(
        f"{API}/videos/upload",
        content=multipart_body(boundary, title, padded_mp4(video, size)),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    mib = 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="videoai-bench-") as tmp:
        home = Path(tmp)
        video = samples.make_test_video(home / "sample.mp4", 320, 240, 1.0).read_bytes()
        port = free_port()
        env = {
            **os.environ,
            "VIDEOAI_HOME": str(home / "home"),
            "API_PORT": str(port),
            "MAX_UPLOAD_BYTES": str(2 * size),
            "JWT_SECRET": "benchmark-" + "s" * 32,
        }
        for name in ("DATABASE_URL", "OBJECT_STORE", "SEARCH_BACKEND", "REDIS_URL"):
            env.pop(name, None)
        with api_server(env, port, home / "api.log") as server, httpx.Client(base_url=server.base, timeout=600) as client:
            credentials = {"email": "uploader@example.com", "password": PASSWORD}
            signup = client.post(f"{API}/auth/signup", json=credentials)
            assert signup.status_code == 201, signup.text
            login = client.post(f"{API}/auth/login", data={"username": credentials["email"], "password": PASSWORD})
            token = login.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            # Warm up every code path (imports, thread pools, ffprobe) with a small upload first.
            warm = _upload(client, headers, "warm-up", video, 8 * mib)
            assert warm.status_code == 201, warm.text

            process = psutil.Process(server.pid)
            baseline = process.memory_info().rss
            sampler = RssSampler(server.pid)
            sampler.start()
            started = time.monotonic()
            response = _upload(client, headers, "one gibibyte", video, size)
            elapsed = time.monotonic() - started
            peak = sampler.stop()
            after = process.memory_info().rss
            assert response.status_code == 201, response.text
            stored = response.json()["size_bytes"]
            assert stored == size, (stored, size)

    growth = peak - baseline
    print(f"upload size           : {size / mib:,.0f} MiB ({size:,} bytes), accepted 201, stored {stored:,} bytes")
    print(f"elapsed               : {elapsed:.1f} s ({size / mib / elapsed:,.0f} MiB/s, incl. ffprobe and publish)")
    print(f"server RSS baseline   : {baseline / mib:,.1f} MiB (after start-up and a warm-up upload)")
    print(f"server RSS peak       : {peak / mib:,.1f} MiB ({sampler.samples} samples every 20 ms)")
    print(f"server RSS after      : {after / mib:,.1f} MiB")
    print(f"peak growth           : {growth / mib:,.1f} MiB")
    print(f"growth / upload size  : {growth / size:.4%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
