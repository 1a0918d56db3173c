"""Issue 13: a full disk gave 500 and /health/ready still said ready."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import API, make_user_in
from tests.fixtures.disks import small_filesystem


def test_ready_says_not_ready_when_the_disk_is_nearly_full(make_client, make_settings, sqlite_database_url: str) -> None:
    db = sqlite_database_url
    assert make_client(make_settings(DATABASE_URL=db, MIN_FREE_DISK_MB="1")).get(f"{API}/health/ready").status_code == 200
    starved = make_client(make_settings(DATABASE_URL=db, MIN_FREE_DISK_MB=str(10**12)))  # more than any disk
    response = starved.get(f"{API}/health/ready")
    assert response.status_code == 503
    checks = {c["name"]: c for c in response.json()["error"]["details"]["checks"]}
    assert checks["disk"]["ok"] is False and "MIN_FREE_DISK_MB" in checks["disk"]["detail"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem."""
    with small_filesystem(tmp_path / "tiny", "256k") as mountpoint:
        yield mountpoint


def test_an_upload_onto_a_full_disk_is_507_not_500(
    make_client, make_settings, sqlite_database_url: str, tiny_disk: Path, small_video_path: Path
) -> None:
    client = make_client(
        make_settings(DATABASE_URL=sqlite_database_url, OBJECT_STORE_DIR=str(tiny_disk), MIN_FREE_DISK_MB="0"),
        raise_server_exceptions=False,
    )
    user = make_user_in(client)
    data = small_video_path.read_bytes()
    assert len(data) > 256 * 1024
    response = client.post(f"{API}/videos/upload", headers=user.headers, files={"file": ("clip.mp4", data, "video/mp4")})
    assert response.status_code == 507, response.text
    assert response.json()["error"]["code"] == "insufficient_storage"
    assert response.headers["retry-after"] == "60"
    assert [p.name for p in tiny_disk.rglob("*") if p.is_file()] == []  # the partial write is gone
