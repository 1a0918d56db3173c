"""The viewer web app's pages: home, sign up / log in / log out, upload, watch, search.

Server-rendered Jinja2 templates (autoescaped: user text is always shown as
text), with small plain scripts under /static (no inline script, so the
Content-Security-Policy can forbid it). The pages call the same service layer
as the JSON API (`serving_api.services`) and know who is signed in through the
same credentials dependency; their scripts call the JSON API with the session
cookie (and the page's CSRF token for anything that changes state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pipeline import languages
from pipeline.ask import AnswerError, Scope
from pipeline.db.models import MAX_ID, User, VideoStatus
from serving_api.deps import Credentials, CredentialsDep, DeadlineDep, ServicesDep, SessionDep, client_address
from serving_api.errors import ApiError
from serving_api.schemas.ask import QUESTION_MAX_LENGTH
from serving_api.schemas.auth import SignupIn
from serving_api.security import SESSION_COOKIE, TokenClaims, csrf_matches, csrf_token
from serving_api.services import Services, accounts, playback
from serving_api.services import ask as ask_service
from serving_api.services import videos as video_service
from serving_api.services.gated import in_session
from serving_api.urls import ObjectLinks
from serving_api.web.moments import spoken_moment
from serving_api.web.text import highlighted

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC_DIR = Path(__file__).parent / "static"
HOME_PAGE_SIZE = 12
PROCESSING_SHOWN = 50
MY_PAGE_SIZE = 24
# The steps a video goes through before it is ready (pipeline/lifecycle.py), for progress bars.
STAGES = [VideoStatus.TRANSCODING, VideoStatus.TRANSCRIBING, VideoStatus.SUMMARIZING, VideoStatus.INDEXING, VideoStatus.READY]


def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


templates.env.filters["clock"] = clock
templates.env.filters["date"] = lambda value: value.strftime("%Y-%m-%d") if isinstance(value, datetime) else ""
templates.env.filters["highlighted"] = highlighted
templates.env.globals["stages"] = " ".join(stage.value for stage in STAGES)
templates.env.globals["step"] = lambda status: next((i + 1 for i, stage in enumerate(STAGES) if stage.value == status), 0)


@dataclass(frozen=True)
class WebSession:
    user: User | None
    claims: TokenClaims | None
    csrf: str | None


def _web_session(session: Session, services: Services, credentials: Credentials | None) -> WebSession:
    user = accounts.active_user(session, credentials.claims) if credentials is not None else None
    if credentials is None or user is None:
        return WebSession(None, None, None)  # an expired, revoked or disabled session is just signed out
    return WebSession(user, credentials.claims, csrf_token(services.settings, credentials.claims))


def web_session(services: ServicesDep, session: SessionDep, credentials: CredentialsDep) -> WebSession:
    """The signed-in user of the request, or nobody."""
    return _web_session(session, services, credentials)


WebSessionDep = Annotated[WebSession, Depends(web_session)]


async def web_session_briefly(services: Services, deadline: float, credentials: Credentials | None) -> WebSession:
    """The web session for pages that hash a password: its connection is not held through the hash."""
    return await in_session(services, deadline, lambda session: _web_session(session, services, credentials))


def render(request: Request, web: WebSession, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"user": web.user, "csrf": web.csrf, **context},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def _same_origin(request: Request) -> bool:
    """A form post from our own pages (browsers send Origin on every POST)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    base = urlsplit(str(request.base_url))
    return origin.rstrip("/") == f"{base.scheme}://{base.netloc}"


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _signed_in(request: Request, services: Services, token: str, target: str) -> RedirectResponse:
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.settings.auth.access_token_minutes * 60,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# --- home -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, name="web_home")
def home(
    request: Request, web: WebSessionDep, session: SessionDep, services: ServicesDep, cursor: str | None = None
) -> HTMLResponse:
    page = _page_of(cursor, lambda after: video_service.list_videos(session, None, cursor=after, limit=HOME_PAGE_SIZE))
    owners = video_service.owner_names(session, (v.owner_id for v in page.items))
    processing = video_service.in_progress(session, web.user, PROCESSING_SHOWN) if web.user is not None else []
    live = {v.id for v in processing if video_service.streams_live(services, v)}
    return render(
        request,
        web,
        "home.html",
        videos=page.items,
        owners=owners,
        next_cursor=page.next_cursor,
        processing=processing,
        live=live,
        first_page=not cursor,
        videos_limit=HOME_PAGE_SIZE,
    )


