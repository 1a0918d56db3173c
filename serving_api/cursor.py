"""Opaque keyset cursors for listing videos newest first.

A cursor is the (created_at, id) of the last row of a page, packed like the
search cursors (`pipeline.search.cursor.pack_token`). The next page is every row strictly after it in (created_at desc, id
desc) order, so videos created meanwhile (which sort before it) neither shift
nor repeat what follows, unlike OFFSET.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import ColumnElement, and_, or_

from pipeline.db.models import MAX_ID, Video
from pipeline.search.cursor import pack_token, unpack_token


class InvalidCursor(ValueError):
    pass


class VideoCursor(BaseModel):
    created_at: datetime
    id: int = Field(ge=0, le=MAX_ID)  # what the id column holds: a larger one is malformed, not a database error

    def encode(self) -> str:
        return pack_token({"c": self.created_at.isoformat(), "i": self.id})

    @classmethod
    def decode(cls, token: str) -> VideoCursor:
        try:
            data = unpack_token(token)
            cursor = cls(created_at=data["c"], id=data["i"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:  # binascii.Error is a ValueError
            raise InvalidCursor("The cursor is malformed; use a next_cursor this API returned.") from exc
        if cursor.created_at.tzinfo is None:
            raise InvalidCursor("The cursor is malformed; use a next_cursor this API returned.")
        return cursor

    def after(self) -> ColumnElement[bool]:
        """Rows after this cursor in newest-first order."""
        return or_(Video.created_at < self.created_at, and_(Video.created_at == self.created_at, Video.id < self.id))
