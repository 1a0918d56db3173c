"""Probing, transcoding and thumbnails with ffmpeg (through ffmpeg-python).

Plain functions: the video_variants asset calls them, and so can anything else.
Every failure a user could cause (a corrupt upload, a document renamed .mp4)
surfaces as `MediaError` with a message written for that user.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import ffmpeg


class MediaError(Exception):
    """A media file could not be used; `str(error)` tells a person what to do.

    `kind` lets callers branch without parsing the message: "not_found",
    "unreachable" (a URL that could not be downloaded), "unreadable",
    "not_video", "zero_duration", "truncated", "encode_failed", "tool_missing".
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class MediaProbe:
    duration_seconds: float
    width: int  # display size: rotation and non-square pixels applied
    height: int
    video_codec: str | None
    audio_codec: str | None
    has_video: bool
    has_audio: bool
    format_name: str
    bit_rate: int | None
    frame_rate: float | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rung:
    """One output of the ladder. `label` names the shorter side ("720p")."""

    label: str
    width: int
    height: int
    crf: int
    video_maxrate_kbps: int
    video_bufsize_kbps: int
    audio_bitrate_kbps: int


@dataclass(frozen=True)
class EncodedVariant:
    label: str
    path: Path
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    size_bytes: int
    bitrate: int | None
    duration_seconds: float
    codecs: str  # RFC 6381, e.g. "avc1.64001f,mp4a.40.2": what an HLS master playlist names


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} is not installed on this machine; install ffmpeg (which provides it).", "tool_missing")
    return path


def _is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


# ffmpeg prefixes messages with "[demuxer @ 0x55...] " and inputs with "path: ";
# neither helps a person, so both are dropped from the summaries.
_CONTEXT_PREFIX = re.compile(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*")


# How ffmpeg's http/tcp protocols word a failed download (as opposed to bad bytes).
_NETWORK_FAILURE = re.compile(r"Server returned|Connection|timed out|HTTP error|resolve|Network is unreachable", re.I)


_UPLOAD_AGAIN = "Upload the complete file again."


def _summarize_stderr(stderr: bytes | None, source: str = "", max_lines: int = 3) -> str:
    lines = []
    for raw in (stderr or b"").decode(errors="replace").splitlines():
        line = _CONTEXT_PREFIX.sub("", raw.strip())
        if source and line.startswith(f"{source}: "):
            line = line[len(source) + 2 :]
        if line and line not in lines:
            lines.append(line)
    summary = "; ".join(lines[-max_lines:])
    return summary[:400] or "no error output"


def _sniff_document(path: Path) -> str | None:
    """What a non-media file looks like, from its first bytes (None: can't tell).

    ffprobe trusts a .mp4 name and reports any non-MP4 bytes as a broken MP4;
    recognising common documents lets us tell the person what they uploaded.
    """
    with path.open("rb") as handle:
        head = handle.read(512)
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or an Office document)"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "a text file"
    return None


def _parse_rate(rate: str | None) -> float | None:
    if not rate or "/" not in rate:
        return None
    num, den = rate.split("/", 1)
    return round(int(num) / int(den), 3) if int(den) else None


def _display_size(stream: dict) -> tuple[int, int]:
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    sar = stream.get("sample_aspect_ratio", "1:1")
    num, _, den = sar.partition(":")
    if num.isdigit() and den.isdigit() and int(num) and int(den) and num != den:
        width = round(width * int(num) / int(den))
    rotation = stream.get("tags", {}).get("rotate")
    for side_data in stream.get("side_data_list", []):
        rotation = side_data.get("rotation", rotation)
    # ffmpeg auto-rotates when decoding, so a phone's portrait video is portrait.
    if rotation is not None and abs(int(float(rotation))) % 180 == 90:
        width, height = height, width
    return width, height


def probe(source: str | Path, require_video: bool = True) -> MediaProbe:
    """Read a local file's or an http(s) URL's streams with ffprobe.

    Raises MediaError when the source cannot be read, has no video stream
    (unless `require_video` is False) or has no duration.
    """
    return _described(_ffprobe(source), require_video)


