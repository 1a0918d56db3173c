"""HLS packaging with real ffmpeg: ffprobe reads every playlist, every segment decodes, no second encode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg
import psutil
import pytest

from pipeline import hls, samples
from pipeline.media import plan_ladder, probe, transcode_ladder
from tests.media.test_transcode import ffmpeg_children_during


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory):
    """A 720p source with audio (9 s, so each rung has several segments), its ladder and its package."""
    workdir = tmp_path_factory.mktemp("hls")
    source = samples.make_test_video(workdir / "source.mp4", 1280, 720, 9.0)
    info = probe(source)
    variants = transcode_ladder(source, workdir / "ladder", plan_ladder(info.width, info.height),
                                has_audio=True, preset="ultrafast")
    package, _ = ffmpeg_children_during(lambda: hls.package_hls(variants, workdir / "hls"))
    return info, variants, package


def test_a_720p_source_gets_360p_480p_and_720p_and_nothing_larger(packaged) -> None:
    source, variants, package = packaged
    assert [v.label for v in variants] == ["360p", "480p", "720p"]
    assert [(r.label, r.width, r.height) for r in package.renditions] == [
        ("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720)]
    for rendition in package.renditions:
        assert rendition.width <= source.width and rendition.height <= source.height


def test_ffprobe_reads_the_master_playlist_with_every_rung(packaged) -> None:
    _, _, package = packaged
    master = package.root / hls.MASTER_PLAYLIST
    text = master.read_text()
    assert text.startswith("#EXTM3U") and text.count("#EXT-X-STREAM-INF") == 3
    for rendition in package.renditions:
        assert f"RESOLUTION={rendition.width}x{rendition.height}" in text
        assert 'CODECS="avc1.' in text and "mp4a.40.2" in text
        assert rendition.playlist in text
    info = ffmpeg.probe(str(master))
    heights = sorted({s["height"] for s in info["streams"] if s["codec_type"] == "video"})
    assert heights == [360, 480, 720]
    assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}


def test_ffprobe_reads_every_media_playlist_and_every_segment_decodes(packaged) -> None:
    source, _, package = packaged
    for rendition in package.renditions:
        info = ffmpeg.probe(str(package.root / rendition.playlist))
        assert float(info["format"]["duration"]) == pytest.approx(source.duration_seconds, abs=0.5)
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (rendition.width, rendition.height)
        assert len(rendition.segments) >= 2
        for segment in rendition.segments:
            decoded = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(package.root / segment),
                                      "-f", "null", "-"], capture_output=True, text=True)
            assert decoded.returncode == 0 and not decoded.stderr.strip(), (segment, decoded.stderr)


def test_segments_are_cut_by_stream_copy_and_line_up_across_rungs(packaged) -> None:
    _, variants, package = packaged
    # Stream copy: the segments of a rung hold the variant's own bitstream, so they add up to about its size.
    for variant, rendition in zip(variants, package.renditions, strict=True):
        segment_bytes = sum((package.root / s).stat().st_size for s in rendition.segments)
        assert 0.9 * variant.size_bytes < segment_bytes < 1.4 * variant.size_bytes  # + MPEG-TS overhead
    durations = [
        [round(d, 2) for d in (float(line.split(":")[1].rstrip(",")) for line in
                               (package.root / r.playlist).read_text().splitlines() if line.startswith("#EXTINF"))]
        for r in package.renditions
    ]
    assert durations[0] == durations[1] == durations[2]
    assert max(durations[0]) <= hls.SEGMENT_SECONDS + 0.1


def test_packaging_never_encodes(packaged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, variants, _ = packaged
    commands: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(args, *rest, **options):
        commands.append(list(args))
        return real_run(args, *rest, **options)

    monkeypatch.setattr(hls.subprocess, "run", recording_run)
    hls.package_hls(variants[:1], tmp_path / "again")
    ffmpeg_calls = [c for c in commands if Path(c[0]).name == "ffmpeg"]
    assert len(ffmpeg_calls) == 1
    assert ffmpeg_calls[0][ffmpeg_calls[0].index("-c") + 1] == "copy"
    assert "libx264" not in ffmpeg_calls[0] and "aac" not in ffmpeg_calls[0]


def test_the_lowest_rung_streams_while_the_ladder_is_still_encoding(tmp_path: Path) -> None:
    """Issue 12, first playable: the lowest rung's segments, its growing playlist and a master playlist
    naming only it are published while the one ffmpeg process is still encoding every rung."""
    source = samples.make_test_video(tmp_path / "source.mp4", 1280, 720, 16.0)
    rungs = plan_ladder(1280, 720)
    published: dict[str, bytes] = {}
    encoding_when_master: list[bool] = []

    def publish(name: str, data: bytes) -> None:
        published[name] = data
        if name == hls.MASTER_PLAYLIST:
            encoding_when_master.append(any(child.name() == "ffmpeg" for child in psutil.Process().children()))

    problems: list[str] = []
    preview = hls.LivePreview(tmp_path / "preview", rungs[0], publish, problems.append)
    with preview.running() as preview_dir:
        variants = transcode_ladder(source, tmp_path / "ladder", rungs, has_audio=True, preview_dir=preview_dir)

    assert problems == []
    assert encoding_when_master == [True]  # playable before the ladder was done, and announced once
    master = published[hls.MASTER_PLAYLIST].decode()
    assert "360p/index.m3u8" in master and "RESOLUTION=640x360" in master and "480p" not in master
    playlist = published["360p/index.m3u8"].decode()
    # A player starts at the beginning, not at the live edge; the last publication has the whole rung.
    assert "#EXT-X-START:TIME-OFFSET=0" in playlist and playlist.rstrip().endswith("#EXT-X-ENDLIST")
    segments = sorted(name for name in published if name.startswith("360p/seg_"))
    assert segments == [f"360p/seg_{i:05d}.ts" for i in range(4)]  # 16 s in 4 s segments
    for name in segments:
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(published[name])
        assert (probe(path).width, probe(path).height) == (640, 360)
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    # The tee costs the rung nothing: its MP4 variant is whole.
    assert [(v.label, v.width, v.height) for v in variants] == [("360p", 640, 360), ("480p", 852, 480),
                                                                 ("720p", 1280, 720)]
    assert abs(variants[0].duration_seconds - 16.0) < 0.2
