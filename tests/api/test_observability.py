"""Issue 13, observability: Prometheus /metrics and a request id on every API log line."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.support import api_server
from orchestration.processes import free_port
from tests.api.conftest import API, make_user_in, seed_video
from tests.fixtures.database import isolate_environment


def _samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _requests_to(samples: dict, handler: str) -> float:
    return sum(
        v for (name, labels), v in samples.items() if name == "http_requests_total" and dict(labels).get("handler") == handler
    )


def test_metrics_count_requests_and_show_the_pool_and_the_pipeline(client: TestClient) -> None:
    owner = make_user_in(client)
    seed_video(client, owner)
    before = _samples(client)
    for _ in range(3):
        assert client.get(f"{API}/videos/list").status_code == 200
    after = _samples(client)
    assert _requests_to(after, "/api/v1/videos/list") - _requests_to(before, "/api/v1/videos/list") == 3
    names = {name for name, _ in after}
    assert {
        "http_request_duration_seconds_bucket",
        "http_requests_inprogress",
        "videoai_upload_bytes_total",
        "videoai_db_pool_checked_out",
        "videoai_db_gate_in_use",
        "videoai_db_gate_waiting",
        "videoai_password_gate_in_use",
        "videoai_password_gate_waiting",
    } <= names
    assert after[("videoai_videos", (("status", "ready"),))] == 1


@pytest.mark.parametrize("path", ["multipart", "presigned", "tus"])
def test_uploaded_bytes_are_counted_on_every_upload_path(sqlite_client: TestClient, small_video_path: Path, path: str) -> None:
    """The web page uploads through tus: its bytes were not counted (issue 19)."""
    user = make_user_in(sqlite_client)
    before = _samples(sqlite_client)[("videoai_upload_bytes_total", ())]
    data = small_video_path.read_bytes()
    if path == "multipart":
        response = sqlite_client.post(
            f"{API}/videos/upload", headers=user.headers, files={"file": ("clip.mp4", data, "video/mp4")}
        )
        assert response.status_code == 201, response.text
    elif path == "presigned":
        plan = sqlite_client.post(
            f"{API}/videos/uploads",
            headers=user.headers,
            json={"title": "Presigned", "filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": len(data)},
        ).json()
        assert sqlite_client.put(plan["upload_url"], content=data, headers=plan["headers"]).status_code == 200
        assert sqlite_client.post(plan["complete_url"], headers=user.headers).status_code == 200
    else:
        metadata = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in {"filename": "clip.mp4", "filetype": "video/mp4"}.items()
        )
        tus = {"Tus-Resumable": "1.0.0", **user.headers}
        created = sqlite_client.post(
            f"{API}/uploads/tus", headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": metadata}
        )
        assert created.status_code == 201, created.text
        half = len(data) // 2
        for offset, chunk in ((0, data[:half]), (half, data[half:])):
            patched = sqlite_client.patch(
                created.headers["location"],
                content=chunk,
                headers={**tus, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
            )
            assert patched.status_code == 204, patched.text
    counted = _samples(sqlite_client)[("videoai_upload_bytes_total", ())] - before
    assert len(data) <= counted <= len(data) + 1024  # the file (and, for multipart, its framing)


def test_outbox_gauges_only_where_a_relay_publishes_it(make_client, make_settings, tmp_path) -> None:
    """Without Kafka the outbox is never relayed, by design: no relay-lag gauge that could only grow (the
    README's "stuck relay" alert fired on every install without Kafka)."""
    outbox = {"videoai_outbox_unpublished", "videoai_outbox_oldest_unpublished_seconds", "videoai_outbox_failing"}
    embedded = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}"))
    names = {name for name, _ in _samples(embedded)}
    assert "videoai_videos" in names or "videoai_db_pool_size" in names
    assert not outbox & names
    relayed = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9"))
    assert outbox <= {name for name, _ in _samples(relayed)}


@pytest.mark.integration
def test_every_log_line_of_a_request_carries_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_environment(monkeypatch, tmp_path)
    env = {"VIDEOAI_HOME": str(tmp_path / "home"), "JWT_SECRET": "test-secret-" + "x" * 32, "LOG_FORMAT": "json"}
    log = tmp_path / "api.log"
    with api_server({**os.environ, **env}, free_port(), log) as server:
        base = server.base
        response = httpx.get(f"{base}{API}/videos/424242", headers={"X-Request-ID": "probe-0001"})
        assert response.status_code == 404
        assert response.headers["x-request-id"] == "probe-0001"
        generated = httpx.get(f"{base}{API}/health").headers["x-request-id"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "probe-0001"]
    assert mine, lines[-5:]
    assert any("/api/v1/videos/424242" in line["message"] for line in mine)  # uvicorn's access line
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.get("request_id") == generated for line in lines)
