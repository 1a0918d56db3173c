"""The `videoai` CLI: ingest registers a file exactly as an upload would (row, object, outbox event); prune-uploads.

That ingest rejects what the API rejects, with the same reason, is tested beside the API's uploads
(tests/api/test_uploads.py).
"""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from pipeline.db.models import OutboxEvent, UploadMetadata, Video
from pipeline.db.session import make_engine, session_scope
from pipeline.keys import video_id_from_upload_key
from pipeline.storage.local import LocalObjectStore

VIDEOAI = Path(sys.executable).parent / "videoai"


def run_videoai(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBJECT_STORE")}, "VIDEOAI_HOME": str(home)}
    return subprocess.run([str(VIDEOAI), *args], env=env, cwd=home.parent, capture_output=True, text=True, timeout=120)


def test_ingest_registers_row_object_and_event(tmp_path, small_video_path):
    home = tmp_path / "home"
    done = run_videoai(home, "ingest", str(small_video_path), "--title", "Small clip", "--description", "two seconds")
    assert done.returncode == 0, done.stderr
    assert "registered video 1" in done.stdout

    engine = make_engine(f"sqlite:///{home / 'videoai.db'}")
    with session_scope(engine) as session:
        video = session.scalars(select(Video)).one()
        event = session.scalars(select(OutboxEvent)).one()
        upload = session.scalars(select(UploadMetadata)).one()
        assert (video.title, video.description, video.status) == ("Small clip", "two seconds", "pending")
        assert video_id_from_upload_key(video.source_key) == video.id
        assert (event.topic, event.key, event.payload["object_key"]) == ("video.uploaded", str(video.id), video.source_key)
        assert (upload.method, upload.state) == ("cli", "completed")
    engine.dispose()
    stored = LocalObjectStore(home / "objects")
    assert stored.get_bytes(video.source_key) == small_video_path.read_bytes()
    assert stored.list("staging/") == []


def test_ingest_of_a_missing_file_says_so(tmp_path):
    done = run_videoai(tmp_path / "home", "ingest", str(tmp_path / "nope.mp4"), "--title", "x")
    assert done.returncode == 2 and "no such file" in done.stderr


def test_prune_uploads_keeps_completed_uploads(tmp_path, small_video_path):
    home = tmp_path / "home"
    assert run_videoai(home, "ingest", str(small_video_path), "--title", "kept").returncode == 0
    done = run_videoai(home, "prune-uploads", "--older-than-hours", "0.0001")
    assert done.returncode == 0, done.stderr
    assert "removed 0 upload(s)" in done.stdout
