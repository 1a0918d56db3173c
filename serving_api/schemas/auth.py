from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from serving_api.validation import NO_NUL_PATTERN

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


class SignupIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH,
                          description="10 to 128 characters, with at least one letter and one digit; "
                                      "must not contain the email's name.")
    full_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL_PATTERN)

    @model_validator(mode="after")
    def _password_policy(self) -> SignupIn:
        # Length does most of the work (NIST SP 800-63B); the letter+digit rule
        # and the email check reject the most guessable choices.
        if not re.search(r"[A-Za-z]", self.password) or not re.search(r"\d", self.password):
            raise ValueError("password must contain at least one letter and one digit")
        local_part = self.email.split("@", 1)[0].lower()
        if len(local_part) >= 4 and local_part in self.password.lower():
            raise ValueError("password must not contain the email address's name")
        return self


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
