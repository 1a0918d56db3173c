"""Speech to timed text with faster-whisper, plus the transcript's file formats.

faster-whisper decodes the video file itself (through PyAV), so no separate
audio extraction step is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.languages import ASSUMED, DETECTED, STATED
from pipeline.text import TimedSegment, TimedWord, word_count

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from pipeline.settings import TranscriptionSettings


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranscriptResult:
    language: str | None  # None when the file has no audio track
    language_probability: float  # the detection's; 1.0 for a stated language, 0.0 for an assumed one
    duration_seconds: float  # length of the audio
    speech_seconds: float  # sum of the segments' lengths
    segments: tuple[TimedSegment, ...]
    language_source: str | None = None  # STATED, DETECTED or ASSUMED; None without audio

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)


def _has_audio_stream(source: Path) -> bool:
    import av

    with av.open(str(source)) as container:
        return bool(container.streams.audio)


class Transcriber:
    """A faster-whisper model with the options used for every transcript."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 1,
        model_name: str | None = None,
    ) -> None:
        self.model = model  # a CTranslate2 model directory, or a model name faster-whisper knows
        self.model_name = model_name or Path(model).name
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self._whisper: WhisperModel | None = None

    @classmethod
    def from_settings(cls, settings: TranscriptionSettings) -> Transcriber:
        return cls(
            model=settings.model,
            model_name=settings.model_name,
            device=settings.device,
            compute_type=settings.compute_type,
            beam_size=settings.beam_size,
        )

    @property
    def version(self) -> str:
        """Identity of the transcription model and options: drives the transcript asset's code_version."""
        return f"faster-whisper:{self.model_name}:{self.compute_type}:beam{self.beam_size}:words"

    def load(self) -> Transcriber:
        """Load the model now (seconds, hundreds of MB); without this it loads on first use."""
        if self._whisper is None:
            # Imported here: faster-whisper (ctranslate2, PyAV, tokenizers) is only for the steps that transcribe.
            from faster_whisper import WhisperModel

            from pipeline.speech_models import model_path

            self._whisper = WhisperModel(model_path(self.model), device=self.device, compute_type=self.compute_type)
        return self

    @property
    def whisper_model(self) -> WhisperModel:
        self.load()
        assert self._whisper is not None
        return self._whisper

    @property
    def multilingual(self) -> bool:
        """Whether the model knows other languages than English (and can detect them); loads it."""
        return bool(self.whisper_model.model.is_multilingual)

    def model_info(self) -> dict:
        import faster_whisper

        return {
            "model": self.model_name,
            "compute_type": self.compute_type,
            "device": self.device,
            "beam_size": self.beam_size,
            "faster_whisper_version": faster_whisper.__version__,
            "vad": True,
            "word_timestamps": True,
        }

    def transcribe(
        self,
        source: Path,
        media_seconds: float | None = None,
        progress: Callable[[str], None] | None = None,
        language: str | None = None,
    ) -> TranscriptResult:
        """Timed segments of the speech in `source` (any file ffmpeg can decode).

        A file without an audio track yields an empty transcript rather than
        an error: a silent video is valid, it just has nothing to say.
        Timestamps are clamped to the media's end (`media_seconds`, the probed
        duration, or else the decoded audio's): see `clamp_segments`.
        `progress`, when given, hears how far decoding has got, about every
        PROGRESS_EVERY_SECONDS of wall time.
        `language` (an ISO 639-1 code), when given, is the speech's language and is used as is;
        without it a multilingual model detects the language, and an English-only model assumes
        English (as it must, whatever `language` says: its result then says ASSUMED).
        """
        if not _has_audio_stream(source):
            return TranscriptResult(None, 0.0, 0.0, 0.0, ())
        whisper_language: str | None
        if not self.multilingual:
            whisper_language, source_of_language = "en", STATED if language == "en" else ASSUMED
            if language not in (None, "en"):
                log.warning("the model %s is English-only: %s transcribed as English, not %s", self.model_name, source, language)
        else:
            whisper_language, source_of_language = language, STATED if language else DETECTED
        # VAD skips silence and music, where Whisper tends to invent text. Word timestamps let a search
        # moment start at the word itself rather than at its segment.
        raw_segments, info = self.whisper_model.transcribe(
            str(source), beam_size=self.beam_size, vad_filter=True, word_timestamps=True, language=whisper_language
        )
        report = _ProgressReport(progress, info.duration)
        segments = tuple(
            _timed_segment(s)
            for s in report.follow(raw_segments)  # a generator: decoding happens while iterating
            if s.text.strip()
        )
        report.done()
        ends = [d for d in (media_seconds, info.duration) if d]
        if ends:
            segments = clamp_segments(segments, round(min(ends), 3), source.name)
        return TranscriptResult(
            language=info.language,
            language_probability=round(float(info.language_probability), 4) if source_of_language != ASSUMED else 0.0,
            duration_seconds=round(info.duration, 3),
            speech_seconds=round(sum(s.end - s.start for s in segments), 3),
            segments=segments,
            language_source=source_of_language,
        )


