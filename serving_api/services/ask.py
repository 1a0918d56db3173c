"""Asking the archive: who may ask about what, and answers with links to the second.

Anyone may ask, as anyone may search: answers come from ready videos only, the
videos everyone may watch (a video still being processed, even the asker's
own, is never cited). Asking one video needs that video to be visible to the
asker (404 otherwise) and ready (409).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from pipeline.ask import Answer, AnswerError, AnswerEvent, Citation, Claim, Dropped, Scope
from pipeline.db.models import User
from serving_api.errors import ApiError
from serving_api.schemas.ask import AskIn, AskOut, CitationOut
from serving_api.services import videos as video_service
from serving_api.services.container import Services
from serving_api.urls import api_url


def scope_of(session: Session, viewer: User | None, body: AskIn) -> Scope:
    if body.video_id is not None:
        video_service.require_ready(video_service.visible_video(session, body.video_id, viewer))
    language = video_service.search_language(body.language, "body")
    return Scope(body.video_id, body.owner_id, body.created_from, body.created_to, language)


def opening_second(citation: Citation) -> float:
    """Where a citation's link opens its video: to the tenth of a second, never after the first word."""
    return math.floor(citation.start * 10) / 10


def citation_out(request: Request, services: Services, citation: Citation) -> CitationOut:
    at = opening_second(citation)
    return CitationOut(
        video_id=citation.video_id,
        title=citation.title,
        start=citation.start,
        end=citation.end,
        quote=citation.quote,
        url=api_url(request, services, "web_watch", f"t={at:g}", video_id=citation.video_id),
    )


def answer_out(request: Request, services: Services, answer: Answer) -> AskOut:
    return AskOut(
        answer=answer.answer,
        citations=[citation_out(request, services, c) for c in answer.citations],
        declined=answer.declined,
        reason=answer.reason,
    )


def unavailable(exc: AnswerError) -> ApiError:
    return ApiError(502, "answerer_unavailable", f"The question could not be answered: {exc}")


def ask(request: Request, services: Services, scope: Scope, question: str) -> AskOut:
    try:
        return answer_out(request, services, services.asker.answer(question, scope))
    except AnswerError as exc:
        raise unavailable(exc) from None


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def event_stream(request: Request, services: Services, scope: Scope, question: str) -> Iterator[str]:
    """Server-sent events: `claim` (a checked claim and its citation) as each is written, `dropped` (a claim
    whose citation failed, without its text), then `answer` (the whole answer, as `POST /ask` gives it), or
    `error`."""
    events: Iterator[AnswerEvent] = services.asker.answer_events(question, scope)
    try:
        for event in events:
            if isinstance(event, Claim):
                citation = citation_out(request, services, event.citation).model_dump()
                yield _event("claim", {"text": event.text, "citation": citation})
            elif isinstance(event, Dropped):
                yield _event("dropped", {"reason": event.reason})
            else:
                yield _event("answer", answer_out(request, services, event).model_dump())
    except AnswerError as exc:
        yield _event("error", {"code": "answerer_unavailable", "message": f"The question could not be answered: {exc}"})
