"""The speech-to-text engine (faster-whisper) as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from pipeline.settings import TranscriptionSettings
from pipeline.transcription import Transcriber


class TranscriberResource(dg.ConfigurableResource):
    """faster-whisper settings; the model is loaded once per run, when a step first transcribes.

    Not before the run's first step: in the in-process executor every resource is set up
    before `source_video`, and the import and the load (~1 s) would then delay the
    transcode and the first playable rung, which need no model."""

    model: str
    model_name: str = ""  # empty: the model's own name
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 1
    _transcriber: Transcriber | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: TranscriptionSettings) -> TranscriberResource:
        return cls(
            model=settings.model,
            model_name=settings.model_name,
            device=settings.device,
            compute_type=settings.compute_type,
            beam_size=settings.beam_size,
        )

    def _build(self) -> Transcriber:
        return Transcriber(
            model=self.model,
            model_name=self.model_name,
            device=self.device,
            compute_type=self.compute_type,
            beam_size=self.beam_size,
        )

    def model_version(self) -> str:
        return self._build().version

    def get_transcriber(self) -> Transcriber:
        if self._transcriber is None:  # kept for the run's later steps: one model load per run
            self._transcriber = self._build()
        return self._transcriber
