"""A video's spoken language on every upload path (multipart, presigned, tus, `videoai ingest`, the web form),
refused with a clear error when it is no language, and editable by its owner (the pipeline is asked to redo what
depends on it)."""

from __future__ import annotations

import base64
from pathlib import Path

from sqlalchemy import select

from pipeline.db.models import Video, VideoRequest
from pipeline.db.session import make_engine, session_scope
from tests.api.conftest import API, make_user_in, seed_video, services_of
from tests.cli.test_ingest import run_videoai

TUS = f"{API}/uploads/tus"


def _language_of(client, video_id: int) -> str | None:
    with session_scope(services_of(client).engine) as session:
        return session.get(Video, video_id).language


def test_multipart_upload_stores_the_stated_language(sqlite_client, small_video_path: Path) -> None:
    user = make_user_in(sqlite_client)
    files = {"file": (small_video_path.name, small_video_path.read_bytes(), "video/mp4")}
    done = sqlite_client.post(f"{API}/videos/upload", data={"title": "Clip", "language": "FR"}, files=files, headers=user.headers)
    assert done.status_code == 201, done.text
    assert done.json()["language"] == "fr" and _language_of(sqlite_client, done.json()["id"]) == "fr"

    refused = sqlite_client.post(f"{API}/videos/upload", data={"language": "klingon"}, files=files, headers=user.headers)
    assert refused.status_code == 422, refused.text
    assert "unknown language 'klingon'" in refused.text and "ISO 639-1" in refused.text


def test_presigned_upload_stores_the_stated_language(sqlite_client) -> None:
    user = make_user_in(sqlite_client)
    body = {"title": "Presigned", "filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": 10}
    created = sqlite_client.post(f"{API}/videos/uploads", headers=user.headers, json={**body, "language": "es-MX"})
    assert created.status_code == 201, created.text
    assert _language_of(sqlite_client, created.json()["video_id"]) == "es"
    refused = sqlite_client.post(f"{API}/videos/uploads", headers=user.headers, json={**body, "language": "xx"})
    assert refused.status_code == 422 and "unknown language 'xx'" in refused.text


def test_tus_metadata_carries_the_language(sqlite_client) -> None:
    user = make_user_in(sqlite_client)

    def create(language: str):
        values = {"filename": "clip.mp4", "filetype": "video/mp4", "language": language}
        metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())
        headers = {"Tus-Resumable": "1.0.0", **user.headers, "Upload-Length": "10", "Upload-Metadata": metadata}
        return sqlite_client.post(TUS, headers=headers)

    created = create("de")
    assert created.status_code == 201, created.text
    with session_scope(services_of(sqlite_client).engine) as session:
        assert [v.language for v in session.scalars(select(Video))] == ["de"]
    head = sqlite_client.head(created.headers["location"], headers={"Tus-Resumable": "1.0.0", **user.headers})
    metadata = dict(pair.split(" ") for pair in head.headers["upload-metadata"].split(","))
    assert base64.b64decode(metadata["language"]).decode() == "de"
    refused = create("german")
    assert refused.status_code == 422 and "unknown language 'german'" in refused.text


def test_videoai_ingest_takes_a_language(tmp_path, small_video_path: Path) -> None:
    home = tmp_path / "home"
    done = run_videoai(home, "ingest", str(small_video_path), "--title", "Clip", "--language", "it")
    assert done.returncode == 0, done.stderr
    with session_scope(make_engine(f"sqlite:///{home / 'videoai.db'}")) as session:
        assert session.scalars(select(Video.language)).one() == "it"
    refused = run_videoai(home, "ingest", str(small_video_path), "--title", "Clip", "--language", "elvish")
    assert refused.returncode == 2 and "unknown language 'elvish'" in refused.stderr


def test_the_web_upload_form_offers_the_languages(sqlite_client) -> None:
    user = make_user_in(sqlite_client)
    sqlite_client.cookies.set("videoai_session", user.token)
    page = sqlite_client.get("/upload")
    assert page.status_code == 200, page.text
    assert '<select id="language" name="language">' in page.text
    assert '<option value="">Detect from the speech</option>' in page.text and '<option value="fr">French</option>' in page.text


def test_the_owner_edits_the_language_and_the_pipeline_is_asked_to_redo_what_follows(sqlite_client) -> None:
    owner = make_user_in(sqlite_client)
    video_id = seed_video(sqlite_client, owner)

    def requests() -> list[str | None]:
        with session_scope(services_of(sqlite_client).engine) as session:
            return [r.reason for r in session.scalars(select(VideoRequest).where(VideoRequest.kind == "language"))]

    assert sqlite_client.patch(f"{API}/videos/{video_id}", json={"title": "Renamed"}, headers=owner.headers).status_code == 200
    assert requests() == []  # no language change, nothing to redo
    changed = sqlite_client.patch(f"{API}/videos/{video_id}", json={"language": "pt"}, headers=owner.headers)
    assert changed.status_code == 200 and changed.json()["language"] == "pt", changed.text
    assert sqlite_client.patch(f"{API}/videos/{video_id}", json={"language": "pt"}, headers=owner.headers).status_code == 200
    cleared = sqlite_client.patch(f"{API}/videos/{video_id}", json={"language": None}, headers=owner.headers)
    assert cleared.status_code == 200 and cleared.json()["language"] is None
    assert requests() == ["language None -> pt", "language pt -> None"]
    bad = sqlite_client.patch(f"{API}/videos/{video_id}", json={"language": "zz"}, headers=owner.headers)
    assert bad.status_code == 422 and _language_of(sqlite_client, video_id) is None
    other = make_user_in(sqlite_client)
    assert sqlite_client.patch(f"{API}/videos/{video_id}", json={"language": "fr"}, headers=other.headers).status_code == 403


def test_search_takes_a_language_filter(sqlite_client) -> None:
    owner = make_user_in(sqlite_client)
    video_id = seed_video(sqlite_client, owner, index_text="the river flows past the mill")
    english = sqlite_client.get(f"{API}/videos/search", params={"q": "rivers", "language": "EN"})
    assert english.status_code == 200, english.text
    assert [hit["video_id"] for hit in english.json()["hits"]] == [video_id] and english.json()["mode"] == "text"
    french = sqlite_client.get(f"{API}/videos/search", params={"q": "rivers", "language": "fr"})
    assert french.status_code == 200 and french.json()["hits"] == []
    refused = sqlite_client.get(f"{API}/videos/search", params={"q": "rivers", "language": "martian"})
    assert refused.status_code == 422 and "unknown language 'martian'" in refused.text
