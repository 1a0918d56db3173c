"""FastAPI dependencies: services, database sessions, the current user, visible/owned videos.

Authentication is a Bearer JWT, or the same token in the web app's session
cookie (HttpOnly, SameSite=Strict). A cookie rides along with any request
the browser makes, so a state-changing request authenticated by the cookie
must also carry the session's CSRF token (`X-CSRF-Token`); an invalid or
expired cookie counts as signed out. Routes that need a user depend on
`CurrentUser`; public routes carry `openapi_extra=PUBLIC` so that being
public is a visible, deliberate choice (a test checks every other route
answers 401 without a token). Public routes that behave differently for a
signed-in user depend on `OptionalUser`: a token sent must still be valid.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated, ParamSpec, TypeVar

import anyio.to_thread
import jwt
from anyio import CapacityLimiter
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline import hls, keys
from pipeline.db.models import User, Video, VideoStatus
from serving_api.db_gate import queue_deadline
from serving_api.errors import ApiError, not_found
from serving_api.security import SESSION_COOKIE, TokenClaims, csrf_matches, decode_access_token
from serving_api.services import Services
from serving_api.validation import VideoIdPath

API_PREFIX = "/api/v1"
PUBLIC = {"x-public": True}

T = TypeVar("T")
P = ParamSpec("P")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/login", auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(request: Request, services: ServicesDep) -> AsyncIterator[Session]:
    """A session for this request, once the database gate admits it (see serving_api/db_gate.py).

    Closed when the endpoint returns (scope "function"), before a streamed body is sent.
    The close runs in a worker thread outside the shared threadpool's limit, as FastAPI does
    for its own teardowns: a request holding a connection never queues for a thread to give
    it back.
    """
    async with services.db_gate.slot(queue_deadline(request)):
        session = services.sessions()
        try:
            yield session
        finally:
            await anyio.to_thread.run_sync(session.close, limiter=CapacityLimiter(1))


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def in_session(request: Request, services: Services, work: Callable[[Session], T]) -> T:
    """`work(session)` in a worker thread, with a session of its own, once the database gate admits it.

    For endpoints that also do slow work without the database (password hashing): the
    connection is held for the queries only, not through the rest.
    """
    def run() -> T:
        with services.sessions() as session:
            return work(session)

    async with services.db_gate.slot(queue_deadline(request)):
        return await run_in_threadpool(run)


async def password_work(request: Request, services: Services, hashing: Callable[P, T],
                                *args: P.args, **kwargs: P.kwargs) -> T:
    """An Argon2 hash or check, once the password gate admits it (PASSWORD_HASH_CONCURRENCY at once).

    It runs on a thread of its own, outside the shared threadpool's limit: the gate is its bound.
    """
    async with services.password_gate.slot(queue_deadline(request)):
        return await anyio.to_thread.run_sync(functools.partial(hashing, *args, **kwargs), limiter=CapacityLimiter(1))


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy forwarded (TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


def _cookie_claims(request: Request, services: Services) -> TokenClaims | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        claims = decode_access_token(services.settings, cookie)
    except jwt.InvalidTokenError:
        return None
    if services.revocations.is_revoked(claims.jti):
        return None
    if request.method not in SAFE_METHODS and not csrf_matches(services.settings, claims,
                                                                request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", f"A signed-in browser request that changes state needs the "
                                           f"{CSRF_HEADER} header of its page.")
    return claims


def get_token_claims(request: Request, services: ServicesDep,
                     token: Annotated[str | None, Depends(oauth2_scheme)]) -> TokenClaims | None:
    if token is None:
        return _cookie_claims(request, services)
    try:
        claims = decode_access_token(services.settings, token)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The access token is invalid.") from None
    if services.revocations.is_revoked(claims.jti):
        raise _unauthorized("The access token has been revoked.")
    return claims


ClaimsDep = Annotated[TokenClaims | None, Depends(get_token_claims)]


def get_optional_user(claims: ClaimsDep, session: SessionDep) -> User | None:
    if claims is None:
        return None
    user = session.get(User, int(claims.subject)) if claims.subject.isdigit() else None
    if user is None or not user.is_active:
        raise _unauthorized("The account behind this token does not exist or is disabled.")
    return user


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


def is_visible(video: Video, user: User | None) -> bool:
    """Ready videos are public (as on PeerTube); anything else only its owner sees."""
    return video.status == VideoStatus.READY.value or (user is not None and video.owner_id == user.id)


def get_visible_video(video_id: VideoIdPath, session: SessionDep, user: OptionalUser) -> Video:
    video = session.get(Video, video_id)
    if video is None or not is_visible(video, user):
        raise not_found(f"Video {video_id}")
    return video


VisibleVideo = Annotated[Video, Depends(get_visible_video)]


def get_owned_video(video_id: VideoIdPath, session: SessionDep, user: CurrentUser) -> Video:
    """The caller's own video; 403 for a video they can see but do not own, 404 otherwise."""
    video = get_visible_video(video_id, session, user)
    if video.owner_id != user.id:
        raise ApiError(403, "forbidden", "Only the owner of this video can change or delete it.")
    return video


OwnedVideo = Annotated[Video, Depends(get_owned_video)]


def require_ready(video: Video) -> None:
    """A video still being processed answers with its status, not a broken URL."""
    if video.status != VideoStatus.READY.value:
        raise ApiError(409, "video_not_ready", f"Video {video.id} is not ready yet (status: {video.status}).",
                       details={"status": video.status, "status_message": video.status_message})


def get_ready_video(video: VisibleVideo) -> Video:
    require_ready(video)
    return video


ReadyVideo = Annotated[Video, Depends(get_ready_video)]


def get_playable_video(video: VisibleVideo, services: ServicesDep) -> Video:
    """A ready video, or one still being processed whose lowest rung already streams: the pipeline
    publishes that rung's HLS while it encodes the ladder (`hls.LivePreview`), master playlist last."""
    if video.status not in (VideoStatus.READY.value, VideoStatus.FAILED.value) \
            and services.store.exists(keys.hls_key(video.id, hls.MASTER_PLAYLIST)):
        return video
    require_ready(video)
    return video


PlayableVideo = Annotated[Video, Depends(get_playable_video)]
