"""The signed-in user, and whether an email is registered."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from pipeline.db.models import User
from serving_api.bloom import normalize_email
from serving_api.deps import PUBLIC, CurrentUser, ServicesDep, SessionDep, client_address
from serving_api.errors import ApiError, error_responses
from serving_api.schemas.users import EmailCheckIn, EmailCheckOut, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, responses=error_responses(401))
def me(user: CurrentUser) -> User:
    return user


@router.post("/check-email", response_model=EmailCheckOut, responses=error_responses(422, 429), openapi_extra=PUBLIC)
def check_email(body: EmailCheckIn, request: Request, session: SessionDep, services: ServicesDep) -> EmailCheckOut:
    """Public for signup forms. A Bloom filter answers most "free" emails without a
    query; a "maybe taken" is confirmed against the database, so `exists` is exact.
    At most CHECK_EMAIL_MAX_PER_MINUTE per client address (429 with Retry-After), so the
    route cannot be used to enumerate accounts."""
    wait = services.email_checks.hit(client_address(request))
    if wait:
        raise ApiError(429, "too_many_requests", "Too many email checks; try again later.",
                       details={"retry_after_seconds": wait}, headers={"Retry-After": str(wait)})
    email = normalize_email(body.email)
    if not services.emails.might_contain(email):
        return EmailCheckOut(email=email, exists=False)
    exists = session.scalar(select(User.id).where(User.email == email)) is not None
    return EmailCheckOut(email=email, exists=exists)