def _page_of(cursor: str | None, fetch: Callable[[str | None], video_service.VideoRows]) -> video_service.VideoRows:
    """The page of videos after `cursor`; a stale or mangled cursor starts again from the newest."""
    try:
        return fetch(cursor)
    except ApiError:
        return fetch(None)


@router.get("/my-videos", response_class=HTMLResponse, name="web_my_videos")
def my_videos_page(
    request: Request, web: WebSessionDep, session: SessionDep, services: ServicesDep, cursor: str | None = None
) -> Response:
    if web.user is None:
        return RedirectResponse("/login?next=/my-videos", status_code=303)
    user = web.user
    page = _page_of(cursor, lambda after: video_service.list_videos(session, user, cursor=after, limit=MY_PAGE_SIZE, mine=True))
    live = {v.id for v in page.items if video_service.streams_live(services, v)}
    return render(request, web, "my_videos.html", videos=page.items, next_cursor=page.next_cursor, live=live)


@router.get("/channel/{owner_id}", response_class=HTMLResponse, name="web_channel")
def channel_page(
    owner_id: int, request: Request, web: WebSessionDep, session: SessionDep, cursor: str | None = None
) -> HTMLResponse:
    owner = accounts.public_user(session, owner_id)
    if owner is None:
        return render(request, web, "error.html", status_code=404, title="Channel not found", message="There is no such channel.")
    page = _page_of(
        cursor, lambda after: video_service.list_videos(session, None, cursor=after, limit=HOME_PAGE_SIZE, owner_id=owner.id)
    )
    return render(
        request,
        web,
        "channel.html",
        owner=owner,
        owner_name=accounts.display_name(owner),
        videos=page.items,
        next_cursor=page.next_cursor,
    )


@router.get("/favicon.ico", name="web_favicon")
def favicon() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


