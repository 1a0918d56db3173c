"""Probing real files: what a good video reports, and the messages for bad uploads."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import ffmpeg
import pytest

from pipeline import samples
from pipeline.media import MediaError, check_complete, probe


def test_probe_describes_a_video_with_audio(hd_video_path: Path) -> None:
    info = probe(hd_video_path)
    assert (info.width, info.height) == (1920, 1080)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.has_video and info.has_audio
    assert info.duration_seconds == pytest.approx(2.5, abs=0.1)
    assert "mp4" in info.format_name
    assert info.bit_rate and info.bit_rate > 0
    assert info.frame_rate == pytest.approx(25)
    assert json.loads(json.dumps(info.as_dict())) == info.as_dict()


def test_probe_video_without_audio(silent_video_path: Path) -> None:
    info = probe(silent_video_path)
    assert info.has_video and not info.has_audio
    assert info.audio_codec is None
    assert (info.width, info.height) == (640, 360)


def test_corrupt_file_says_it_may_be_corrupt(corrupt_video_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(corrupt_video_path)
    assert caught.value.kind == "unreadable"
    message = str(caught.value)
    assert message.startswith("The file could not be read as a video (it may be corrupt or truncated):")
    assert "moov atom not found" in message  # ffprobe's reason, kept short
    assert message.endswith("Upload the complete file again.")
    assert str(corrupt_video_path) not in message and "@ 0x" not in message


def test_document_named_mp4_is_not_a_video(non_video_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(non_video_path)
    assert caught.value.kind == "not_video"
    assert str(caught.value) == "The file is not a video: it looks like a PDF document."


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = samples.make_audio_only(tmp_path / "song.mp4")
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert caught.value.kind == "not_video"
    assert str(caught.value).startswith("The file is not a video: it has only audio (format: mov,mp4")
    # Asked for, an audio-only file still probes.
    info = probe(path, require_video=False)
    assert info.has_audio and not info.has_video and info.width == 0


def test_video_stream_without_frames_has_no_duration(tmp_path: Path) -> None:
    path = samples.make_zero_length_video(tmp_path / "empty.avi")
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert caught.value.kind == "zero_duration"
    assert "no duration" in str(caught.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "upload.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"The file is empty \(0 bytes\)"):
        probe(empty)
    with pytest.raises(MediaError, match="not found") as caught:
        probe(tmp_path / "missing.mp4")
    assert caught.value.kind == "not_found"


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("shopping list: eggs, milk\n")
    with pytest.raises(MediaError, match="it looks like a text file") as caught:
        probe(path)
    assert caught.value.kind == "not_video"


def test_probe_reads_an_http_url(small_video_path: Path, corrupt_video_path: Path) -> None:
    handler = partial(SimpleHTTPRequestHandler, directory=str(small_video_path.parent))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        info = probe(f"{base}/{small_video_path.name}?X-Amz-Signature=abc&X-Amz-Expires=60")
        assert (info.width, info.height, info.has_audio) == (640, 360, True)
        with pytest.raises(MediaError) as caught:
            probe(f"{base}/no-such-object.mp4")
        assert caught.value.kind == "unreachable"
        assert str(caught.value) == "The video could not be downloaded from its URL: Server returned 404 Not Found"
        # A download that works but holds a broken file is reported as such.
        with pytest.raises(MediaError) as caught:
            probe(f"{base}/{corrupt_video_path.name}")
        assert caught.value.kind == "unreadable"
    finally:
        server.shutdown()
        server.server_close()


def test_still_image_is_not_a_video(small_video_path: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    ffmpeg.input(str(small_video_path), ss=0.5).output(str(photo), vframes=1).run(quiet=True)
    disguised = tmp_path / "holiday.mp4"
    disguised.write_bytes(photo.read_bytes())
    with pytest.raises(MediaError, match=r"it is a still image \(format: jpeg_pipe\)") as caught:
        probe(disguised)
    assert caught.value.kind == "not_video"


def test_a_cut_off_faststart_mp4_probes_whole_but_is_found_truncated(truncated_video_path: Path) -> None:
    info = probe(truncated_video_path)  # its index, first in the file, still states the full length
    assert info.duration_seconds == pytest.approx(4.0, abs=0.1)
    with pytest.raises(MediaError) as caught:
        check_complete(truncated_video_path, info.duration_seconds)
    assert caught.value.kind == "truncated"
    message = str(caught.value)
    assert message.startswith("The file is truncated or corrupt: only ")
    assert "of its 4.0 s could be read (ffmpeg: " in message and "partial file" in message
    assert message.endswith("Upload the complete file again.")
    assert str(truncated_video_path) not in message and "@ 0x" not in message


def test_a_cut_off_matroska_file_is_found_truncated(hd_video_path: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.mkv"
    ffmpeg.input(str(hd_video_path)).output(str(whole), c="copy").run(quiet=True)
    check_complete(whole, probe(whole).duration_seconds)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaError) as caught:
        check_complete(cut, probe(cut).duration_seconds)
    assert caught.value.kind == "truncated" and "File ended prematurely" in str(caught.value)


@pytest.mark.parametrize("fixture", ["hd_video_path", "silent_video_path", "speech_video_path"])
def test_whole_files_pass_the_completeness_check(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    path = request.getfixturevalue(fixture)
    check_complete(path, probe(path).duration_seconds)