def _ffprobe(source: str | Path) -> dict:
    """ffprobe's JSON (format and streams) of a local file or an http(s) URL; MediaError if unreadable."""
    ffprobe = _tool("ffprobe")
    options: dict[str, object] = {"v": "error"}
    if _is_url(source):
        options["rw_timeout"] = 30_000_000  # microseconds: give up on a stalled download
    else:
        path = Path(source)
        if not path.is_file():
            raise MediaError(f"The video file was not found: {path}", "not_found")
        if path.stat().st_size == 0:
            raise MediaError("The file is empty (0 bytes): the upload may not have completed.", "unreadable")
    try:
        info = ffmpeg.probe(str(source), cmd=ffprobe, **options)
    except ffmpeg.Error as exc:
        reason = _summarize_stderr(exc.stderr, str(source))
        if _is_url(source) and _NETWORK_FAILURE.search(reason):
            raise MediaError(f"The video could not be downloaded from its URL: {reason}", "unreachable") from exc
        looks_like = None if _is_url(source) else _sniff_document(Path(source))
        if looks_like:
            raise MediaError(f"The file is not a video: it looks like {looks_like}.", "not_video") from exc
        raise MediaError(
            f"The file could not be read as a video (it may be corrupt or truncated): {reason}. {_UPLOAD_AGAIN}",
            "unreadable",
        ) from exc
    return info


_AVC_PROFILES = {
    "Baseline": ("42", "00"),
    "Constrained Baseline": ("42", "40"),
    "Main": ("4D", "00"),
    "Extended": ("58", "00"),
    "High": ("64", "00"),
    "High 10": ("6E", "00"),
}


def rfc6381_codecs(info: dict) -> str:
    """The RFC 6381 codecs string of a probed H.264/AAC file (ffprobe's JSON), e.g. "avc1.64001f,mp4a.40.2"."""
    codecs = []
    for stream in info.get("streams", []):
        if stream.get("codec_name") == "h264":
            profile, constraints = _AVC_PROFILES.get(stream.get("profile", ""), ("64", "00"))
            codecs.append(f"avc1.{profile}{constraints}{int(stream.get('level') or 31):02X}".lower())
        elif stream.get("codec_name") == "aac":
            codecs.append("mp4a.40.2")  # AAC-LC, what the ladder encodes
    return ",".join(codecs)


def codecs_of(path: Path) -> str:
    """`rfc6381_codecs` of a local file."""
    return rfc6381_codecs(_ffprobe(path))


def _described(info: dict, require_video: bool) -> MediaProbe:
    """`probe`'s answer from ffprobe's JSON."""
    fmt = info.get("format", {})
    format_name = fmt.get("format_name", "unknown")
    streams = info.get("streams", [])
    # Cover art in audio files is a "video" stream too; it is not a video.
    videos = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if require_video and not videos:
        what = "it has only audio" if audios else "no video stream was found"
        raise MediaError(f"The file is not a video: {what} (format: {format_name}).", "not_video")
    if require_video and (format_name.endswith("_pipe") or format_name == "image2"):
        raise MediaError(f"The file is not a video: it is a still image (format: {format_name}).", "not_video")

    durations = [float(d) for d in [fmt.get("duration"), *(s.get("duration") for s in streams)] if d not in (None, "N/A")]
    duration = max(durations, default=0.0)
    if duration <= 0:
        raise MediaError("The video has no duration: it contains no playable frames.", "zero_duration")

    video = videos[0] if videos else {}
    width, height = _display_size(video) if video else (0, 0)
    bit_rate = fmt.get("bit_rate")
    return MediaProbe(
        duration_seconds=round(duration, 3),
        width=width,
        height=height,
        video_codec=video.get("codec_name"),
        audio_codec=audios[0].get("codec_name") if audios else None,
        has_video=bool(videos),
        has_audio=bool(audios),
        format_name=format_name,
        bit_rate=int(bit_rate) if bit_rate and bit_rate != "N/A" else None,
        frame_rate=_parse_rate(video.get("avg_frame_rate")) if video else None,
    )


# How ffmpeg's demuxers say a file ends before its index or header says it should.
_TRUNCATION = re.compile(r"partial file|ended prematurely|truncat|unexpected end", re.I)
# A complete file's packets reach its probed duration to within a frame or two; a cut-off
# one stops short. The margin keeps odd but whole files (audio a little longer than the
# picture, edit lists) from being called truncated.
_SHORTFALL_TOLERANCE = (1.0, 0.02)  # seconds, or this share of the duration if larger


