"""HLS packaging: each rung's encoded packets cut into segments by the ladder's own ffmpeg.

The ladder (`media.transcode_ladder` with `hls_dir`) hands every rung's packets
both to its MP4 and to its HLS muxer, so no second pass (no re-encode, no
stream copy) is needed; `package_hls` then writes the master playlist. The
package, under one directory:

    master.m3u8             every rung, with its bandwidth, resolution and codecs
    <label>/index.m3u8      one VOD media playlist per rung
    <label>/seg_00000.ts    its MPEG-TS segments

All URIs in the playlists are relative, so the tree can be served from any
prefix (the API serves it from the object store at deterministic keys).
The ladder forces keyframes at the same instants in every rung
(`media.KEYFRAME_INTERVAL_SECONDS`), so segments line up across rungs and a
player can switch rung at any segment boundary.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.media import MEDIA_PLAYLIST, EncodedVariant, MediaError, Rung, codecs_of

MASTER_PLAYLIST = "master.m3u8"

CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


@dataclass(frozen=True)
class HlsRendition:
    label: str
    width: int
    height: int
    codecs: str
    bandwidth: int  # peak segment bitrate, bits/s (what BANDWIDTH means in RFC 8216)
    average_bandwidth: int
    playlist: str  # relative to the package root
    segments: tuple[str, ...]


@dataclass(frozen=True)
class HlsPackage:
    root: Path
    renditions: tuple[HlsRendition, ...]

    def files(self) -> list[str]:
        """Every file of the package, relative to `root`, master playlist last (written last when uploaded,
        so a reader never finds a master playlist naming media that is not there yet)."""
        paths = [path for r in self.renditions for path in (*r.segments, r.playlist)]
        return [*paths, MASTER_PLAYLIST]


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _read_media_playlist(path: Path) -> list[tuple[str, float]]:
    """(segment name, duration) for each segment of a media playlist."""
    return _media_playlist_entries(path.read_text())


def _media_playlist_entries(text: str) -> list[tuple[str, float]]:
    entries, duration = [], None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            entries.append((line.strip(), duration))
            duration = None
    return entries


def _rendition(variant: EncodedVariant, out_dir: Path) -> HlsRendition:
    rendition_dir = out_dir / variant.label
    playlist = rendition_dir / MEDIA_PLAYLIST
    segments = _read_media_playlist(playlist) if playlist.is_file() else []
    if not segments:
        raise MediaError(f"Packaging the {variant.label} rung for streaming produced no segments.", "encode_failed")
    rates = [(rendition_dir / name).stat().st_size * 8 / max(seconds, 0.001) for name, seconds in segments]
    total_bits = sum((rendition_dir / name).stat().st_size * 8 for name, _ in segments)
    total_seconds = sum(seconds for _, seconds in segments)
    return HlsRendition(
        label=variant.label,
        width=variant.width,
        height=variant.height,
        codecs=variant.codecs,
        bandwidth=math.ceil(max(rates)),
        average_bandwidth=math.ceil(total_bits / max(total_seconds, 0.001)),
        playlist=f"{variant.label}/{MEDIA_PLAYLIST}",
        segments=tuple(f"{variant.label}/{name}" for name, _ in segments),
    )


def master_playlist(renditions: list[HlsRendition] | tuple[HlsRendition, ...]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in sorted(renditions, key=lambda r: r.bandwidth):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth},AVERAGE-BANDWIDTH={r.average_bandwidth},"
            f'RESOLUTION={r.width}x{r.height},CODECS="{r.codecs}"'
        )
        lines.append(r.playlist)
    return "\n".join(lines) + "\n"


# The captions as an HLS subtitles rendition: one WebVTT file, one "segment" as long as the video.
CAPTIONS_PLAYLIST = "captions.m3u8"
_CAPTIONS_GROUP = "captions"


def with_captions(master: str, language: str | None, name: str, automatic: bool = True) -> str:
    """`master` with the captions as its subtitles group (`EXT-X-MEDIA`, labelled with their language; the
    `public.accessibility.transcribes-spoken-dialog` characteristic of captions made from the speech), which
    every variant names."""
    characteristics = ',CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog"' if automatic else ""
    media = (
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{_CAPTIONS_GROUP}",NAME="{name.replace(chr(34), "")}",'
        f'LANGUAGE="{language or "und"}",DEFAULT=YES,AUTOSELECT=YES{characteristics},URI="{CAPTIONS_PLAYLIST}"'
    )
    lines = master.splitlines()
    first_variant = next((i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")), len(lines))
    out = [*lines[:first_variant], media]
    for line in lines[first_variant:]:
        out.append(f'{line},SUBTITLES="{_CAPTIONS_GROUP}"' if line.startswith("#EXT-X-STREAM-INF:") else line)
    return "\n".join(out) + "\n"


def captions_playlist(vtt_uri: str, duration_seconds: float) -> str:
    """The subtitles rendition's playlist: the whole WebVTT file as its one segment."""
    duration = max(duration_seconds, 0.001)
    return (
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{math.ceil(duration)}\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{duration:.3f},\n{vtt_uri}\n#EXT-X-ENDLIST\n"
    )


