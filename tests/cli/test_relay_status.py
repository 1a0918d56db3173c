"""Issue 13: the relay's failing rows are visible (`videoai relay --status`)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import update

from pipeline.db.models import OutboxEvent
from pipeline.db.session import make_engine, migrate, session_scope
from pipeline.events import VIDEO_READY, VIDEO_UPLOADED, record_event


def test_relay_status_shows_the_backlog_and_the_failing_rows(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        failing = record_event(session, VIDEO_UPLOADED, 7)
        record_event(session, VIDEO_READY, 8)
        session.flush()
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == failing.id)
            .values(attempts=3, last_error="KafkaTimeoutError: Failed to update metadata after 2.0 secs.\nTraceback ...")
        )
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "VIDEOAI_HOME": str(tmp_path / "home"), "LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "relay", "--status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("unpublished 2, failing 1, oldest unpublished")
    assert lines[1] == ("  #1 video.uploaded key=7 attempts=3: KafkaTimeoutError: Failed to update metadata after 2.0 secs.")
