"""Watch URLs, ranged streaming, transcripts, captions and summaries."""

from __future__ import annotations

import httpx

from pipeline import keys
from pipeline.db.models import VideoStatus
from pipeline.db.session import session_scope
from pipeline.lifecycle import set_status
from tests.api.conftest import API, make_user_in, seed_video, services_of

VARIANT = bytes(range(256)) * 40  # 10,240 distinct-enough bytes


def test_watch_gives_playable_urls_for_a_ready_video(client, make_user) -> None:
    vid = seed_video(client, make_user(), materialize=True, variant_bytes=VARIANT)
    watch = client.get(f"{API}/videos/{vid}/watch")
    assert watch.status_code == 200, watch.text
    body = watch.json()
    assert body["status"] == "ready" and body["urls_expire_at"] is None  # local store: API URLs
    (variant,) = body["variants"]
    assert variant["url"] == f"http://testserver{API}/videos/{vid}/stream/360p"
    assert body["thumbnail_url"] == f"http://testserver{API}/videos/{vid}/thumbnail"
    assert body["captions"] == [
        {
            "language": "en",
            "label": "English (automatic)",
            "automatic": True,
            "language_source": None,
            "language_probability": None,
            "format": "text/vtt",
            "url": f"http://testserver{API}/videos/{vid}/captions.vtt",
        }
    ]
    whole = client.get(variant["url"])
    assert whole.status_code == 200 and whole.content == VARIANT
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    assert client.get(body["thumbnail_url"]).content.startswith(b"\xff\xd8\xff")
    captions = client.get(body["captions"][0]["url"])
    assert captions.headers["content-type"].startswith("text/vtt") and captions.text.startswith("WEBVTT")


def test_ranged_get_answers_206_with_the_right_bytes(client, make_user) -> None:
    vid = seed_video(client, make_user(), materialize=True, variant_bytes=VARIANT)
    url = f"{API}/videos/{vid}/stream/360p"
    size = len(VARIANT)
    for header, start, end in (
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, size - 1),
        ("bytes=-24", size - 24, size - 1),
        ("bytes=10200-99999", 10200, size - 1),
    ):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == VARIANT[start : end + 1]
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(response.headers["content-length"]) == end - start + 1
    unsatisfiable = client.get(url, headers={"Range": f"bytes={size}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
    assert unsatisfiable.json()["error"]["code"] == "range_not_satisfiable"
    # Several ranges or a malformed header: the whole object, which HTTP allows.
    assert client.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200
    assert client.get(url, headers={"Range": "lines=1-2"}).content == VARIANT
    assert client.get(f"{API}/videos/{vid}/stream/4k").status_code == 404


def test_a_video_that_is_not_ready_answers_with_its_status(sqlite_client) -> None:
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, status=VideoStatus.TRANSCODING)
    store = services_of(sqlite_client).store
    store.put_bytes(keys.hls_key(vid, "360p/seg_00000.ts"), b"G" * 188)  # no master playlist: nothing streams yet
    for path in (
        "watch",
        "stream/360p",
        "thumbnail",
        "captions.vtt",
        "transcript",
        "summary",
        "hls/master.m3u8",
        "hls/360p/seg_00000.ts",
    ):
        response = sqlite_client.get(f"{API}/videos/{vid}/{path}", headers=owner.headers)
        assert response.status_code == 409, path
        assert response.json()["error"]["code"] == "video_not_ready"
        assert response.json()["error"]["details"]["status"] == "transcoding"
        # Anyone else does not learn the video exists.
        assert sqlite_client.get(f"{API}/videos/{vid}/{path}").status_code == 404


def test_the_owner_watches_the_lowest_rung_while_the_ladder_is_encoding(sqlite_client) -> None:
    """Issue 12: first playable. The pipeline publishes the lowest rung's HLS (master playlist last) while
    it encodes; from then on its owner can watch it, and the watch answer says what is still happening."""
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, status=VideoStatus.TRANSCODING)
    _put_hls(sqlite_client, vid)
    watch = sqlite_client.get(f"{API}/videos/{vid}/watch", headers=owner.headers)
    assert watch.status_code == 200, watch.text
    body = watch.json()
    assert body["status"] == "transcoding" and body["variants"] == [] and body["captions"] == []
    assert body["hls_url"] == f"http://testserver{API}/videos/{vid}/hls/master.m3u8"
    for path in ("hls/master.m3u8", "hls/360p/index.m3u8", "hls/360p/seg_00000.ts"):
        assert sqlite_client.get(f"{API}/videos/{vid}/{path}", headers=owner.headers).status_code == 200, path
        assert sqlite_client.get(f"{API}/videos/{vid}/{path}").status_code == 404, path  # still the owner's alone
    for path in ("hls/360p/other.bin", "hls/..%2F..%2Fthumbnail.jpg/index.m3u8", "hls/720p/index.m3u8"):
        assert sqlite_client.get(f"{API}/videos/{vid}/{path}", headers=owner.headers).status_code == 404, path
    # What is not made yet still answers with the status.
    for path in ("stream/360p", "thumbnail", "captions.vtt", "transcript", "summary"):
        assert sqlite_client.get(f"{API}/videos/{vid}/{path}", headers=owner.headers).status_code == 409, path
    # A video that failed half-way is not watchable from what its preview left.
    with session_scope(services_of(sqlite_client).engine) as session:
        set_status(session, vid, VideoStatus.FAILED, message="The encode failed.")
    assert sqlite_client.get(f"{API}/videos/{vid}/watch", headers=owner.headers).status_code == 409
    assert sqlite_client.get(f"{API}/videos/{vid}/hls/master.m3u8", headers=owner.headers).status_code == 409


