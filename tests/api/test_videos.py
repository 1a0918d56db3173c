"""Listing, reading, changing and deleting videos; who may see and touch what."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from pipeline import keys
from pipeline.db.models import OutboxEvent, Video, VideoRequest, VideoStatus
from pipeline.db.session import session_scope
from tests.api.conftest import API, make_user_in, seed_video, services_of


def _list(client, headers=None, **params):
    response = client.get(f"{API}/videos/list", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def test_list_is_newest_first_with_a_cursor_stable_under_new_videos(client, make_user) -> None:
    owner = make_user()
    ids = [seed_video(client, owner, title=f"v{i}") for i in range(5)]
    first = _list(client, limit=2)
    assert [v["id"] for v in first["items"]] == [ids[4], ids[3]]
    seed_video(client, owner, title="arrived meanwhile")  # newest of all: must not shift the next page
    second = _list(client, limit=2, cursor=first["next_cursor"])
    assert [v["id"] for v in second["items"]] == [ids[2], ids[1]]
    third = _list(client, limit=2, cursor=second["next_cursor"])
    assert [v["id"] for v in third["items"]] == [ids[0]] and third["next_cursor"] is None


def test_same_timestamp_rows_page_by_id(sqlite_client) -> None:
    owner = make_user_in(sqlite_client)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    ids = [seed_video(sqlite_client, owner, created_at=moment) for _ in range(3)]
    first = _list(sqlite_client, limit=2)
    rest = _list(sqlite_client, limit=2, cursor=first["next_cursor"])
    assert [v["id"] for v in first["items"] + rest["items"]] == sorted(ids, reverse=True)


def test_list_filters_and_visibility(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    a_ready = seed_video(client, alice)
    a_pending = seed_video(client, alice, status=VideoStatus.TRANSCODING)
    b_ready = seed_video(client, bob)
    b_failed = seed_video(client, bob, status=VideoStatus.FAILED)

    def ids(headers=None, **params):
        return {v["id"] for v in _list(client, headers, **params)["items"]}

    assert ids() == {a_ready, b_ready}  # anonymous: ready videos only
    assert ids(alice.headers) == {a_ready, a_pending, b_ready}  # plus her own at any status
    assert ids(alice.headers, mine="true") == {a_ready, a_pending}
    assert ids(alice.headers, status="transcoding") == {a_pending}
    assert ids(owner_id=bob.id) == {b_ready}
    assert ids(bob.headers, owner_id=bob.id, status="failed") == {b_failed}
    assert client.get(f"{API}/videos/list", params={"mine": "true"}).status_code == 401


def test_list_rejects_bad_cursors_and_limits(sqlite_client) -> None:
    for params, status in (
        ({"cursor": "garbage!"}, 422),
        ({"cursor": "eyJ4IjoxfQ"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"status": "nope"}, 422),
    ):
        response = sqlite_client.get(f"{API}/videos/list", params=params)
        assert response.status_code == status, params
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_get_video_visibility(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    ready = seed_video(client, alice, materialize=True, variant_bytes=b"x" * 10)
    pending = seed_video(client, alice, status=VideoStatus.PENDING)
    detail = client.get(f"{API}/videos/{ready}")
    assert detail.status_code == 200
    assert detail.json()["variants"][0]["label"] == "360p" and detail.json()["has_thumbnail"] is True
    assert client.get(f"{API}/videos/{pending}").status_code == 404
    assert client.get(f"{API}/videos/{pending}", headers=bob.headers).status_code == 404
    assert client.get(f"{API}/videos/{pending}", headers=alice.headers).json()["status"] == "pending"
    assert client.get(f"{API}/videos/999999").json()["error"]["code"] == "not_found"


def test_only_the_owner_changes_a_video(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    ready = seed_video(client, alice, title="Old title", index_text="otters")
    pending = seed_video(client, alice, status=VideoStatus.TRANSCRIBING)
    body = {"title": "New title", "description": "Better words"}
    assert client.patch(f"{API}/videos/{ready}", json=body).status_code == 401
    forbidden = client.patch(f"{API}/videos/{ready}", json=body, headers=bob.headers)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert client.patch(f"{API}/videos/{pending}", json=body, headers=bob.headers).status_code == 404
    assert client.get(f"{API}/videos/{ready}").json()["title"] == "Old title"
    assert client.patch(f"{API}/videos/{ready}", json={"title": ""}, headers=alice.headers).status_code == 422

    changed = client.patch(f"{API}/videos/{ready}", json=body, headers=alice.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "New title" and changed.json()["description"] == "Better words"
    document = services_of(client).search.get(ready)
    assert document is not None and document.title == "New title" and document.transcript == "otters"


def test_only_the_owner_deletes_a_video_and_everything_goes(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    vid = seed_video(client, alice, materialize=True, variant_bytes=b"x" * 100, index_text="otters")
    services = services_of(client)
    with session_scope(services.engine) as session:
        session.get(Video, vid).source_key = f"uploads/20260101T000000000000Z-{vid}.mp4"
    services.store.put_bytes(f"uploads/20260101T000000000000Z-{vid}.mp4", b"original")

    assert client.delete(f"{API}/videos/{vid}", headers=bob.headers).status_code == 403
    assert client.get(f"{API}/videos/{vid}").status_code == 200
    assert client.delete(f"{API}/videos/{vid}").status_code == 401

    assert client.delete(f"{API}/videos/{vid}", headers=alice.headers).status_code == 204
    assert client.get(f"{API}/videos/{vid}").status_code == 404
    assert services.store.list(keys.video_prefix(vid)) == [] and services.store.list("uploads/") == []
    assert services.search.get(vid) is None
    assert client.delete(f"{API}/videos/{vid}", headers=alice.headers).status_code == 404
    # The pipeline is asked to stop its runs and remove its partition (orchestration/video_requests.py).
    with session_scope(services.engine) as session:
        requests = session.scalars(select(VideoRequest).where(VideoRequest.video_id == vid)).all()
        assert [(r.kind, r.done_at) for r in requests] == [("delete", None)]
        assert session.scalars(select(OutboxEvent.topic).where(OutboxEvent.key == str(vid))).all() == ["video.deleted"]


def test_the_owner_retries_a_failed_video_and_the_pipeline_is_asked_for_its_run(client, make_user) -> None:
    alice, bob = make_user(), make_user()
    failed = seed_video(client, alice, status=VideoStatus.FAILED)
    ready = seed_video(client, alice)
    services = services_of(client)
    with session_scope(services.engine) as session:
        for vid in (failed, ready):
            video = session.get(Video, vid)
            video.source_key, video.status_message = f"uploads/20260101T000000000000Z-{vid}.mp4", "It broke."

    assert client.post(f"{API}/videos/{failed}/retry").status_code == 401
    assert client.post(f"{API}/videos/{failed}/retry", headers=bob.headers).status_code == 404  # not visible to bob
    assert client.post(f"{API}/videos/{ready}/retry", headers=alice.headers).status_code == 409
    answer = client.post(f"{API}/videos/{failed}/retry", headers=alice.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending" and answer.json()["status_message"] is None
    assert client.post(f"{API}/videos/{failed}/retry", headers=alice.headers).status_code == 409  # asked once
    with session_scope(services.engine) as session:
        requests = session.scalars(select(VideoRequest).where(VideoRequest.video_id == failed)).all()
        assert [(r.kind, r.done_at) for r in requests] == [("retry", None)]
