"""Issue 13, defect 7: a video whose speech runs to its very end must not fail the timing check.

Whisper's last segment can end past the media (61.92 s on a 60.53 s clip). The
timestamps are clamped to the probed end, and the clamp is logged.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from pipeline.db.models import TranscriptSegment, Video, VideoStatus
from pipeline.db.session import session_scope
from pipeline.media import probe
from pipeline.samples import make_speech_video
from pipeline.text import TimedSegment
from pipeline.transcription import clamp_segments


def test_timestamps_past_the_end_are_clamped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    segments = (
        TimedSegment(0.0, 30.0, "the start"),
        TimedSegment(30.0, 58.2, "the middle"),
        TimedSegment(58.2, 61.92, "to the very end"),
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.transcription"):
        clamped = clamp_segments(segments, 60.53, "clip.mp4")
    assert clamped[:2] == segments[:2]
    assert clamped[2] == TimedSegment(58.2, 60.53, "to the very end")  # words kept, end clamped
    assert "clamped 1 transcript segment(s) of clip.mp4 ending up to 1.39 s past its end" in caplog.text
    caplog.clear()
    assert clamp_segments(segments[:2], 60.53) == segments[:2]
    assert not caplog.text  # nothing to clamp, nothing logged


@pytest.fixture(scope="module")
def cut_mid_speech(media_dir: Path) -> Path:
    """Speech to the very end: the espeak clip cut 0.6 s before its speech would have ended."""
    full = make_speech_video(media_dir / "speech-full.mp4", width=320, height=180)
    cut = media_dir / "speech-cut.mp4"
    seconds = probe(full).duration_seconds - 0.6
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(full),
            "-t",
            f"{seconds:.2f}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            str(cut),
        ],
        check=True,
    )
    return cut


@pytest.mark.e2e
def test_speech_to_the_very_end_passes_the_timing_check(harness, cut_mid_speech: Path) -> None:
    vid = harness.register(cut_mid_speech, "speech to the end")
    result = harness.run(vid, assets=["source_video", "transcript"])
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["transcript_segments_are_timed"] is True
    with session_scope(harness.engine) as session:
        video = session.get(Video, vid)
        assert video.status != VideoStatus.FAILED.value
        ends = [s.end_seconds for s in session.query(TranscriptSegment).filter_by(video_id=vid)]
    assert ends and max(ends) <= video.duration_seconds
    assert max(ends) > video.duration_seconds - 3  # the speech does run to the end