def test_transcript_and_summary(client, make_user) -> None:
    vid = seed_video(client, make_user(), materialize=True, variant_bytes=VARIANT)
    transcript = client.get(f"{API}/videos/{vid}/transcript")
    assert transcript.status_code == 200, transcript.text
    body = transcript.json()
    assert body["text"] == "hello world. the river flows." and body["language"] == "en"
    assert [(s["start_seconds"], s["end_seconds"], s["text"]) for s in body["segments"]] == [
        (0.0, 2.0, "hello world."),
        (2.0, 4.0, "the river flows."),
    ]
    assert client.get(body["vtt_url"]).text.startswith("WEBVTT")
    summary = client.get(f"{API}/videos/{vid}/summary")
    assert summary.status_code == 200
    assert summary.json()["summary"] == "A greeting and a river." and summary.json()["quality_score"] == 0.9
    bare = seed_video(client, None)  # ready but nothing materialized (say, the pipeline was reset)
    assert client.get(f"{API}/videos/{bare}/transcript").status_code == 404
    assert client.get(f"{API}/videos/{bare}/summary").status_code == 404


def test_watch_presigns_on_s3(make_client, make_settings, tmp_path, s3_endpoint, s3_bucket) -> None:
    client = make_client(
        make_settings(
            DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", OBJECT_STORE="s3", S3_BUCKET=s3_bucket, S3_ENDPOINT_URL=s3_endpoint
        )
    )
    vid = seed_video(client, make_user_in(client), materialize=True, variant_bytes=VARIANT)
    body = client.get(f"{API}/videos/{vid}/watch").json()
    url = body["variants"][0]["url"]
    assert url.startswith(s3_endpoint) and "Signature" in url and body["urls_expire_at"] is not None
    ranged = httpx.get(url, headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206 and ranged.content == VARIANT[5:10]


def _put_hls(client, vid: int) -> None:
    store = services_of(client).store
    store.put_bytes(keys.hls_key(vid, "master.m3u8"), b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n")
    store.put_bytes(keys.hls_key(vid, "360p/index.m3u8"), b"#EXTM3U\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n")
    store.put_bytes(keys.hls_key(vid, "360p/seg_00000.ts"), b"G" * 188 * 4)
    store.put_bytes(keys.hls_key(vid, "360p/other.bin"), b"secret")


def test_hls_playlists_and_segments_are_served_for_a_ready_video(sqlite_client) -> None:
    vid = seed_video(sqlite_client, make_user_in(sqlite_client), materialize=True, variant_bytes=VARIANT)
    assert sqlite_client.get(f"{API}/videos/{vid}/watch").json()["hls_url"] is None  # no package: no URL
    _put_hls(sqlite_client, vid)
    hls_url = sqlite_client.get(f"{API}/videos/{vid}/watch").json()["hls_url"]
    assert hls_url == f"http://testserver{API}/videos/{vid}/hls/master.m3u8"
    master = sqlite_client.get(hls_url)
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    # The captions are its subtitles group, labelled with their language, and every variant names it.
    assert '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="captions",NAME="English (automatic)",LANGUAGE="en"' in master.text
    assert '#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="captions"' in master.text
    subtitles = sqlite_client.get(str(httpx.URL(hls_url).join("captions.m3u8")))
    assert subtitles.status_code == 200 and "#EXT-X-ENDLIST" in subtitles.text
    vtt_uri = next(line for line in subtitles.text.splitlines() if line and not line.startswith("#"))
    assert sqlite_client.get(str(httpx.URL(str(subtitles.url)).join(vtt_uri))).text.startswith("WEBVTT")
    # Relative URIs resolve to the rung's route.
    media = sqlite_client.get(str(httpx.URL(hls_url).join("360p/index.m3u8")))
    assert media.status_code == 200 and b"seg_00000.ts" in media.content
    segment = sqlite_client.get(f"{API}/videos/{vid}/hls/360p/seg_00000.ts", headers={"Range": "bytes=0-187"})
    assert segment.status_code == 206 and segment.headers["content-type"] == "video/mp2t"
    # Only the package's own names, for the video's own rungs: nothing else in its prefix is reachable.
    for path in ("360p/other.bin", "1080p/index.m3u8", "360p/seg_1.ts", "360p/..%2F..%2Fthumbnail.jpg"):
        assert sqlite_client.get(f"{API}/videos/{vid}/hls/{path}").status_code == 404, path


def test_head_on_stream_routes_gives_the_headers_without_the_bytes(sqlite_client) -> None:
    """Issue 13: HEAD on stream routes was 405; players and CDNs probe sizes and range support."""
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, materialize=True, variant_bytes=b"0123456789")
    for path in (f"/videos/{vid}/stream/360p", f"/videos/{vid}/thumbnail", f"/videos/{vid}/captions.vtt"):
        got, head = sqlite_client.get(API + path), sqlite_client.head(API + path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
        assert head.headers["accept-ranges"] == "bytes"
    ranged = sqlite_client.head(f"{API}/videos/{vid}/stream/360p", headers={"Range": "bytes=2-5"})
    assert ranged.status_code == 206 and ranged.headers["content-range"] == "bytes 2-5/10"
    assert sqlite_client.head(f"{API}/videos/{vid + 1000}/stream/360p").status_code == 404
