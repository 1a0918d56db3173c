"""The speech-to-text engine (faster-whisper) as a Dagster resource."""

from __future__ import annotations

import dagster as dg

from pipeline.transcription import Transcriber


class TranscriberResource(dg.ConfigurableResource):
    """faster-whisper settings; the model is loaded once per process and reused."""

    model: str
    model_name: str = "tiny.en"
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 1

    def get_transcriber(self) -> Transcriber:
        return Transcriber(model=self.model, model_name=self.model_name, device=self.device,
                           compute_type=self.compute_type, beam_size=self.beam_size)