def check_complete(source: Path, duration_seconds: float) -> None:
    """Raise MediaError("truncated") when `source`'s media stops short of its probed duration.

    A faststart MP4 cut off after its index probes as whole (the index states the full
    duration) and would encode to a shorter video. Reading every packet by stream copy,
    without decoding, finds the cut cheaply: the demuxer reports it ("partial file",
    "File ended prematurely") and the last packet's time falls short of the duration.
    """
    command = [
        _tool("ffmpeg"),
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-i",
        str(source),
        "-map",
        "0:v",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-",
    ]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise MediaError(
            f"The file could not be read to its end (it may be corrupt or truncated): "
            f"{_summarize_stderr(result.stderr, str(source))}. {_UPLOAD_AGAIN}",
            "truncated",
        )
    times = re.findall(rb"^out_time_us=(\d+)$", result.stdout, re.M)
    read_seconds = int(times[-1]) / 1e6 if times else 0.0
    seconds, share = _SHORTFALL_TOLERANCE
    short = duration_seconds - read_seconds > max(seconds, share * duration_seconds)
    flagged = [line for line in result.stderr.decode(errors="replace").splitlines() if _TRUNCATION.search(line)]
    if short or flagged:
        detail = f" (ffmpeg: {_CONTEXT_PREFIX.sub('', flagged[0].strip())})" if flagged else ""
        raise MediaError(
            f"The file is truncated or corrupt: only {read_seconds:.1f} s of its {duration_seconds:.1f} s could be "
            f"read{detail}. It was probably cut off during the upload or the recording. "
            f"{_UPLOAD_AGAIN}",
            "truncated",
        )


# The standard ladder, by shorter side. CRF keeps quality constant; maxrate and
# bufsize cap bursts so a rung streams within its bandwidth.
_STANDARD_RUNGS = (
    Rung("360p", 640, 360, crf=23, video_maxrate_kbps=800, video_bufsize_kbps=1600, audio_bitrate_kbps=96),
    Rung("480p", 854, 480, crf=23, video_maxrate_kbps=1400, video_bufsize_kbps=2800, audio_bitrate_kbps=128),
    Rung("720p", 1280, 720, crf=23, video_maxrate_kbps=3000, video_bufsize_kbps=6000, audio_bitrate_kbps=128),
    Rung("1080p", 1920, 1080, crf=23, video_maxrate_kbps=6000, video_bufsize_kbps=12000, audio_bitrate_kbps=160),
)
_MIN_SMALL_MAXRATE_KBPS = 300


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def plan_ladder(source_width: int, source_height: int) -> list[Rung]:
    """The rungs to encode for a source of this display size, smallest first.

    Rungs are named by the shorter side, so a portrait 1080x1920 phone video
    gets "360p" (360x640) ... "1080p" (1080x1920): the same pixel budget as
    its landscape twin. The small rungs (360p, 480p) let a phone on a slow
    link play smoothly (HLS picks the rung). Nothing is upscaled: a source
    whose shorter side is under 360 gets one rung at its own size (rounded
    down to even, as H.264 4:2:0 requires).
    """
    if source_width <= 0 or source_height <= 0:
        raise ValueError(f"invalid source size {source_width}x{source_height}")
    short, long = sorted((source_width, source_height))
    portrait = source_height > source_width

    def sized(target_short: int) -> tuple[int, int]:
        target_long = _even_floor(target_short * long / short)
        return (target_short, target_long) if portrait else (target_long, target_short)

    rungs = []
    for standard in _STANDARD_RUNGS:
        if short >= standard.height:
            width, height = sized(standard.height)
            rungs.append(
                Rung(
                    standard.label,
                    width,
                    height,
                    standard.crf,
                    standard.video_maxrate_kbps,
                    standard.video_bufsize_kbps,
                    standard.audio_bitrate_kbps,
                )
            )
    if rungs:
        return rungs

    own = _even_floor(short)
    width, height = sized(own)
    # Scale the smallest rung's cap by pixel count, with a floor so tiny videos stay watchable.
    reference = _STANDARD_RUNGS[0]
    maxrate = max(
        _MIN_SMALL_MAXRATE_KBPS, round(reference.video_maxrate_kbps * width * height / (reference.width * reference.height))
    )
    return [
        Rung(
            f"{own}p",
            width,
            height,
            crf=reference.crf,
            video_maxrate_kbps=maxrate,
            video_bufsize_kbps=2 * maxrate,
            audio_bitrate_kbps=96,
        )
    ]


def variant_path(out_dir: Path, rung: Rung) -> Path:
    return Path(out_dir) / f"{rung.label}.mp4"


# Every rung gets a keyframe at the same instants, so the rungs' HLS segments
# start at the same times and a player can switch between them.
KEYFRAME_INTERVAL_SECONDS = 2
# What the ladder's HLS muxers write in a rung's directory (pipeline/hls.py packages it).
MEDIA_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
# Two keyframe intervals per segment: short enough to start fast and adapt, long enough
# that playlists and request counts stay small.
SEGMENT_SECONDS = 2 * KEYFRAME_INTERVAL_SECONDS
THUMBNAIL_WIDTH = 640


