"""Signup, login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from serving_api.deps import PUBLIC, CurrentClaims, DeadlineDep, ServicesDep, client_address
from serving_api.errors import error_responses
from serving_api.schemas.auth import SignupIn, TokenOut
from serving_api.schemas.users import UserOut
from serving_api.services import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/signup",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
    openapi_extra=PUBLIC,
)
async def signup(body: SignupIn, services: ServicesDep, deadline: DeadlineDep) -> UserOut:
    """Create an account (409 if the email is registered); then log in for a token."""
    return UserOut.model_validate(await accounts.sign_up(services, deadline, body))


@router.post("/login", response_model=TokenOut, responses=error_responses(401, 422, 429), openapi_extra=PUBLIC)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, services: ServicesDep, deadline: DeadlineDep
) -> TokenOut:
    """OAuth2 password flow: form fields `username` (the email) and `password`."""
    issued = await accounts.log_in(services, deadline, form.username, form.password, client_address(request))
    return TokenOut(access_token=issued.token, expires_in=services.settings.auth.access_token_minutes * 60)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
def logout(claims: CurrentClaims, services: ServicesDep) -> None:
    """Revoke the token this request carries until it would have expired."""
    accounts.log_out(services, claims)
