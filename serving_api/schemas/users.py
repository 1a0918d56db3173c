from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from serving_api.validation import AccountEmail


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime


class EmailCheckIn(BaseModel):
    email: AccountEmail


class EmailCheckOut(BaseModel):
    email: str
    exists: bool
