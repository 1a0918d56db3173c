"""Encoding the ladder with real ffmpeg: sizes, codecs, one process, faststart, the thumbnail."""

from __future__ import annotations

import struct
import subprocess
import threading
from pathlib import Path

import ffmpeg
import psutil
import pytest

from pipeline.media import (
    THUMBNAIL_WIDTH,
    MediaError,
    build_ladder_command,
    plan_ladder,
    probe,
    thumbnail_time,
    transcode_ladder,
)


def top_level_atoms(path: Path) -> list[str]:
    """The MP4 box types at the top level of the file, in file order."""
    atoms = []
    with path.open("rb") as handle:
        size_total = path.stat().st_size
        offset = 0
        while offset + 8 <= size_total:
            handle.seek(offset)
            size, kind = struct.unpack(">I4s", handle.read(8))
            if size == 1:  # 64-bit size follows the type
                size = struct.unpack(">Q", handle.read(8))[0]
            elif size == 0:  # box runs to the end of the file
                size = size_total - offset
            atoms.append(kind.decode("latin-1"))
            offset += size
    return atoms


def ffmpeg_children_during(action) -> tuple[object, set[int]]:
    """Run `action`, sampling this process's children; the ffmpeg pids seen."""
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        me = psutil.Process()
        while not done.is_set():
            for child in me.children(recursive=True):
                try:
                    if child.name() == "ffmpeg":
                        seen.add(child.pid)
                except psutil.NoSuchProcess:
                    pass
            done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = action()
    finally:
        done.set()
        watcher.join()
    return result, seen


