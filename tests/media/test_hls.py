"""HLS packaging with real ffmpeg: the ladder cuts the segments; ffprobe reads every playlist, every segment
decodes, and packaging starts no process of its own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import ffmpeg
import psutil
import pytest

from pipeline import hls, media, samples
from pipeline.media import MediaError, plan_ladder, probe, transcode_ladder
from tests.media.test_transcode import commands_during

TS_PACKET_BYTES = 188


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory):
    """A 720p source with audio (9 s, so each rung has several segments), its ladder (which cuts the segments),
    its package, and the commands packaging started."""
    workdir = tmp_path_factory.mktemp("hls")
    source = samples.make_test_video(workdir / "source.mp4", 1280, 720, 9.0)
    info = probe(source)
    variants = transcode_ladder(
        source,
        workdir / "ladder",
        plan_ladder(info.width, info.height),
        has_audio=True,
        preset="ultrafast",
        hls_dir=workdir / "hls",
    )
    package, commands = commands_during(lambda: hls.package_hls(variants, workdir / "hls"))
    return info, variants, package, commands


def test_a_720p_source_gets_360p_480p_and_720p_and_nothing_larger(packaged) -> None:
    source, variants, package, _ = packaged
    assert [v.label for v in variants] == ["360p", "480p", "720p"]
    assert [(r.label, r.width, r.height) for r in package.renditions] == [
        ("360p", 640, 360),
        ("480p", 852, 480),
        ("720p", 1280, 720),
    ]
    for rendition in package.renditions:
        assert rendition.width <= source.width and rendition.height <= source.height


def test_ffprobe_reads_the_master_playlist_with_every_rung(packaged) -> None:
    _, variants, package, _ = packaged
    master = package.root / hls.MASTER_PLAYLIST
    text = master.read_text()
    assert text.startswith("#EXTM3U") and text.count("#EXT-X-STREAM-INF") == 3
    for rendition in package.renditions:
        assert f"RESOLUTION={rendition.width}x{rendition.height}" in text
        assert 'CODECS="avc1.' in text and "mp4a.40.2" in text
        assert rendition.playlist in text
    # The codecs are the rungs' own, from the ladder's probe of each.
    assert [r.codecs for r in package.renditions] == [v.codecs for v in variants]
    assert all(re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", v.codecs) for v in variants), variants
    info = ffmpeg.probe(str(master))
    heights = sorted({s["height"] for s in info["streams"] if s["codec_type"] == "video"})
    assert heights == [360, 480, 720]
    assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}


def test_ffprobe_reads_every_media_playlist_and_every_segment_decodes(packaged) -> None:
    source, _, package, _ = packaged
    for rendition in package.renditions:
        text = (package.root / rendition.playlist).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        info = ffmpeg.probe(str(package.root / rendition.playlist))
        assert float(info["format"]["duration"]) == pytest.approx(source.duration_seconds, abs=0.5)
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (rendition.width, rendition.height)
        assert len(rendition.segments) >= 2
        for segment in rendition.segments:
            decoded = subprocess.run(
                ["ffmpeg", "-v", "error", "-xerror", "-i", str(package.root / segment), "-f", "null", "-"],
                capture_output=True,
                text=True,
            )
            assert decoded.returncode == 0 and not decoded.stderr.strip(), (segment, decoded.stderr)


def test_segments_hold_each_rungs_own_bitstream_and_line_up_across_rungs(packaged) -> None:
    _, variants, package, _ = packaged
    # The segments of a rung hold the variant's own bitstream, so they add up to about its size.
    for variant, rendition in zip(variants, package.renditions, strict=True):
        segment_bytes = sum((package.root / s).stat().st_size for s in rendition.segments)
        assert 0.9 * variant.size_bytes < segment_bytes < 1.4 * variant.size_bytes  # + MPEG-TS overhead
    durations = [
        [
            round(d, 2)
            for d in (
                float(line.split(":")[1].rstrip(","))
                for line in (package.root / r.playlist).read_text().splitlines()
                if line.startswith("#EXTINF")
            )
        ]
        for r in package.renditions
    ]
    assert durations[0] == durations[1] == durations[2]
    assert max(durations[0]) <= media.SEGMENT_SECONDS + 0.1


def test_the_ladder_cuts_what_stream_copying_each_mp4_would(packaged, tmp_path: Path) -> None:
    """Cut inside the ladder, the package is the one a second pass over the MP4s (stream copy, as before)
    would make: the same playlists, segments of the same sizes (a keyframe's parameter sets may differ by
    a start-code byte, which can take one more TS packet)."""
    _, variants, package, _ = packaged
    for variant, rendition in zip(variants, package.renditions, strict=True):
        copy_dir = tmp_path / variant.label
        copy_dir.mkdir()
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(variant.path),
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                str(media.SEGMENT_SECONDS),
                "-hls_playlist_type",
                "vod",
                "-hls_segment_type",
                "mpegts",
                "-hls_flags",
                "independent_segments",
                "-hls_segment_filename",
                str(copy_dir / media.SEGMENT_PATTERN),
                str(copy_dir / media.MEDIA_PLAYLIST),
            ],
            check=True,
        )
        assert (package.root / rendition.playlist).read_text() == (copy_dir / media.MEDIA_PLAYLIST).read_text()
        for segment in rendition.segments:
            cut = (package.root / segment).stat().st_size
            copied = (copy_dir / Path(segment).name).stat().st_size
            assert abs(cut - copied) <= TS_PACKET_BYTES, (segment, cut, copied)


def test_packaging_starts_no_process(packaged) -> None:
    """No second pass over the MP4s and no second probe: the master playlist comes from what the ladder made."""
    _, _, _, commands = packaged
    assert commands == []


def test_packaging_without_segments_fails_clearly(packaged, tmp_path: Path) -> None:
    _, variants, _, _ = packaged
    with pytest.raises(MediaError, match=r"Packaging the 360p rung for streaming produced no segments") as caught:
        hls.package_hls(variants, tmp_path)
    assert caught.value.kind == "encode_failed"


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
        variants = transcode_ladder(
            source, tmp_path / "ladder", rungs, has_audio=True, preview_dir=preview_dir, hls_dir=tmp_path / "hls"
        )
    package = hls.package_hls(variants, tmp_path / "hls")

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
    # The full package, cut by the same process, replaces the preview with the very same segments.
    assert package.renditions[0].segments == tuple(segments)
    for name in segments:
        assert published[name] == (package.root / name).read_bytes()
    # The tee costs the rung nothing: its MP4 variant is whole.
    assert [(v.label, v.width, v.height) for v in variants] == [("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720)]
    assert abs(variants[0].duration_seconds - 16.0) < 0.2


def test_the_ladder_cuts_the_package_in_a_directory_whose_name_the_tee_muxer_would_split(tmp_path: Path) -> None:
    """A SCRATCH_DIR with `:`, `|`, `[`, `]` or `'` in its path: unescaped, the tee muxer dropped the HLS
    outputs and ffmpeg still exited 0."""
    workdir = tmp_path / "scratch: it's [odd]|dir"
    source = samples.make_test_video(tmp_path / "source.mp4", 640, 360, 5.0)
    variants = transcode_ladder(
        source,
        workdir / "ladder",
        plan_ladder(640, 360),
        has_audio=True,
        preset="ultrafast",
        hls_dir=workdir / "hls",
        preview_dir=workdir / "preview",
    )
    package = hls.package_hls(variants, workdir / "hls")
    assert variants[0].path == workdir / "ladder" / "360p.mp4" and probe(variants[0].path).duration_seconds > 4
    assert [r.label for r in package.renditions] == ["360p"] and len(package.renditions[0].segments) >= 2
    assert all((package.root / name).stat().st_size > 0 for name in package.files())
    assert sorted(p.name for p in (workdir / "preview").glob("seg_*.ts")) == sorted(
        Path(name).name for name in package.renditions[0].segments
    )
