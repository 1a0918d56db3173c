"""Accuracy and speed of the shipped speech models on English, French, Spanish and German speech.

The same ~20 s story (`pipeline.samples.LANGUAGE_SCRIPTS`) spoken by espeak-ng in each language,
transcribed by each shipped model through the project's `Transcriber` (int8, beam 1, VAD, word
timestamps: the pipeline's settings): `tiny.en` (English only, so it assumes English), and the
multilingual `base` detecting the language, then told it. Per language and model: the word error
rate against the script, the real-time factor (transcription wall time / audio seconds; below 1 is
faster than real time) as the median of `--rounds` interleaved rounds after an untimed warm-up,
and the language found with its probability.

    .venv/bin/python -m benchmarks speech_languages [--rounds 3] [--languages en,fr,es,de]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from pipeline import samples
from pipeline.text import word_error_rate
from pipeline.transcription import Transcriber, TranscriptResult

# (label, model, whether the clip's language is given)
RUNS = (("tiny.en", "tiny.en", False), ("base, detected", "base", False), ("base, stated", "base", True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--languages", default=",".join(samples.LANGUAGE_SCRIPTS))
    args = parser.parse_args()
    languages = args.languages.split(",")
    print(f"load average at the start: {os.getloadavg()}", flush=True)

    models = {model: Transcriber(model).load() for _, model, _ in RUNS}
    with tempfile.TemporaryDirectory(prefix="videoai-bench-speech-") as tmp:
        clips = {}
        for language in languages:
            wav = Path(tmp) / f"{language}.wav"
            seconds = samples.synthesize_speech(samples.LANGUAGE_SCRIPTS[language], wav, samples.LANGUAGE_VOICES[language])
            clips[language] = (wav, seconds)

        def transcribe(model: str, stated: bool, language: str) -> tuple[float, TranscriptResult]:
            wav, _ = clips[language]
            started = time.perf_counter()
            result = models[model].transcribe(wav, language=language if stated else None)
            return time.perf_counter() - started, result

        for _, model, stated in RUNS:  # untimed: page cache, first-call allocations
            transcribe(model, stated, languages[0])
        walls: dict[tuple[str, str], list[float]] = {}
        results: dict[tuple[str, str], TranscriptResult] = {}
        for _ in range(args.rounds):
            for label, model, stated in RUNS:
                for language in languages:
                    wall, results[label, language] = transcribe(model, stated, language)
                    walls.setdefault((label, language), []).append(wall)

        print("\n| language | audio s | model | WER | real-time factor | language found (p) |\n|---|---|---|---|---|---|")
        for language in languages:
            for label, _, _ in RUNS:
                result = results[label, language]
                wer = word_error_rate(samples.LANGUAGE_SCRIPTS[language], result.text)
                rtf = statistics.median(walls[label, language]) / clips[language][1]
                found = f"{result.language} ({result.language_probability:.2f}, {result.language_source})"
                print(f"| {language} | {clips[language][1]:.1f} | {label} | {wer:.2f} | {rtf:.3f} | {found} |")
        for label, _, _ in RUNS:
            mean_wer = statistics.mean(
                word_error_rate(samples.LANGUAGE_SCRIPTS[lang], results[label, lang].text) for lang in languages
            )
            total = sum(statistics.median(walls[label, lang]) for lang in languages) / sum(clips[lang][1] for lang in languages)
            print(f"{label}: mean WER {mean_wer:.2f}, real-time factor over all clips {total:.3f}")
        for language in languages:
            print(f"\n{language} base, detected: {results['base, detected', language].text}")
    print(f"\nload average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