# --- sign up, log in, log out ------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse, name="web_signup")
def signup_page(request: Request, web: WebSessionDep) -> HTMLResponse:
    return render(request, web, "signup.html", error=None, email="", full_name="")


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(
    request: Request,
    services: ServicesDep,
    deadline: DeadlineDep,
    credentials: CredentialsDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    full_name: Annotated[str, Form()] = "",
) -> Response:
    async def again(message: str, status_code: int) -> HTMLResponse:
        return render(
            request,
            await web_session_briefly(services, deadline, credentials),
            "signup.html",
            status_code=status_code,
            error=message,
            email=email,
            full_name=full_name,
        )

    if not _same_origin(request):
        return await again("This form must be sent from this site.", 403)
    try:
        body = SignupIn(email=email, password=password, full_name=full_name.strip() or None)
    except ValidationError as exc:
        return await again("; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors()), 422)
    try:
        await accounts.sign_up(services, deadline, body)
        issued = await accounts.log_in(services, deadline, email, password, client_address(request))
    except ApiError as exc:
        return await again(exc.detail, exc.status_code)
    return _signed_in(request, services, issued.token, "/")


@router.get("/login", response_class=HTMLResponse, name="web_login")
def login_page(request: Request, web: WebSessionDep, next: str = "/") -> HTMLResponse:
    return render(request, web, "login.html", error=None, email="", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    services: ServicesDep,
    deadline: DeadlineDep,
    credentials: CredentialsDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    async def again(message: str, status_code: int) -> HTMLResponse:
        return render(
            request,
            await web_session_briefly(services, deadline, credentials),
            "login.html",
            status_code=status_code,
            error=message,
            email=email,
            next=_safe_next(next),
        )

    if not _same_origin(request):
        return await again("This form must be sent from this site.", 403)
    try:
        issued = await accounts.log_in(services, deadline, email, password, client_address(request))
    except ApiError as exc:
        return await again(exc.detail, exc.status_code)
    return _signed_in(request, services, issued.token, next)


@router.post("/logout")
def logout_submit(
    request: Request, web: WebSessionDep, services: ServicesDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    if web.claims is not None:
        if not csrf_matches(services.settings, web.claims, csrf_token):
            return render(
                request,
                web,
                "error.html",
                status_code=403,
                title="Not signed out",
                message="The sign-out form was not sent from this site's page.",
            )
        accounts.log_out(services, web.claims)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- upload -----------------------------------------------------------------------------------


@router.get("/upload", response_class=HTMLResponse, name="web_upload")
def upload_page(request: Request, web: WebSessionDep, services: ServicesDep) -> Response:
    if web.user is None:
        return RedirectResponse("/login?next=/upload", status_code=303)
    return render(
        request,
        web,
        "upload.html",
        max_bytes=services.settings.uploads.max_bytes,
        languages=sorted(languages.NAMES.items(), key=lambda item: item[1]),
    )


# --- watch ------------------------------------------------------------------------------------


def _not_found(request: Request, web: WebSession) -> HTMLResponse:
    return render(
        request,
        web,
        "error.html",
        status_code=404,
        title="Video not found",
        message="There is no such video, or it is not yours to see.",
    )


@router.get("/watch/{video_id}", response_class=HTMLResponse, name="web_watch")
def watch_page(
    video_id: int,
    request: Request,
    web: WebSessionDep,
    session: SessionDep,
    services: ServicesDep,
    t: Annotated[float | None, Query(ge=0)] = None,
    ask: Annotated[str, Query(max_length=QUESTION_MAX_LENGTH)] = "",
) -> HTMLResponse:
    try:
        video = video_service.visible_video(session, video_id, web.user)
    except ApiError:
        return _not_found(request, web)
    if video.status != VideoStatus.READY.value:
        return render(request, web, "processing.html", video=video, live=video_service.streams_live(services, video))
    watch = playback.watch(session, services, ObjectLinks(request, services), video)
    summary_row = playback.summary_row(session, video)
    # MP4 fallback: the largest rung up to 720p plays almost anywhere.
    mp4 = max(
        (v for v in watch.variants if v.height <= 720 or v.width <= 720),
        key=lambda v: v.height,
        default=watch.variants[0] if watch.variants else None,
    )
    owner = session.get(User, video.owner_id) if video.owner_id else None
    start = t if t is not None and (video.duration_seconds is None or t < video.duration_seconds) else 0.0
    answer, ask_error = _answer(services, ask, Scope(video_id=video.id))
    return render(
        request,
        web,
        "watch.html",
        video=video,
        watch=watch,
        mp4=mp4,
        summary=summary_row.summary if summary_row is not None else "",
        segments=playback.segment_rows(session, video),
        chapters=playback.chapters(session, video),
        start=start,
        owner=owner,
        owner_name=accounts.display_name(owner) if owner else None,
        ask=ask.strip(),
        answer=answer,
        ask_error=ask_error,
    )


# --- search -----------------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse, name="web_search")
def search_page(
    request: Request,
    web: WebSessionDep,
    services: ServicesDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500)] = "",
    cursor: str | None = None,
) -> HTMLResponse:
    hits, total, next_cursor, error = [], 0, None, None
    if q.strip():
        try:
            # Words and meaning (hybrid): a hit found by meaning opens at its best passage.
            page = video_service.search_videos(services, None, q, limit=10, cursor=cursor)
            hits, total, next_cursor = page.hits, page.total, page.next_cursor
        except ApiError:  # only a cursor can be refused here
            error = "That page of results is no longer available; search again."
    moments = {
        hit.video_id: [(math.floor(spoken_moment(m.start, m.end, m.text, q) * 10) / 10, m) for m in hit.matches]
        or ([(math.floor(hit.moment.start * 10) / 10, hit.moment)] if hit.moment is not None else [])
        for hit in hits
    }
    suggestions = video_service.search_suggestions(session) if not hits and not error else []
    return render(
        request,
        web,
        "search.html",
        q=q,
        hits=hits,
        total=total,
        next_cursor=next_cursor,
        moments=moments,
        error=error,
        suggestions=suggestions,
    )


# --- ask --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownCitation:
    video_id: int
    title: str
    quote: str
    at: float  # where its link opens the video


@dataclass(frozen=True)
class ShownAnswer:
    declined: bool
    citations: list[ShownCitation]


def _answer(services: Services, question: str, scope: Scope) -> tuple[ShownAnswer | None, str | None]:
    """The answer to show (None when nothing was asked), or why there is none."""
    if not question.strip():
        return None, None
    try:
        answer = services.asker.answer(question.strip(), scope)
    except AnswerError:
        return None, "The question could not be answered just now; try again in a moment."
    cited = [ShownCitation(c.video_id, c.title, c.quote, ask_service.opening_second(c)) for c in answer.citations]
    return ShownAnswer(answer.declined, cited), None


@router.get("/ask", response_class=HTMLResponse, name="web_ask")
def ask_page(
    request: Request,
    web: WebSessionDep,
    services: ServicesDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=QUESTION_MAX_LENGTH)] = "",
    video: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    asked = None
    if video is not None:
        try:
            asked = video_service.visible_video(session, video, web.user)
            video_service.require_ready(asked)
        except ApiError:
            return _not_found(request, web)
    answer, error = _answer(services, q, Scope(video_id=video))
    return render(request, web, "ask.html", question=q.strip(), video=asked, answer=answer, error=error)
