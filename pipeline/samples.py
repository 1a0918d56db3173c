"""Sample media with known content, for `videoai demo` and the tests.

The speech video is the important one: espeak-ng reads a known script, so a
transcript can be checked for words we know were spoken. The other makers
produce the awkward inputs the pipeline must reject or handle (no audio track,
truncated file, not a video at all).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import ffmpeg

# Short declarative sentences about one topic: enough for a 4-6 sentence
# summary, and words that tiny.en recognises from espeak-ng's en-us voice.
DEFAULT_SCRIPT = (
    "The volcano woke up after one hundred years of silence. "
    "Hot lava flowed down the mountain toward the sea. "
    "Scientists measured the earthquakes with special instruments. "
    "The nearby village was evacuated before midnight. "
    "Thick smoke covered the sky for many days. "
    "Farmers later found the ash made their soil rich. "
    "Today the volcano is quiet again."
)

# Words of DEFAULT_SCRIPT that tiny.en (int8, beam 1, VAD on) transcribed
# correctly in every trial: espeak-ng en-us and en at 130-170 words per minute,
# from WAV and from the AAC track of the sample MP4.
DEFAULT_KEYWORDS = ("volcano", "lava", "mountain", "scientists", "village", "midnight", "smoke", "farmers")

DEFAULT_SPEECH_RATE_WPM = 150

# Three distinct topics, about 20 s each at the default rate: for chapters and search by meaning.
TOPIC_SCRIPTS = (
    "The volcano woke up after one hundred years of silence. Hot lava flowed down the mountain toward the sea. "
    "Scientists measured the earthquakes with special instruments. The nearby village was evacuated before "
    "midnight. Thick smoke and ash covered the sky for many days. The eruption finally stopped after three weeks.",
    "Now let us talk about baking bread at home. You mix flour, water, salt and yeast in a large bowl. Knead the "
    "dough for ten minutes until it feels smooth. Let the dough rise in a warm kitchen for two hours. Bake the loaf "
    "in a hot oven until the crust is golden. Fresh bread tastes best with butter.",
    "Finally, a few words about football. The team trained on the field every morning before the match. The "
    "striker scored two goals in the first half. The goalkeeper saved a penalty in the last minute. Thousands of "
    "fans sang in the stadium all night. The coach said the players were proud of the win.",
)


# The same story in four languages (espeak-ng voices en-us, fr, es, de), about 20 s each at the default
# rate: for language detection, word error rates and search and summaries in each language. Each says
# one word in two inflected forms (volcan/volcans, montaña/montañas, Vulkan/Vulkane...).
LANGUAGE_SCRIPTS = {
    "en": "The volcano near the village erupted in the spring. Rivers of burning rock flowed down the mountain. "
    "The farmers led their animals to the green valleys. The scientists measured the gases every morning. "
    "The town built new roads and stronger houses. Today tourists come to see the sleeping volcanoes.",
    "fr": "Le volcan près du village est entré en éruption au printemps. Des rivières de roche brûlante ont "
    "coulé sur la montagne. Les paysans ont conduit leurs animaux vers les vallées vertes. Les scientifiques "
    "mesuraient les gaz chaque matin. La ville a construit des routes nouvelles et des maisons solides. "
    "Aujourd'hui les touristes viennent voir les volcans endormis.",
    "es": "El volcán cerca del pueblo entró en erupción en la primavera. Ríos de roca ardiente bajaron por la "
    "montaña. Los campesinos llevaron sus animales a los valles verdes. Los científicos medían los gases cada "
    "mañana. La ciudad construyó caminos nuevos y casas más fuertes. Hoy los turistas vienen a ver las montañas "
    "dormidas.",
    "de": "Der Vulkan neben dem Dorf ist im Frühling ausgebrochen. Flüsse aus glühendem Gestein flossen den Berg "
    "hinunter. Die Bauern brachten ihre Tiere in die grünen Täler. Die Wissenschaftler maßen jeden Morgen die "
    "Gase. Die Stadt baute neue Straßen und stärkere Häuser. Heute kommen Touristen, um die schlafenden Vulkane "
    "zu sehen.",
}
# espeak-ng's voice for each language of LANGUAGE_SCRIPTS.
LANGUAGE_VOICES = {"en": "en-us", "fr": "fr", "es": "es", "de": "de"}


class SampleToolMissing(RuntimeError):
    """A program needed to make sample media is not installed."""


def _require(program: str, package_hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SampleToolMissing(f"{program} is not installed; install it first (e.g. `apt-get install -y {package_hint}`).")
    return path


def _run_ffmpeg(stream: ffmpeg.nodes.OutputStream) -> None:
    ffmpeg_bin = _require("ffmpeg", "ffmpeg")
    try:
        stream.overwrite_output().global_args("-nostdin", "-loglevel", "error").run(cmd=ffmpeg_bin, quiet=True)
    except ffmpeg.Error as exc:
        raise RuntimeError(f"ffmpeg could not make the sample: {exc.stderr.decode(errors='replace').strip()[-500:]}") from exc


def _test_picture(width: int, height: int, seconds: float, fps: int) -> ffmpeg.nodes.FilterableStream:
    return ffmpeg.input(f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds:.3f}", f="lavfi")


# Encoding settings for samples: fast and small, but a normal H.264/AAC MP4.
_SAMPLE_VIDEO = {"vcodec": "libx264", "preset": "ultrafast", "crf": 30, "pix_fmt": "yuv420p"}
_SAMPLE_AUDIO = {"acodec": "aac", "audio_bitrate": "96k"}


def synthesize_speech(script: str, dest_wav: Path, voice: str = "en-us", rate_wpm: int = DEFAULT_SPEECH_RATE_WPM) -> float:
    """Speak `script` into a WAV file with espeak-ng; returns its length in seconds."""
    espeak = _require("espeak-ng", "espeak-ng")
    result = subprocess.run(
        [espeak, "-v", voice, "-s", str(rate_wpm), "-w", str(dest_wav), "--stdin"],
        input=script.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not dest_wav.exists():
        raise RuntimeError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()}")
    with wave.open(str(dest_wav)) as wav:
        return wav.getnframes() / wav.getframerate()


def make_speech_video(
    dest: Path,
    script: str = DEFAULT_SCRIPT,
    width: int = 1280,
    height: int = 720,
    voice: str = "en-us",
    rate_wpm: int = DEFAULT_SPEECH_RATE_WPM,
    fps: int = 15,
) -> Path:
    """An H.264/AAC MP4 of a test picture with `script` spoken, as long as the speech."""
    with tempfile.TemporaryDirectory(prefix="videoai-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        seconds = synthesize_speech(script, wav, voice=voice, rate_wpm=rate_wpm)
        return video_with_audio(wav, seconds, dest, width, height, fps)


def video_with_audio(wav: Path, seconds: float, dest: Path, width: int = 320, height: int = 240, fps: int = 15) -> Path:
    """An H.264/AAC MP4 of a test picture, `seconds` long, with `wav` as its sound."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    picture = _test_picture(width, height, seconds, fps)
    _run_ffmpeg(ffmpeg.output(picture, ffmpeg.input(str(wav)), str(dest), **_SAMPLE_VIDEO, **_SAMPLE_AUDIO))
    return dest


