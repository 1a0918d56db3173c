"""The signed-in user, and whether an email is registered."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pipeline.db.models import User
from serving_api.deps import PUBLIC, CurrentUser, ServicesDep, SessionDep, client_address
from serving_api.errors import error_responses
from serving_api.schemas.users import EmailCheckIn, EmailCheckOut, UserOut
from serving_api.services import accounts

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, responses=error_responses(401))
def me(user: CurrentUser) -> User:
    """The signed-in user's account."""
    return user


@router.post("/check-email", response_model=EmailCheckOut, responses=error_responses(422, 429), openapi_extra=PUBLIC)
def check_email(body: EmailCheckIn, request: Request, session: SessionDep, services: ServicesDep) -> EmailCheckOut:
    """Public for signup forms. A Bloom filter answers most "free" emails without a
    query; a "maybe taken" is confirmed against the database, so `exists` is exact.
    At most CHECK_EMAIL_MAX_PER_MINUTE per client address (429 with Retry-After), so the
    route cannot be used to enumerate accounts."""
    email, exists = accounts.email_registered(session, services, body.email, client_address(request))
    return EmailCheckOut(email=email, exists=exists)
