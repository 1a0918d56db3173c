"""Full-text search through the API, on documents indexed through the SearchIndex interface."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.db.models import VideoStatus
from tests.api.conftest import API, seed_video


def _search(client, headers=None, **params):
    return client.get(f"{API}/videos/search", params=params, headers=headers or {})


def test_search_ranks_highlights_and_locates_spoken_words(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    river = seed_video(
        client,
        alice,
        title="Kayaking",
        index_text="the river otters play near the weir",
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    seed_video(client, bob, title="Cooking", index_text="bread and butter recipes")
    hidden = seed_video(client, alice, title="Otters draft", status=VideoStatus.SUMMARIZING, index_text="otters everywhere")
    response = _search(client, q="otters")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [hit["video_id"] for hit in body["hits"]] == [river] and body["total"] == 1  # status defaults to ready
    (hit,) = body["hits"]
    assert "<mark>" in hit["snippet"].lower() and hit["status"] == "ready"
    assert [(m["start"], m["end"]) for m in hit["matches"]] == [(2.0, 4.0)]  # where "otters" is spoken

    assert _search(client, q="otters", owner_id=bob.id).json()["hits"] == []
    assert _search(client, q="otters", created_from="2026-03-01T00:00:00").json()["hits"] == []
    assert len(_search(client, q="otters", created_to="2026-02-02T00:00:00Z").json()["hits"]) == 1
    # Other statuses: only the caller's own videos.
    assert _search(client, q="otters", status="summarizing").status_code == 401
    assert _search(client, alice.headers, q="otters", status="summarizing").json()["hits"][0]["video_id"] == hidden
    assert _search(client, bob.headers, q="otters", status="summarizing").json()["hits"] == []
    assert _search(client, bob.headers, q="otters", status="summarizing", owner_id=alice.id).status_code == 403


def test_search_paginates_with_a_cursor(sqlite_client) -> None:
    ids = {seed_video(sqlite_client, None, title=f"Lecture {i}", index_text="photosynthesis in leaves") for i in range(3)}
    first = _search(sqlite_client, q="photosynthesis", limit=2).json()
    assert len(first["hits"]) == 2 and first["total"] == 3 and first["next_cursor"]
    second = _search(sqlite_client, q="photosynthesis", limit=2, cursor=first["next_cursor"]).json()
    assert {h["video_id"] for h in first["hits"] + second["hits"]} == ids and second["next_cursor"] is None
    bad = _search(sqlite_client, q="photosynthesis", cursor="not-a-cursor")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"
    assert _search(sqlite_client, q="").status_code == 422
