"""The sample maker: known content, and a clear error when its tools are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import samples
from pipeline.media import probe


def test_speech_video_is_a_720p_h264_aac_mp4_as_long_as_the_speech(speech_video_path: Path) -> None:
    info = probe(speech_video_path)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (1280, 720, "h264", "aac")
    # Seven sentences at 150 words per minute: about 20-30 seconds.
    assert 15 < info.duration_seconds < 35


def test_default_script_suits_a_summary() -> None:
    sentences = [s for s in samples.DEFAULT_SCRIPT.split(". ") if s]
    assert 6 <= len(sentences) <= 8
    for keyword in samples.DEFAULT_KEYWORDS:
        assert keyword in samples.DEFAULT_SCRIPT.lower()


def test_speech_length_follows_the_script(tmp_path: Path) -> None:
    short = samples.synthesize_speech("Lava.", tmp_path / "short.wav")
    longer = samples.synthesize_speech("Hot lava flowed down the mountain toward the sea.", tmp_path / "long.wav")
    assert 0 < short < longer


def test_missing_tools_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(samples.SampleToolMissing, match=r"espeak-ng is not installed.*apt-get install -y espeak-ng"):
        samples.make_speech_video(tmp_path / "speech.mp4")
    with pytest.raises(samples.SampleToolMissing, match="ffmpeg is not installed"):
        samples.make_silent_video(tmp_path / "silent.mp4")
