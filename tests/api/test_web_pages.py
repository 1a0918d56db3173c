"""The web app's pages over HTTP: escaping, session cookie + CSRF, security headers, CORS, offline docs.

(The browser journey itself is in tests/web.)
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from pipeline.db.models import VideoStatus
from tests.api.conftest import API, PASSWORD, ApiUser, make_user_in, seed_video

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>River talk"


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert match, "the signed-in page carries its CSRF token"
    return match.group(1)


def test_user_text_is_escaped_on_every_page(sqlite_client: TestClient) -> None:
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, title=HOSTILE, materialize=True, index_text="the river flows")
    pages = {"home": "/", "watch": f"/watch/{vid}", "search": "/search?q=river"}
    for name, path in pages.items():
        page = sqlite_client.get(path)
        assert page.status_code == 200, name
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;River talk" in page.text, name
        # No inline script at all: every script is a file under /static.
        assert re.findall(r"<script(?![^>]*\ssrc=)", page.text) == [], name
    assert "<mark>river</mark>" in sqlite_client.get("/search?q=river").text.lower()  # highlight kept


def test_security_headers_and_a_strict_csp_on_pages(sqlite_client: TestClient) -> None:
    for path in ("/", f"{API}/health", "/static/app.css", f"{API}/no-such-route", "/login"):
        response = sqlite_client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "strict-transport-security" not in response.headers, path  # plain HTTP: no HSTS
    csp = sqlite_client.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert "content-security-policy" not in sqlite_client.get(f"{API}/health").headers  # JSON: no page, no CSP
    over_tls = TestClient(sqlite_client.app, base_url="https://testserver")
    assert over_tls.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_cors_is_off_by_default_and_follows_CORS_ORIGINS(sqlite_client, make_client, make_settings, tmp_path) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    assert "access-control-allow-origin" not in sqlite_client.options(f"{API}/videos/list", headers=preflight).headers
    assert (
        "access-control-allow-origin"
        not in sqlite_client.get(f"{API}/videos/list", headers={"Origin": "https://app.example.com"}).headers
    )
    allowed = make_client(
        make_settings(
            DATABASE_URL=f"sqlite:///{tmp_path / 'cors.db'}", CORS_ORIGINS="https://app.example.com, https://other.example"
        )
    )
    answer = allowed.options(f"{API}/videos/list", headers=preflight)
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in answer.headers  # Bearer tokens, never cookies, cross origins
    refused = allowed.options(f"{API}/videos/list", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_docs_and_redoc_load_their_assets_from_this_server(sqlite_client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = sqlite_client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert assets, path
        for asset in assets:
            assert asset.startswith("/"), (path, asset)  # no CDN
            assert sqlite_client.get(asset).status_code == 200, asset


def test_session_cookie_is_httponly_strict_and_state_changes_need_the_csrf_token(sqlite_client: TestClient) -> None:
    signup = sqlite_client.post(
        "/signup", data={"email": "web@example.com", "password": PASSWORD, "full_name": "Web User"}, follow_redirects=False
    )
    assert signup.status_code == 303 and signup.headers["location"] == "/"
    cookie = signup.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "videoai_session=" in cookie
    token = sqlite_client.cookies["videoai_session"]
    assert token not in signup.headers["location"]
    assert sqlite_client.get(f"{API}/users/me").json()["email"] == "web@example.com"  # the cookie signs API calls in

    csrf = _csrf(sqlite_client.get("/").text)
    me = sqlite_client.get(f"{API}/users/me").json()
    vid = seed_video(sqlite_client, ApiUser(me["id"], me["email"], token), title="Mine")
    forged = sqlite_client.patch(f"{API}/videos/{vid}", json={"title": "Forged"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    assert (
        sqlite_client.patch(f"{API}/videos/{vid}", json={"title": "Renamed"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    )

    assert sqlite_client.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False).status_code == 403
    logout = sqlite_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert logout.status_code == 303
    anonymous = TestClient(sqlite_client.app)
    assert anonymous.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401  # revoked


def test_login_form_refuses_other_origins_and_redirects_only_locally(sqlite_client: TestClient) -> None:
    user = make_user_in(sqlite_client)
    form = {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"}
    cross = sqlite_client.post("/login", data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    ok = sqlite_client.post("/login", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    wrong = sqlite_client.post("/login", data={**form, "password": "wrong-password-1"}, follow_redirects=False)
    assert wrong.status_code == 401 and "Incorrect email or password" in wrong.text


def test_pages_never_show_what_is_not_ready_or_not_yours(sqlite_client: TestClient) -> None:
    owner = make_user_in(sqlite_client)
    vid = seed_video(sqlite_client, owner, status=VideoStatus.TRANSCODING, title="Secret draft")
    anonymous = TestClient(sqlite_client.app)
    page = anonymous.get(f"/watch/{vid}")
    assert page.status_code == 404 and "Secret draft" not in page.text
    assert "Secret draft" not in anonymous.get("/").text
    for path in ("stream/360p", "thumbnail", "captions.vtt", "hls/master.m3u8"):
        assert anonymous.get(f"{API}/videos/{vid}/{path}").status_code == 404, path


def test_home_lists_ready_videos_newest_first_with_a_cursor(sqlite_client: TestClient) -> None:
    owner = make_user_in(sqlite_client)
    titles = [f"Talk {n:02d}" for n in range(14)]
    for title in titles:
        seed_video(sqlite_client, owner, title=title)  # increasing created_at
    seed_video(sqlite_client, owner, title="Still encoding", status=VideoStatus.TRANSCODING)
    first = sqlite_client.get("/").text
    shown = re.findall(r'<h2 class="card-title">([^<]+)</h2>', first)
    assert shown == titles[::-1][:12] and "Still encoding" not in first
    older = re.search(r'href="(/\?cursor=[^"]+)"', first)
    assert older
    rest = re.findall(r'<h2 class="card-title">([^<]+)</h2>', sqlite_client.get(older.group(1).replace("&amp;", "&")).text)
    assert rest == titles[::-1][12:]
