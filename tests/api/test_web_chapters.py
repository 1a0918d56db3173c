"""The viewer web app shows chapters on the watch page and finds videos by meaning."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pipeline import keys
from pipeline.chapters import Chapter, to_webvtt_chapters
from pipeline.db.session import session_scope
from pipeline.db.videos import save_chapters
from pipeline.embeddings import embedder_from_settings
from pipeline.search.vectors import PassageVector
from tests.api.conftest import make_user_in, seed_video, services_of


def test_watch_page_lists_chapters_and_carries_the_chapters_track(sqlite_client: TestClient) -> None:
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, title="Two parts", materialize=True)
    services = services_of(sqlite_client)
    chapters = [Chapter(0.0, 2.0, "Greeting <b>", "Someone says hello."), Chapter(2.0, 4.0, "The river", "A river.")]
    with session_scope(services.engine) as session:
        save_chapters(session, vid, chapters)
    services.store.put_bytes(keys.chapters_vtt_key(vid), to_webvtt_chapters(chapters).encode(), "text/vtt")

    page = sqlite_client.get(f"/watch/{vid}").text
    assert f'<track kind="chapters" src="/api/v1/videos/{vid}/chapters.vtt"' in page
    assert 'id="chapters"' in page and "Greeting &lt;b&gt;" in page and "The river" in page
    assert 'data-start="2.0"' in page
    assert sqlite_client.get(f"/api/v1/videos/{vid}/chapters.vtt").text.startswith("WEBVTT")


def test_web_search_finds_a_paraphrase_and_links_to_its_moment(sqlite_client: TestClient) -> None:
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, title="Field notes", index_text="whales and their songs")
    services = services_of(sqlite_client)
    embedder = embedder_from_settings(services.settings.embeddings, services.settings.openai)
    text = "The humpback whales swim thousands of kilometres south each winter to calve in warm lagoons."
    services.vectors.upsert(
        vid,
        embedder.model_id,  # type: ignore[union-attr]
        [PassageVector("transcript", 31.0, 70.0, text, embedder.embed([text])[0])],
    )
    page = sqlite_client.get("/search", params={"q": "marine mammals migrating to tropical waters"}).text
    assert f'href="/watch/{vid}?t=31.0"' in page