def commands_during(action) -> tuple[object, list[list[str]]]:
    """Run `action`, recording the command line of every process it starts (the processes run as usual)."""
    started: list[list[str]] = []

    class RecordingPopen(subprocess.Popen):
        def __init__(self, args, *rest, **options) -> None:
            started.append([str(arg) for arg in args])
            super().__init__(args, *rest, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", RecordingPopen)
        return action(), started


def tool_commands(commands: list[list[str]], tool: str) -> list[list[str]]:
    return [command for command in commands if Path(command[0]).name == tool]


@pytest.fixture(scope="module")
def hd_ladder(hd_video_path: Path, tmp_path_factory: pytest.TempPathFactory):
    source = probe(hd_video_path)
    rungs = plan_ladder(source.width, source.height)
    out_dir = tmp_path_factory.mktemp("hd-ladder")
    thumbnail = out_dir / "thumbnail.jpg"
    (variants, commands), ffmpeg_pids = ffmpeg_children_during(
        lambda: commands_during(
            lambda: transcode_ladder(
                hd_video_path,
                out_dir,
                rungs,
                has_audio=source.has_audio,
                thumbnail=thumbnail,
                thumbnail_at=thumbnail_time(source.duration_seconds),
            )
        )
    )
    return source, rungs, variants, ffmpeg_pids, commands


def test_1080p_source_yields_the_whole_ladder(hd_ladder) -> None:
    source, _, variants, _, _ = hd_ladder
    assert [(v.label, v.width, v.height) for v in variants] == [
        ("360p", 640, 360),
        ("480p", 852, 480),
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
    ]
    for variant in variants:
        assert variant.width <= source.width and variant.height <= source.height
        assert variant.video_codec == "h264" and variant.audio_codec == "aac"
        assert variant.codecs.startswith("avc1.64") and variant.codecs.endswith(",mp4a.40.2")  # High profile, AAC-LC
        assert variant.path.is_file() and variant.size_bytes == variant.path.stat().st_size > 0
        assert variant.bitrate and variant.bitrate > 0
        assert variant.duration_seconds == pytest.approx(source.duration_seconds, abs=0.15)
    sizes = [v.size_bytes for v in variants]
    assert sizes == sorted(sizes)


def test_outputs_are_browser_friendly(hd_ladder) -> None:
    _, _, variants, _, _ = hd_ladder
    for variant in variants:
        video = next(s for s in ffmpeg.probe(str(variant.path))["streams"] if s["codec_type"] == "video")
        assert video["pix_fmt"] == "yuv420p"
        assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")


def test_variants_are_faststart(hd_ladder, hd_video_path: Path) -> None:
    _, _, variants, _, _ = hd_ladder
    for variant in variants:
        atoms = top_level_atoms(variant.path)
        assert atoms.index("moov") < atoms.index("mdat"), atoms
    # The sample source is a plain MP4 (index last), so the check can tell the difference.
    source_atoms = top_level_atoms(hd_video_path)
    assert source_atoms.index("moov") > source_atoms.index("mdat")


def test_whole_ladder_is_one_ffmpeg_process(hd_ladder) -> None:
    _, _, _, ffmpeg_pids, commands = hd_ladder
    assert len(ffmpeg_pids) == 1
    assert len(tool_commands(commands, "ffmpeg")) == 1  # the thumbnail too comes from that process


def test_each_rung_is_probed_once(hd_ladder) -> None:
    _, _, variants, _, commands = hd_ladder
    probed = [command[-1] for command in tool_commands(commands, "ffprobe")]
    assert sorted(probed) == sorted(str(v.path) for v in variants)


def test_command_decodes_once_and_writes_every_rung(tmp_path: Path) -> None:
    rungs = plan_ladder(1920, 1080)
    command = build_ladder_command(Path("in.mp4"), tmp_path, rungs, has_audio=True, preset="ultrafast")
    assert command.count("-i") == 1
    graph = command[command.index("-filter_complex") + 1]
    assert "split=4" in graph and "scale=640:360" in graph and "scale=1920:1080" in graph
    outputs = [arg for arg in command if arg.endswith(".mp4") and arg != "in.mp4"]
    assert outputs == [str(tmp_path / f"{label}.mp4") for label in ("360p", "480p", "720p", "1080p")]
    assert command.count("+faststart") == 4 and command.count("libx264") == 4 and command.count("aac") == 4
    assert command.count("ultrafast") == 4
    # Keyframes at the same instants in every rung: HLS segments line up across rungs.
    assert command.count("expr:gte(t,n_forced*2)") == 4


def test_with_hls_dir_every_rung_goes_to_its_mp4_and_its_vod_playlist(tmp_path: Path) -> None:
    rungs = plan_ladder(1280, 720)
    command = build_ladder_command(
        Path("in.mp4"),
        tmp_path,
        rungs,
        has_audio=True,
        preset="ultrafast",
        preview_dir=tmp_path / "preview",
        hls_dir=tmp_path / "hls",
    )
    tees = [arg.split("|") for arg in command if arg.startswith("[f=mp4")]
    assert len(tees) == command.count("tee") == len(rungs) == 3
    for rung, outputs in zip(rungs, tees, strict=True):
        assert outputs[0] == f"[f=mp4:movflags=+faststart]{tmp_path / f'{rung.label}.mp4'}"
        assert "hls_playlist_type=vod" in outputs[1]
        assert outputs[1].endswith(f"]{tmp_path / 'hls' / rung.label / 'index.m3u8'}")
    # The lowest rung also feeds the live preview.
    assert [len(outputs) for outputs in tees] == [3, 2, 2]
    assert "hls_playlist_type=event" in tees[0][2] and tees[0][2].endswith(f"]{tmp_path / 'preview' / 'index.m3u8'}")


def test_small_source_gets_one_rung_at_its_size(small_video_path: Path, tmp_path: Path) -> None:
    source = probe(small_video_path)
    rungs = plan_ladder(source.width, source.height)
    variants = transcode_ladder(small_video_path, tmp_path, rungs, has_audio=True, preset="ultrafast")
    assert [(v.label, v.width, v.height, v.audio_codec) for v in variants] == [("360p", 640, 360, "aac")]


def test_source_without_audio_gives_video_only_variants(silent_video_path: Path, tmp_path: Path) -> None:
    source = probe(silent_video_path)
    variants = transcode_ladder(
        silent_video_path,
        tmp_path,
        plan_ladder(source.width, source.height),
        has_audio=source.has_audio,
        preset="ultrafast",
    )
    assert len(variants) == 1
    assert variants[0].audio_codec is None and variants[0].video_codec == "h264"
    assert variants[0].codecs.startswith("avc1.") and "mp4a" not in variants[0].codecs
    assert not probe(variants[0].path).has_audio


def test_ffmpeg_failure_is_reported_with_its_reason(silent_video_path: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        # Asking for audio from a file that has none makes ffmpeg refuse.
        transcode_ladder(silent_video_path, tmp_path, plan_ladder(640, 360), has_audio=True, preset="ultrafast")
    assert caught.value.kind == "encode_failed"
    assert str(caught.value).startswith("Transcoding the video failed: ")
    assert "matches no streams" in str(caught.value)


def test_thumbnail_is_a_jpeg_of_the_frame_at_its_moment(hd_ladder, hd_video_path: Path, tmp_path: Path) -> None:
    source, _, variants, _, _ = hd_ladder
    dest = variants[0].path.parent / "thumbnail.jpg"
    assert dest.read_bytes()[:3] == b"\xff\xd8\xff"
    stream = ffmpeg.probe(str(dest))["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", THUMBNAIL_WIDTH, 360)
    # The same picture as seeking to that moment on its own: the ladder's decode gives the same frame.
    alone = tmp_path / "alone.jpg"
    ffmpeg.input(str(hd_video_path), ss=thumbnail_time(source.duration_seconds)).filter("scale", THUMBNAIL_WIDTH, -2).output(
        str(alone), vframes=1, **{"q:v": 3}
    ).run(quiet=True, overwrite_output=True)
    assert dest.read_bytes() == alone.read_bytes()


def test_thumbnail_past_the_end_fails_clearly(small_video_path: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"No frame could be read at 60\.0 s") as caught:
        transcode_ladder(
            small_video_path,
            tmp_path,
            plan_ladder(640, 360),
            has_audio=True,
            preset="ultrafast",
            thumbnail=tmp_path / "thumb.jpg",
            thumbnail_at=60.0,
        )
    assert caught.value.kind == "encode_failed"


@pytest.mark.parametrize(("duration", "expected"), [(100.0, 10.0), (2.0, 0.2), (0.3, 0.0), (0.0, 0.0)])
def test_thumbnail_time_is_inside_the_video(duration: float, expected: float) -> None:
    assert thumbnail_time(duration) == pytest.approx(expected)


def test_phone_video_with_rotation_is_treated_as_portrait(small_video_path: Path, tmp_path: Path) -> None:
    # Phones store landscape frames plus a "rotate 90" display matrix.
    rotated = tmp_path / "phone.mp4"
    ffmpeg.input(str(small_video_path)).output(str(rotated), c="copy", **{"metadata:s:v:0": "rotate=90"}).run(
        quiet=True, overwrite_output=True
    )
    source = probe(rotated)
    assert (source.width, source.height) == (360, 640)
    rungs = plan_ladder(source.width, source.height)
    assert [(r.label, r.width, r.height) for r in rungs] == [("360p", 360, 640)]
    (variant,) = transcode_ladder(rotated, tmp_path / "out", rungs, has_audio=True, preset="ultrafast")
    assert (variant.width, variant.height) == (360, 640)
