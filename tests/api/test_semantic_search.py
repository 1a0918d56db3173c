"""Search modes through the API: a paraphrase is found by meaning, with the moment of its passage."""

from __future__ import annotations

from pipeline.embeddings import embedder_from_settings
from pipeline.search.vectors import PassageVector
from tests.api.conftest import API, make_user_in, seed_video, services_of


def _search(client, **params):
    return client.get(f"{API}/videos/search", params=params)


def _index_passages(client, vid: int, passages: list[tuple[float, float, str]]) -> None:
    services = services_of(client)
    embedder = embedder_from_settings(services.settings.embeddings, services.settings.openai)
    vectors = embedder.embed([text for _, _, text in passages])
    services.vectors.upsert(
        vid,
        embedder.model_id,
        [  # type: ignore[union-attr]
            PassageVector("transcript", start, end, text, vector)
            for (start, end, text), vector in zip(passages, vectors, strict=True)
        ],
    )


def test_search_modes_find_a_paraphrase_by_meaning_and_words_by_text(sqlite_client) -> None:
    owner = make_user_in(sqlite_client)
    whales = seed_video(sqlite_client, owner, title="Field notes", index_text="whales and their songs")
    bread = seed_video(sqlite_client, owner, title="Baking day", index_text="bread and butter")
    _index_passages(
        sqlite_client,
        whales,
        [
            (0.0, 31.0, "Welcome, and thanks to our sponsor for this episode."),
            (31.0, 70.0, "The humpback whales swim thousands of kilometres south each winter to calve in warm lagoons."),
        ],
    )
    _index_passages(sqlite_client, bread, [(0.0, 40.0, "Knead the dough and let it rise before baking the loaf.")])

    paraphrase = "marine mammals migrating to tropical waters"
    text = _search(sqlite_client, q=paraphrase, mode="text").json()
    assert text["hits"] == [] and text["mode"] == "text"
    for mode in ("semantic", "hybrid"):
        body = _search(sqlite_client, q=paraphrase, **({"mode": mode} if mode != "hybrid" else {})).json()
        assert body["mode"] == mode
        assert body["hits"][0]["video_id"] == whales
        assert body["hits"][0]["moment"]["start"] == 31.0 and "whales" in body["hits"][0]["moment"]["text"]

    # Exact words: hybrid ranks as text does.
    words = _search(sqlite_client, q="bread", mode="text").json()
    assert (
        [h["video_id"] for h in _search(sqlite_client, q="bread").json()["hits"]][:1]
        == [h["video_id"] for h in words["hits"]]
        == [bread]
    )
    assert _search(sqlite_client, q="whales", mode="fuzzy").status_code == 422

    # Deleting the video removes its vectors too.
    assert sqlite_client.delete(f"{API}/videos/{whales}", headers=owner.headers).status_code == 204
    assert whales not in [h["video_id"] for h in _search(sqlite_client, q=paraphrase, mode="semantic").json()["hits"]]


def test_readiness_says_how_semantic_search_runs(sqlite_client) -> None:
    checks = {c["name"]: c for c in sqlite_client.get(f"{API}/health/ready").json()["checks"]}
    assert checks["semantic_search"]["ok"] and "sqlite" in checks["semantic_search"]["detail"]


def test_the_api_loads_the_query_embedder_and_the_vectors_before_it_serves(sqlite_client) -> None:
    services = services_of(sqlite_client)
    embedder = services.hybrid.embedder() if services.hybrid.embedder is not None else None
    assert embedder is not None
    assert embedder.model_id in services.vectors._views  # type: ignore[union-attr]  # opened at start, not by a search
