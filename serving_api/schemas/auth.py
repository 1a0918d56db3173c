from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from serving_api.validation import NO_NUL_PATTERN, AccountEmail

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


# At least one ASCII letter and one digit, in either order (no lookahead: JSON Schema tools and
# pydantic's regex engine both take it). Stated in the OpenAPI document; checked by the validator below.
PASSWORD_PATTERN = r"^[\s\S]*([A-Za-z][\s\S]*[0-9]|[0-9][\s\S]*[A-Za-z])[\s\S]*$"


class SignupIn(BaseModel):
    email: AccountEmail
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        json_schema_extra={"pattern": PASSWORD_PATTERN},
        description="10 to 128 characters, with at least one letter and one digit; "
        "must not contain the email's name (the part before @, when it has "
        "4 characters or more).",
    )
    full_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL_PATTERN)

    @model_validator(mode="after")
    def _password_policy(self) -> SignupIn:
        # Length does most of the work (NIST SP 800-63B); the letter+digit rule
        # and the email check reject the most guessable choices.
        if not re.match(PASSWORD_PATTERN, self.password):
            raise ValueError("password must contain at least one letter and one digit")
        local_part = self.email.split("@", 1)[0].lower()
        if len(local_part) >= 4 and local_part in self.password.lower():
            raise ValueError("password must not contain the email address's name")
        return self


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