def _tee_escaped(text: str | Path) -> str:
    """`text` with the characters ffmpeg's tee muxer splits on backslash-escaped (one level of its unescaping).
    Unescaped, a `:` or `|` in SCRATCH_DIR made the tee drop an output and ffmpeg still exit 0."""
    return "".join("\\" + char if char in "\\'[]|:=" else char for char in str(text))


def _hls_output(directory: Path, playlist_type: str, flags: str) -> str:
    """A tee muxer output: the rung's encoded packets as MPEG-TS segments and a media playlist in `directory`."""
    # max_delay: the 0.7 s ffmpeg gives a file output (-muxdelay) but not a tee's outputs. Without it each
    # audio frame gets its own PES packet (segments ~5 % larger) and timestamps shift by 1.4 s.
    # An option's value is unescaped twice (the output list, then its options); a file name once.
    options = [
        "f=hls",
        f"hls_time={SEGMENT_SECONDS}",
        f"hls_playlist_type={playlist_type}",
        "hls_segment_type=mpegts",
        f"hls_flags={flags}",
        "max_delay=700000",
        f"hls_segment_filename={_tee_escaped(_tee_escaped(directory / SEGMENT_PATTERN))}",
    ]
    return f"[{':'.join(options)}]{_tee_escaped(directory / MEDIA_PLAYLIST)}"


def build_ladder_command(
    source: Path,
    out_dir: Path,
    rungs: list[Rung],
    has_audio: bool,
    preset: str = "veryfast",
    preview_dir: Path | None = None,
    hls_dir: Path | None = None,
    thumbnail: Path | None = None,
    thumbnail_at: float = 0.0,
) -> list[str]:
    """One ffmpeg command line that decodes `source` once and writes every rung.

    The decoded picture is `split` inside the filter graph, one branch per
    rung, so a 1080p upload is decoded once rather than once per output.
    With `hls_dir`, each rung's encoded packets also go to its HLS VOD
    playlist and segments there (`hls_dir/<label>/`, the layout `hls.package_hls`
    completes): no second pass over the MP4s. With `preview_dir`, the first rung
    is also written there as a live HLS event playlist while the encode runs.
    With `thumbnail`, the frame at `thumbnail_at` seconds is written there as a
    JPEG, THUMBNAIL_WIDTH wide, from the same decode.
    """
    if not rungs:
        raise ValueError("no rungs to encode")
    source_input = ffmpeg.input(str(source))
    branches = source_input.video.filter_multi_output("split", len(rungs) + (thumbnail is not None))
    outputs = []
    for index, rung in enumerate(rungs):
        picture = branches[index].filter("scale", rung.width, rung.height).filter("setsar", 1)
        streams = [picture, source_input.audio] if has_audio else [picture]
        options: dict[str, object] = {
            "vcodec": "libx264",
            "preset": preset,
            "crf": rung.crf,
            "maxrate": f"{rung.video_maxrate_kbps}k",
            "bufsize": f"{rung.video_bufsize_kbps}k",
            "pix_fmt": "yuv420p",  # what every browser and phone decodes
            "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_INTERVAL_SECONDS})",
            "sc_threshold": 0,  # no extra keyframes at scene cuts: segment boundaries stay aligned
            "movflags": "+faststart",  # index first: playback starts before the download ends
        }
        if has_audio:
            options.update({"acodec": "aac", "audio_bitrate": f"{rung.audio_bitrate_kbps}k"})
        target = str(variant_path(out_dir, rung))
        copies = [_hls_output(hls_dir / rung.label, "vod", "independent_segments")] if hls_dir is not None else []
        if index == 0 and preview_dir is not None:
            copies.append(_hls_output(preview_dir, "event", "independent_segments+temp_file"))
        if copies:
            # The tee muxer hands the same encoded packets to each output. The MP4 muxer needs the codec
            # headers out of band; faststart goes to the MP4 side of the tee.
            del options["movflags"]
            options.update({"f": "tee", "flags": "+global_header"})
            target = "|".join([f"[f=mp4:movflags=+faststart]{_tee_escaped(target)}", *copies])
        outputs.append(ffmpeg.output(*streams, target, **options))
    if thumbnail is not None:
        # The first frame at or after `thumbnail_at` (what an input-side -ss gives); the second trim ends
        # the branch there, so it costs one scaled frame.
        frame = branches[len(rungs)].filter("trim", start=thumbnail_at).filter("trim", end_frame=1)
        outputs.append(ffmpeg.output(frame.filter("scale", THUMBNAIL_WIDTH, -2), str(thumbnail), vframes=1, **{"q:v": 3}))
    command = (
        ffmpeg.merge_outputs(*outputs)
        .global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error")
        .overwrite_output()
    )
    return command.compile(cmd=_tool("ffmpeg"))


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise MediaError(f"{what} failed: {_summarize_stderr(result.stderr)}", "encode_failed")