def package_hls(variants: list[EncodedVariant], out_dir: Path) -> HlsPackage:
    """Write the master playlist over the rungs' segments and VOD playlists, which the ladder cut into
    `out_dir` while encoding (`media.transcode_ladder`'s `hls_dir`)."""
    if not variants:
        raise ValueError("no variants to package")
    out_dir = Path(out_dir)
    renditions = tuple(_rendition(variant, out_dir) for variant in variants)
    (out_dir / MASTER_PLAYLIST).write_text(master_playlist(renditions))
    return HlsPackage(out_dir, renditions)


# A player opening a growing (EVENT) playlist starts near its live edge unless told otherwise.
_START_AT_BEGINNING = "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES"
PREVIEW_POLL_SECONDS = 0.1  # a small file read: cheap, and a segment is published within 0.1 s


class LivePreview:
    """Publishes the lowest rung's HLS while ffmpeg is still encoding it (see `media.build_ladder_command`'s
    `preview_dir`): each finished segment, then the growing playlist, then once a master playlist naming
    only that rung. From the first segment on, the video can be watched; the full package replaces it
    (same names) when the ladder is done.

    `publish(name, data)` stores one file of the package (names relative to the package root, as
    `HlsPackage.files()`); `failed(message)` hears a publishing error, after which the preview stops
    (the video is then playable when the ladder is done, as without a preview).
    """

    def __init__(self, directory: Path, rung: Rung, publish: Callable[[str, bytes], None], failed: Callable[[str], None]) -> None:
        self.directory, self.rung, self._publish, self._failed = Path(directory), rung, publish, failed
        self._sent: list[str] = []
        self._playlist = ""
        self._stop = threading.Event()
        self._broken = False

    def publish_new(self) -> None:
        """Publish what ffmpeg finished since the last call (a playlist lists only whole segments:
        ffmpeg writes it to a temporary file and renames it after each segment)."""
        if self._broken:
            return
        try:
            text = (self.directory / MEDIA_PLAYLIST).read_text()
        except FileNotFoundError:
            return
        entries = _media_playlist_entries(text)
        if text == self._playlist or not entries:
            return
        try:
            first = not self._sent
            for name, _ in entries[len(self._sent) :]:
                self._publish(f"{self.rung.label}/{name}", (self.directory / name).read_bytes())
                self._sent.append(name)
            header, _, rest = text.partition("\n")
            self._publish(f"{self.rung.label}/{MEDIA_PLAYLIST}", f"{header}\n{_START_AT_BEGINNING}\n{rest}".encode())
            self._playlist = text
            if first:
                self._publish(MASTER_PLAYLIST, self._master(entries[0][0]).encode())
        except Exception as error:  # any store error ends the preview, not the encode
            self._broken = True
            self._failed(f"the live preview of the {self.rung.label} rung stopped: {error}")

    def _master(self, first_segment: str) -> str:
        bandwidth = (self.rung.video_maxrate_kbps + self.rung.audio_bitrate_kbps) * 1000
        rendition = HlsRendition(
            label=self.rung.label,
            width=self.rung.width,
            height=self.rung.height,
            codecs=codecs_of(self.directory / first_segment),
            bandwidth=bandwidth,
            average_bandwidth=bandwidth,
            playlist=f"{self.rung.label}/{MEDIA_PLAYLIST}",
            segments=(),
        )
        return master_playlist([rendition])

    @contextmanager
    def running(self) -> Iterator[Path]:
        """Publish in the background while the body (the encode) runs; once more at the end."""
        self.directory.mkdir(parents=True, exist_ok=True)

        def loop() -> None:
            while not self._stop.wait(PREVIEW_POLL_SECONDS):
                self.publish_new()

        thread = threading.Thread(target=loop, name="hls-live-preview", daemon=True)
        thread.start()
        try:
            yield self.directory
        finally:
            self._stop.set()
            thread.join()
        self.publish_new()
