from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.db.models import MAX_ID
from serving_api.validation import NO_NUL_PATTERN, UtcDateTime

QUESTION_MAX_LENGTH = 500


class AskIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "When does the harbour festival take place?"}]},
    )

    question: str = Field(min_length=1, max_length=QUESTION_MAX_LENGTH, pattern=NO_NUL_PATTERN)
    video_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Ask this video only.")
    owner_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Only this user's videos.")
    created_from: UtcDateTime = Field(default=None, description="Inclusive; UTC when no zone is given.")
    created_to: UtcDateTime = Field(default=None, description="Inclusive; UTC when no zone is given.")
    language: str | None = Field(
        default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]+)*$", description="e.g. `en`."
    )


class CitationOut(BaseModel):
    video_id: int
    title: str
    start: float = Field(description="Seconds from the start of the video where the quoted words begin.")
    end: float
    quote: str = Field(description="The words said there, as transcribed.")
    url: str = Field(description="The watch page, opening at `start`.")


class AskOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "The Vorlane festival takes place every August in the old harbour. [1]",
                    "citations": [
                        {
                            "video_id": 12,
                            "title": "Summer in the harbour",
                            "start": 83.4,
                            "end": 87.9,
                            "quote": "The Vorlane festival takes place every August in the old harbour.",
                            "url": "https://videos.example.org/watch/12?t=83.4",
                        }
                    ],
                    "declined": False,
                }
            ]
        }
    )

    answer: str = Field(description="Each claim followed by its citation's number, [1] for the first.")
    citations: list[CitationOut]
    declined: bool = Field(description="True: the archive holds no good enough evidence (or none the model's claims kept).")
    reason: str | None = None
