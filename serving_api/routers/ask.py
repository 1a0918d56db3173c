"""Ask the archive: a question answered from what was said, every claim linked to the second it is said."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from serving_api.deps import PUBLIC, OptionalUser, ServicesDep, SessionDep
from serving_api.errors import error_responses
from serving_api.schemas.ask import AskIn, AskOut
from serving_api.services import ask as ask_service

router = APIRouter(prefix="/ask", tags=["ask"])


@router.post("", response_model=AskOut, responses=error_responses(401, 404, 409, 422, 502), openapi_extra=PUBLIC)
def ask_archive(body: AskIn, request: Request, services: ServicesDep, session: SessionDep, user: OptionalUser) -> AskOut:
    """Answer a question from the transcripts of the videos the caller may watch (or of one video): the
    sentences said that answer it, each cited with its video, second and a link to the watch page there; or
    `declined` with the reason ("not found in the archive") when the evidence is weak."""
    return ask_service.ask(request, services, ask_service.scope_of(session, user, body), body.question)


@router.post(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "Server-sent events: `claim`, `dropped`, then `answer` (or `error`), each with JSON data.",
        },
        **error_responses(401, 404, 409, 422),
    },
    openapi_extra=PUBLIC,
)
def ask_archive_stream(
    body: AskIn, request: Request, services: ServicesDep, session: SessionDep, user: OptionalUser
) -> StreamingResponse:
    """The same answer as server-sent events: each checked claim with its citation as soon as the model has
    written it (`claim`), each claim dropped because its citation failed (`dropped`, its reason only), then
    the whole answer (`answer`, as `POST /ask` returns it), or `error`."""
    scope = ask_service.scope_of(session, user, body)
    return StreamingResponse(
        ask_service.event_stream(request, services, scope, body.question),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
