"""Accounts: sign up, log in, log out, and whether an email is registered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import MAX_ID, User
from serving_api.bloom import normalize_email
from serving_api.errors import ApiError
from serving_api.schemas.auth import SignupIn
from serving_api.security import IssuedToken, TokenClaims, create_access_token, hash_password, verify_password
from serving_api.services.container import Services
from serving_api.services.gated import in_session, password_work
from serving_api.validation import has_nul


def display_name(user: User) -> str:
    """How a user is shown to others: their name, else their email's local part (never the whole email)."""
    return user.full_name or user.email.split("@", 1)[0]


def active_user(session: Session, claims: TokenClaims) -> User | None:
    """The account a token names, if it still exists and is active."""
    user = session.get(User, claims.user_id)
    return user if user is not None and user.is_active else None


def public_user(session: Session, user_id: int) -> User | None:
    """An active account, as a channel shows it (None for none, or a disabled one)."""
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    return user if user is not None and user.is_active else None


async def sign_up(services: Services, deadline: float, body: SignupIn) -> User:
    """A new account (409 `email_taken` if the email is registered)."""
    email = normalize_email(body.email)
    # Hashed before the database is touched: the hash's CPU time holds no connection.
    hashed = await password_work(services, deadline, hash_password, body.password)

    def create(session: Session) -> User:
        user = User(email=email, full_name=body.full_name, hashed_password=hashed)
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "email_taken", "An account with this email already exists.") from None
        return user

    created = await in_session(services, deadline, create)
    services.emails.add(email)
    return created


@dataclass(frozen=True)
class _Account:
    id: int
    hashed_password: str
    is_active: bool


async def log_in(services: Services, deadline: float, email: str, password: str, client: str) -> IssuedToken:
    """An access token for a correct email and password (401 otherwise; 429 once `client` or the
    account has failed too often)."""
    if has_nul(email, password):
        raise ApiError(
            422,
            "validation_error",
            "The request is invalid.",
            details=[{"loc": ["body", "username"], "msg": "must not contain NUL characters", "type": "value_error"}],
        )
    email = normalize_email(email)
    throttle = services.login_throttle
    retry_after = await run_in_threadpool(throttle.retry_after, email, client)  # Redis, where configured
    if retry_after:
        raise ApiError(
            429,
            "too_many_attempts",
            "Too many failed logins; try again later.",
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )

    def find(session: Session) -> _Account | None:
        user = session.scalar(select(User).where(User.email == email))
        return _Account(user.id, user.hashed_password, user.is_active) if user else None

    account = await in_session(services, deadline, find)
    # The hash (~0.15 s of CPU) runs with the connection given back and under the password gate:
    # logins neither hold database slots nor take every core from the other requests.
    valid = await password_work(services, deadline, verify_password, password, account.hashed_password if account else None)
    if not valid or account is None or not account.is_active:
        await run_in_threadpool(throttle.failed, email, client)
        raise ApiError(401, "invalid_credentials", "Incorrect email or password.", headers={"WWW-Authenticate": "Bearer"})
    await run_in_threadpool(throttle.succeeded, email, client)
    return create_access_token(services.settings, account.id)


def log_out(services: Services, claims: TokenClaims) -> None:
    """Revoke a token until it would have expired."""
    services.revocations.revoke(claims.jti, claims.expires_at)


def email_registered(session: Session, services: Services, email: str, client: str) -> tuple[str, bool]:
    """The normalized email and whether an account has it; at most CHECK_EMAIL_MAX_PER_MINUTE per
    client (429), so it cannot be used to enumerate accounts. A Bloom filter answers most "free"
    emails without a query; a "maybe taken" is confirmed against the database."""
    wait = services.email_checks.hit(client)
    if wait:
        raise ApiError(
            429,
            "too_many_requests",
            "Too many email checks; try again later.",
            details={"retry_after_seconds": wait},
            headers={"Retry-After": str(wait)},
        )
    email = normalize_email(email)
    if not services.emails.might_contain(email):
        return email, False
    return email, session.scalar(select(User.id).where(User.email == email)) is not None