def make_test_video(dest: Path, width: int, height: int, seconds: float, with_audio: bool = True, fps: int = 25) -> Path:
    """A test picture of the given size; with a 440 Hz tone, or with no audio track at all."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    streams = [_test_picture(width, height, seconds, fps)]
    options = dict(_SAMPLE_VIDEO)
    if with_audio:
        streams.append(ffmpeg.input(f"sine=frequency=440:duration={seconds:.3f}", f="lavfi"))
        options.update(_SAMPLE_AUDIO)
    _run_ffmpeg(ffmpeg.output(*streams, str(dest), **options))
    return dest


def make_silent_video(dest: Path, width: int = 640, height: int = 360, seconds: float = 2.0) -> Path:
    """A video with no audio track at all (not a silent track: none)."""
    return make_test_video(dest, width, height, seconds, with_audio=False)


def make_audio_only(dest: Path, seconds: float = 2.0) -> Path:
    """An MP4 holding only an AAC track: a valid media file that is not a video."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tone = ffmpeg.input(f"sine=frequency=440:duration={seconds:.3f}", f="lavfi")
    _run_ffmpeg(ffmpeg.output(tone, str(dest), f="mp4", **_SAMPLE_AUDIO))
    return dest


def make_corrupt_video(dest: Path) -> Path:
    """A real MP4 cut in half.

    The mp4 muxer writes the index (moov) after the media data, so the first
    half holds frames but no index: a realistic interrupted upload.
    """
    dest = Path(dest)
    make_test_video(dest, 320, 240, 1.0)
    data = dest.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


def make_truncated_video(dest: Path, keep: float = 0.6) -> Path:
    """A faststart MP4 (index first) with its last bytes cut off: it probes with its full
    duration, but its media stops early, as an interrupted upload of a phone's video does."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    streams = [_test_picture(640, 360, 4.0, 25), ffmpeg.input("sine=frequency=440:duration=4", f="lavfi")]
    _run_ffmpeg(ffmpeg.output(*streams, str(dest), movflags="+faststart", **_SAMPLE_VIDEO, **_SAMPLE_AUDIO))
    data = dest.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def make_zero_length_video(dest: Path) -> Path:
    """A container with a video stream but not one frame in it (an AVI, which keeps such a stream)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    picture = ffmpeg.input("testsrc2=size=320x240:rate=25", f="lavfi")
    _run_ffmpeg(ffmpeg.output(picture, str(dest), f="avi", vcodec="mpeg4", vframes=0))
    return dest


def make_non_video(dest: Path) -> Path:
    """A small PDF-like document that only pretends to be a video by its name."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"% Quarterly report: this is a document, not a video.\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )
    return dest
