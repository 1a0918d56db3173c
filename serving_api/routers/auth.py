"""Signup, login and logout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import User
from serving_api.bloom import normalize_email
from serving_api.deps import PUBLIC, CurrentClaims, ServicesDep, client_address, in_session, password_work
from serving_api.errors import ApiError, error_responses
from serving_api.schemas.auth import SignupIn, TokenOut
from serving_api.schemas.users import UserOut
from serving_api.security import create_access_token, hash_password, verify_password
from serving_api.validation import has_nul

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/signup", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses=error_responses(409, 422), openapi_extra=PUBLIC)
async def signup(body: SignupIn, request: Request, services: ServicesDep) -> UserOut:
    email = normalize_email(body.email)
    # Hashed before the database is touched: the hash's CPU time holds no connection.
    hashed = await password_work(request, services, hash_password, body.password)

    def create(session: Session) -> UserOut:
        user = User(email=email, full_name=body.full_name, hashed_password=hashed)
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "email_taken", "An account with this email already exists.") from None
        return UserOut.model_validate(user)

    created = await in_session(request, services, create)
    services.emails.add(email)
    return created


@dataclass(frozen=True)
class _Account:
    id: int
    hashed_password: str
    is_active: bool


@router.post("/login", response_model=TokenOut, responses=error_responses(401, 422, 429), openapi_extra=PUBLIC)
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request,
                services: ServicesDep) -> TokenOut:
    """OAuth2 password flow: form fields `username` (the email) and `password`."""
    if has_nul(form.username, form.password):
        raise ApiError(422, "validation_error", "The request is invalid.",
                       details=[{"loc": ["body", "username"], "msg": "must not contain NUL characters",
                                 "type": "value_error"}])
    email, client = normalize_email(form.username), client_address(request)
    throttle = services.login_throttle
    retry_after = await run_in_threadpool(throttle.retry_after, email, client)  # Redis, where configured
    if retry_after:
        raise ApiError(429, "too_many_attempts", "Too many failed logins; try again later.",
                       details={"retry_after_seconds": retry_after}, headers={"Retry-After": str(retry_after)})

    def find(session: Session) -> _Account | None:
        user = session.scalar(select(User).where(User.email == email))
        return _Account(user.id, user.hashed_password, user.is_active) if user else None

    account = await in_session(request, services, find)
    # The hash (~0.15 s of CPU) runs with the connection given back and under the password gate:
    # logins neither hold database slots nor take every core from the other requests.
    valid = await password_work(request, services, verify_password, form.password,
                                account.hashed_password if account else None)
    if not valid or account is None or not account.is_active:
        await run_in_threadpool(throttle.failed, email, client)
        raise ApiError(401, "invalid_credentials", "Incorrect email or password.",
                       headers={"WWW-Authenticate": "Bearer"})
    await run_in_threadpool(throttle.succeeded, email, client)
    issued = create_access_token(services.settings, account.id)
    return TokenOut(access_token=issued.token, expires_in=services.settings.access_token_minutes * 60)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
def logout(claims: CurrentClaims, services: ServicesDep) -> None:
    """Revoke the token this request carries until it would have expired."""
    services.revocations.revoke(claims.jti, claims.expires_at)
