"""POST /api/v1/ask and its server-sent events, through the real app on SQLite with a real archive indexed as the
pipeline indexes videos; the OpenAI-compatible answerer against a fake that speaks the wire protocol over HTTP."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.embeddings import embedder_from_settings
from tests.api.conftest import API, make_user_in, services_of
from tests.ask.archive import load, talk
from tests.fixtures.llm import FakeOpenAI

FESTIVAL = "The Vorlane festival takes place every August in the old harbour."
VAULT = "The Quillon vault opens at exactly midnight every Friday."
JWT = "test-secret-" + "x" * 32
PUBLIC = "https://videos.example.org"


@pytest.fixture
def asked(make_client, make_settings, tmp_path):
    """An API on SQLite whose archive holds a ready video saying when the festival is, and a video being processed
    (another user's) saying when the vault opens; returns a function starting it with more settings."""

    def start(**settings: str):
        client = make_client(
            make_settings(
                DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}",
                JWT_SECRET=JWT,
                PUBLIC_BASE_URL="https://videos.example.org",
                **settings,
            )
        )
        services = services_of(client)
        reader, owner = make_user_in(client), make_user_in(client)
        videos = [talk(1, "Harbour days", (FESTIVAL,), owner_id=reader.id), talk(2, "Vault tour", (VAULT,), owner_id=owner.id)]
        embedder = embedder_from_settings(services.settings.embeddings, services.settings.openai)
        load([d for d, _ in videos], services.engine, services.search, services.vectors, embedder, processing=(2,))
        return client, reader, owner, {s.sentence: s for _, said in videos for s in said}

    return start


def test_an_answer_cites_the_second_with_a_link_to_the_watch_page(asked) -> None:
    client, _, _, said = asked()
    response = client.post(f"{API}/ask", json={"question": "When does the Vorlane festival take place?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["declined"] is False and body["reason"] is None
    citation = body["citations"][0]
    assert citation["video_id"] == 1 and citation["quote"] == FESTIVAL and citation["title"] == "Harbour days"
    assert citation["start"] == said[FESTIVAL].start
    assert citation["url"] == f"{PUBLIC}/watch/1?t={said[FESTIVAL].start:g}"
    assert body["answer"] == f"{FESTIVAL} [1]"

    declined = client.post(f"{API}/ask", json={"question": "Who built the Marbleton lighthouse?"}).json()
    assert declined == {"answer": "", "citations": [], "declined": True, "reason": "not found in the archive"}


def test_a_video_the_asker_cannot_watch_is_never_cited(asked) -> None:
    client, reader, owner, _ = asked()
    question = {"question": "When does the Quillon vault open?"}
    for headers in ({}, reader.headers, owner.headers):
        body = client.post(f"{API}/ask", json=question, headers=headers).json()
        assert body["declined"] and body["citations"] == []
        streamed = client.post(f"{API}/ask/stream", json=question, headers=headers).text
        assert "Quillon" not in streamed
    # Asking that one video: not found for others, not ready for its owner.
    assert client.post(f"{API}/ask", json={**question, "video_id": 2}, headers=reader.headers).status_code == 404
    refused = client.post(f"{API}/ask", json={**question, "video_id": 2}, headers=owner.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "video_not_ready"
    assert client.post(f"{API}/ask", json={**question, "video_id": 99}).status_code == 404


def test_bad_questions_are_refused_clearly(asked) -> None:
    client, *_ = asked()
    for body in (
        {"question": ""},
        {"question": "x" * 501},
        {"question": "what\x00"},
        {"question": "when?", "surprise": 1},
        {"question": "when?", "language": "not a language"},
        {"question": "when?", "language": "xq"},
        {"question": "when?", "video_id": 0},
        {},
    ):
        response = client.post(f"{API}/ask", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"


def _events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_the_embedded_answer_streams_its_claims_then_the_answer(asked) -> None:
    client, *_ = asked()
    question = {"question": "When does the Vorlane festival take place?"}
    with client.stream("POST", f"{API}/ask/stream", json=question) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.read().decode())
    assert [name for name, _ in events] == ["claim", "answer"]
    assert events[0][1]["citation"]["quote"] == FESTIVAL
    assert events[1][1] == client.post(f"{API}/ask", json=question).json()


def _openai(fake: FakeOpenAI) -> dict[str, str]:
    return {"ASK_PROVIDER": "openai", "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key, "LLM_MAX_RETRIES": "0"}


def test_a_model_answer_streams_checked_claims_and_drops_the_unsupported(asked, fake_openai: FakeOpenAI) -> None:
    client, *_ = asked(**_openai(fake_openai))
    fake_openai.responder = lambda body: "\n".join(
        [
            json.dumps({"claim": "The Vorlane festival is every August.", "source": 1, "quote": "takes place every August"}),
            json.dumps({"claim": "It has fireworks.", "source": 1, "quote": "the fireworks light the harbour"}),
        ]
    )
    question = {"question": "When does the Vorlane festival take place?"}
    with client.stream("POST", f"{API}/ask/stream", json=question) as response:
        events = _events(response.read().decode())
    assert [name for name, _ in events] == ["claim", "dropped", "answer"]
    assert events[0][1]["citation"]["quote"] == "takes place every August"
    assert "fireworks" not in json.dumps(events[1][1])  # a dropped claim's text is not passed on
    final = events[2][1]
    assert final["answer"] == "The Vorlane festival is every August. [1]" and len(final["citations"]) == 1
    assert client.post(f"{API}/ask", json=question).json() == final

    fake_openai.fail_next(503, count=4)
    failed = client.post(f"{API}/ask", json=question)
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "answerer_unavailable"
    fake_openai.fail_next(503, count=4)
    assert _events(client.post(f"{API}/ask/stream", json=question).text)[-1][0] == "error"


def test_the_ask_pages_never_show_a_video_the_asker_cannot_watch(asked) -> None:
    client, _, owner, said = asked()
    page = client.get("/ask", params={"q": "When does the Vorlane festival take place?"})
    assert page.status_code == 200 and FESTIVAL in page.text
    at = math.floor(said[FESTIVAL].start * 10) / 10
    assert f'href="/watch/1?t={at}"' in page.text
    vault = client.get("/ask", params={"q": "When does the Quillon vault open?"}, headers=owner.headers)
    assert "Not found in the archive" in vault.text and "midnight" not in vault.text
    assert client.get("/ask", params={"q": "When does the Quillon vault open?", "video": 2}).status_code == 404
    assert client.get("/watch/1", params={"ask": "When does the Quillon vault open?"}).text.count("midnight") == 0
    watched = client.get("/watch/1", params={"ask": "In which month is the Vorlane festival held?"})
    assert watched.status_code == 200 and f'data-start="{at}"' in watched.text