def _timed_segment(segment: Any) -> TimedSegment:
    """A faster-whisper segment as ours: its text stripped, and its words, with their times, when it has them."""
    words = tuple(TimedWord(_seconds(w.start), _seconds(w.end), w.word.strip()) for w in segment.words or () if w.word.strip())
    return TimedSegment(_seconds(segment.start), _seconds(segment.end), segment.text.strip(), words)


def _seconds(value: Any) -> float:
    # With word timestamps, faster-whisper's times are numpy floats: plain ones serialize anywhere.
    return round(float(value), 3)


def clamp_segments(segments: tuple[TimedSegment, ...], media_seconds: float, what: str = "media") -> tuple[TimedSegment, ...]:
    """Segments with no timestamp past the media's end.

    Whisper places timestamps on a 30 s window grid, and its last segment can end
    past the audio (over a second past it, on a clip whose speech runs to the very
    end). The words are real; only the timestamp overshoots: clamp it, and log how
    far, rather than failing a good video.
    """
    clamped = tuple(
        TimedSegment(
            min(s.start, media_seconds),
            min(s.end, media_seconds),
            s.text,
            tuple(TimedWord(min(w.start, media_seconds), min(w.end, media_seconds), w.text) for w in s.words),
        )
        if s.end > media_seconds or s.start > media_seconds
        else s
        for s in segments
    )
    overshoot = max((s.end - media_seconds for s in segments), default=0.0)
    if overshoot > 0:
        changed = sum(a != b for a, b in zip(segments, clamped, strict=True))
        log.warning(
            "clamped %d transcript segment(s) of %s ending up to %.2f s past its end (%.2f s)",
            changed,
            what,
            overshoot,
            media_seconds,
        )
    return clamped


PROGRESS_EVERY_SECONDS = 10.0


class _ProgressReport:
    """'transcribed 40.0 of 600.0 s of audio (12 segments)' lines while whisper decodes."""

    def __init__(self, progress: Callable[[str], None] | None, duration: float) -> None:
        self._progress, self._duration = progress, duration
        self._count, self._reached, self._last = 0, 0.0, time.monotonic()

    def follow(self, segments: Iterable[Any]) -> Iterator[Any]:
        for segment in segments:
            self._count, self._reached = self._count + 1, segment.end
            if self._progress is not None and time.monotonic() - self._last >= PROGRESS_EVERY_SECONDS:
                self._last = time.monotonic()
                self._progress(self._line())
            yield segment

    def done(self) -> None:
        if self._progress is not None:
            self._progress(self._line() + ": done")

    def _line(self) -> str:
        return f"transcribed {self._reached:.1f} of {self._duration:.1f} s of audio ({self._count} segments)"


def _vtt_timestamp(seconds: float) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _vtt_escape(text: str) -> str:
    # Cue text is markup: a bare "<" or "&" would be read as a tag or entity,
    # and "-->" would end the cue.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(segments: tuple[TimedSegment, ...] | list[TimedSegment]) -> str:
    """Captions for the HTML <track> element."""
    cues = [
        f"{index}\n{_vtt_timestamp(s.start)} --> {_vtt_timestamp(s.end)}\n{_vtt_escape(s.text)}"
        for index, s in enumerate(segments, start=1)
    ]
    return "WEBVTT\n\n" + "".join(cue + "\n\n" for cue in cues)


def transcript_to_json(result: TranscriptResult) -> dict:
    return {
        "language": result.language,
        "language_probability": result.language_probability,
        "duration_seconds": result.duration_seconds,
        "speech_seconds": result.speech_seconds,
        "text": result.text,
        "word_count": word_count(result.text),
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "words": [{"start": w.start, "end": w.end, "text": w.text} for w in s.words],
            }
            for s in result.segments
        ],
    }
