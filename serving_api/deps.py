"""FastAPI dependencies: services, database sessions, who is calling, visible/owned videos.

Authentication is a Bearer JWT, or the same token in the web app's session
cookie (HttpOnly, SameSite=Strict): `get_credentials` reads either, for the
API and the pages alike. A cookie rides along with any request the browser
makes, so a state-changing API request authenticated by the cookie must also
carry the session's CSRF token (`X-CSRF-Token`); an invalid or expired cookie
counts as signed out. Routes that need a user depend on `CurrentUser`; public
routes carry `openapi_extra=PUBLIC` so that being public is a visible,
deliberate choice (a test checks every other route answers 401 without a
token). Public routes that behave differently for a signed-in user depend on
`OptionalUser`: a token sent must still be valid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
import jwt
from anyio import CapacityLimiter
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from pipeline.db.models import User, Video
from serving_api.db_gate import queue_deadline
from serving_api.errors import ApiError
from serving_api.security import SESSION_COOKIE, TokenClaims, csrf_matches, decode_access_token
from serving_api.services import Services
from serving_api.services import videos as video_service
from serving_api.services.accounts import active_user
from serving_api.validation import VideoIdPath

API_PREFIX = "/api/v1"
PUBLIC = {"x-public": True}

oauth2_scheme = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/login", auto_error=False)


# Dependencies that neither block nor wait are `async def`: FastAPI runs a plain `def` dependency in a
# worker thread, a round trip per dependency and request that a search spends more time on than ranking.


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_deadline(request: Request) -> float:
    """Until when this request may wait for a gate (see serving_api/db_gate.py)."""
    return queue_deadline(request)


DeadlineDep = Annotated[float, Depends(get_deadline)]


async def get_session(services: ServicesDep, deadline: DeadlineDep) -> AsyncIterator[Session]:
    """A session for this request, once the database gate admits it (see serving_api/db_gate.py).

    Closed when the endpoint returns (scope "function"), before a streamed body is sent.
    The close runs in a worker thread outside the shared threadpool's limit, as FastAPI does
    for its own teardowns: a request holding a connection never queues for a thread to give
    it back.
    """
    async with services.db_gate.slot(deadline):
        session = services.sessions()
        try:
            yield session
        finally:
            if session.in_transaction():  # it holds a connection: giving it back may wait
                await anyio.to_thread.run_sync(session.close, limiter=CapacityLimiter(1))
            else:
                session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy forwarded (TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Credentials:
    claims: TokenClaims
    from_cookie: bool


async def get_credentials(
    request: Request, services: ServicesDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Credentials | None:
    """Who signed this request: the Bearer token (401 when it is invalid, expired or revoked), else
    the session cookie (an invalid, expired or revoked cookie is simply signed out), else nobody."""
    cookie = None if token is not None else request.cookies.get(SESSION_COOKIE)
    if token is None and not cookie:
        return None
    # Checking revocation asks the revocation store (the database or Redis): in a worker thread.
    return await anyio.to_thread.run_sync(_verified_credentials, services, token, cookie)


def _verified_credentials(services: Services, token: str | None, cookie: str | None) -> Credentials | None:
    if token is None:
        assert cookie is not None
        try:
            claims = decode_access_token(services.settings, cookie)
        except jwt.InvalidTokenError:
            return None
        return None if services.revocations.is_revoked(claims.jti) else Credentials(claims, from_cookie=True)
    try:
        claims = decode_access_token(services.settings, token)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The access token is invalid.") from None
    if services.revocations.is_revoked(claims.jti):
        raise _unauthorized("The access token has been revoked.")
    return Credentials(claims, from_cookie=False)


CredentialsDep = Annotated[Credentials | None, Depends(get_credentials)]


async def get_token_claims(request: Request, services: ServicesDep, credentials: CredentialsDep) -> TokenClaims | None:
    """The API's view of the credentials: a state-changing request signed by the cookie needs its page's CSRF token."""
    if credentials is None:
        return None
    if (
        credentials.from_cookie
        and request.method not in SAFE_METHODS
        and not csrf_matches(services.settings, credentials.claims, request.headers.get(CSRF_HEADER))
    ):
        raise ApiError(
            403, "csrf_failed", f"A signed-in browser request that changes state needs the {CSRF_HEADER} header of its page."
        )
    return credentials.claims


ClaimsDep = Annotated[TokenClaims | None, Depends(get_token_claims)]


def user_for_claims(session: Session, claims: TokenClaims | None) -> User | None:
    """The active user a token names; None without a token, 401 for an account gone or disabled."""
    if claims is None:
        return None
    user = active_user(session, claims)
    if user is None:
        raise _unauthorized("The account behind this token does not exist or is disabled.")
    return user


async def get_optional_user(claims: ClaimsDep, session: SessionDep) -> User | None:
    if claims is None:
        return None
    return await anyio.to_thread.run_sync(user_for_claims, session, claims)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise _unauthorized("This route needs a Bearer access token.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_claims(claims: ClaimsDep, _user: CurrentUser) -> TokenClaims:
    assert claims is not None
    return claims


CurrentClaims = Annotated[TokenClaims, Depends(get_current_claims)]


def get_visible_video(video_id: VideoIdPath, session: SessionDep, user: OptionalUser) -> Video:
    return video_service.visible_video(session, video_id, user)


VisibleVideo = Annotated[Video, Depends(get_visible_video)]


def get_owned_video(video_id: VideoIdPath, session: SessionDep, user: CurrentUser) -> Video:
    return video_service.owned_video(session, video_id, user)


OwnedVideo = Annotated[Video, Depends(get_owned_video)]


def get_ready_video(video: VisibleVideo) -> Video:
    video_service.require_ready(video)
    return video


ReadyVideo = Annotated[Video, Depends(get_ready_video)]


def get_playable_video(video: VisibleVideo, services: ServicesDep) -> Video:
    video_service.require_playable(services, video)
    return video


PlayableVideo = Annotated[Video, Depends(get_playable_video)]
