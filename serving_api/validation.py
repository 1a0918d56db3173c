"""Input rules every route shares, so that no input reaches the database it cannot hold.

Each rule is part of the OpenAPI schema (a pattern, a maximum), so clients see it and
anything outside it is a 422 with the usual error body, never a 500 from the database:

- text never carries NUL characters (PostgreSQL's text types cannot store them);
- ids fit the `videos.id` / `users.id` columns on every backend (PostgreSQL INTEGER);
- dates with an offset stay inside the years datetime can represent once moved to UTC;
- a language is an ISO 639-1 code Whisper knows (`fr`; `fr-CA` and `FR` are taken as `fr`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import email_validator
from fastapi import Path, Query
from pydantic import AfterValidator, Field, WithJsonSchema

from pipeline import languages
from pipeline.db.models import MAX_ID

NO_NUL_PATTERN = r"^[^\x00]*$"

# A string without NUL characters (the constraint shows in the OpenAPI schema as a pattern).
Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]

VideoIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A video's id.")]
# Cursors are opaque tokens this API issues: URL-safe base64 without padding.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=2048,
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the previous page, unchanged (URL-safe base64 without padding, issued by this "
        "API for the same query and filters); any other value is 400 `invalid_cursor`.",
    ),
]
OwnerIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this user's videos.")]


def to_utc(value: datetime | None) -> datetime | None:
    """A zone-less value is UTC; one with an offset is converted (422 when that leaves datetime's range)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is out of range once converted to UTC") from None


UtcDateTimeQuery = Annotated[datetime | None, Query(description="Inclusive; UTC when no zone is given."), AfterValidator(to_utc)]
# The same rule for a date in a request body.
UtcDateTime = Annotated[datetime | None, AfterValidator(to_utc)]


def _account_email(value: str) -> str:
    """pydantic's EmailStr rule (syntax, normalized; no DNS lookup), but an address at `.test`, the
    domain RFC 6761 reserves for testing, is accepted like any other."""
    try:
        return email_validator.validate_email(value, check_deliverability=False, test_environment=True).normalized
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


AccountEmail = Annotated[
    str,
    AfterValidator(_account_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "description": "An email address (RFC 5322 addr-spec). Special-use domains (.arpa, .invalid, .local, "
            ".localhost, .onion) are refused; .test is accepted.",
        }
    ),
]


def has_nul(*values: str | None) -> bool:
    return any(value is not None and "\x00" in value for value in values)


def _language(value: str | None) -> str | None:
    try:
        return languages.normalize(value)
    except languages.UnknownLanguage as exc:
        raise ValueError(str(exc)) from None


# The language of a video's speech; empty or absent: detected when the video is transcribed.
Language = Annotated[
    str | None,
    Field(
        default=None,
        max_length=16,
        pattern=NO_NUL_PATTERN,
        description="The language spoken in the video, as an ISO 639-1 code (`fr`, `es`, `de`...): the transcript "
        "uses it as is. Absent or empty: detected from the speech.",
        examples=["fr"],
    ),
    AfterValidator(_language),
]