PROGRESS_EVERY_SECONDS = 10.0


def _run_with_progress(command: list[str], what: str, progress: Callable[[str], None], duration: float) -> None:
    """`_run`, reporting how far ffmpeg has got (its `-progress` key=value stream) every
    PROGRESS_EVERY_SECONDS of wall time, and once at the end."""
    command = [command[0], "-progress", "pipe:1", *command[1:]]
    # As subprocess.run does: whatever interrupts the wait (a run terminated because its video was
    # deleted) kills ffmpeg too, instead of leaving it encoding for minutes.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            stderr: list[str] = []
            drain = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
            drain.start()
            done_seconds, last = 0.0, time.monotonic()
            for line in process.stdout or []:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit():
                    done_seconds = int(value) / 1e6
                elif key == "progress" and time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                    last = time.monotonic()
                    share = f" ({min(done_seconds / duration, 1.0):.0%})" if duration > 0 else ""
                    progress(f"{what}: {done_seconds:.1f} of {duration:.1f} s encoded{share}")
            process.wait()
            drain.join(timeout=10)
        except BaseException:
            process.kill()
            raise
    if process.returncode != 0:
        raise MediaError(f"{what} failed: {_summarize_stderr(''.join(stderr).encode())}", "encode_failed")
    progress(f"{what}: {duration:.1f} s encoded: done")


def transcode_ladder(
    source: Path,
    out_dir: Path,
    rungs: list[Rung],
    has_audio: bool,
    preset: str = "veryfast",
    progress: Callable[[str], None] | None = None,
    duration_seconds: float = 0.0,
    preview_dir: Path | None = None,
    hls_dir: Path | None = None,
    thumbnail: Path | None = None,
    thumbnail_at: float = 0.0,
) -> list[EncodedVariant]:
    """Encode every rung in one ffmpeg process; describe each output as probed.

    `progress`, when given, hears how far the encode has got (of `duration_seconds`).
    `preview_dir`, `hls_dir`, `thumbnail`: see `build_ladder_command`."""
    out_dir = Path(out_dir)
    folders = [out_dir, preview_dir, thumbnail and thumbnail.parent, *(hls_dir / r.label for r in rungs if hls_dir)]
    for folder in filter(None, folders):
        folder.mkdir(parents=True, exist_ok=True)
    if thumbnail is not None:
        thumbnail.unlink(missing_ok=True)  # ffmpeg writes none when no frame is found: don't mistake an old one
    command = build_ladder_command(source, out_dir, rungs, has_audio, preset, preview_dir, hls_dir, thumbnail, thumbnail_at)
    if progress is None:
        _run(command, "Transcoding the video")
    else:
        _run_with_progress(command, "Transcoding the video", progress, duration_seconds)
    if thumbnail is not None and not (thumbnail.is_file() and thumbnail.stat().st_size > 0):
        raise MediaError(f"No frame could be read at {thumbnail_at:.1f} s to make a thumbnail.", "encode_failed")
    # An ffprobe is mostly process start-up: run side by side, the rungs take about as long as one.
    with ThreadPoolExecutor(max_workers=len(rungs)) as pool:
        return list(pool.map(lambda rung: _encoded_variant(rung, variant_path(out_dir, rung)), rungs))


def _encoded_variant(rung: Rung, path: Path) -> EncodedVariant:
    """The rung's output as probed, by one ffprobe (the HLS codecs string comes from the same answer)."""
    info = _ffprobe(path)
    encoded = _described(info, require_video=True)
    return EncodedVariant(
        label=rung.label,
        path=path,
        width=encoded.width,
        height=encoded.height,
        video_codec=encoded.video_codec or "",
        audio_codec=encoded.audio_codec,
        size_bytes=path.stat().st_size,
        bitrate=encoded.bit_rate,
        duration_seconds=encoded.duration_seconds,
        codecs=rfc6381_codecs(info),
    )


def thumbnail_time(duration_seconds: float) -> float:
    """A representative moment: 10% in, past intros and fades, never past the end."""
    return max(0.0, min(duration_seconds * 0.1, duration_seconds - 0.5))
