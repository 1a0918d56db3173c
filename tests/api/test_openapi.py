"""The OpenAPI document, the error shape everywhere, and which routes are public."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.api.conftest import API

EXPECTED_PUBLIC = {
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/health/live"),
    ("GET", "/api/v1/health/ready"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/users/check-email"),
    ("GET", "/api/v1/videos/list"),
    ("GET", "/api/v1/videos/search"),
    ("GET", "/api/v1/videos/{video_id}"),
    ("GET", "/api/v1/videos/{video_id}/watch"),
    ("GET", "/api/v1/videos/{video_id}/stream/{label}"),
    ("GET", "/api/v1/videos/{video_id}/thumbnail"),
    ("GET", "/api/v1/videos/{video_id}/captions.vtt"),
    ("GET", "/api/v1/videos/{video_id}/chapters"),
    ("GET", "/api/v1/videos/{video_id}/chapters.vtt"),
    ("GET", "/api/v1/videos/{video_id}/hls/master.m3u8"),
    ("GET", "/api/v1/videos/{video_id}/hls/captions.m3u8"),
    ("GET", "/api/v1/videos/{video_id}/hls/{label}/{name}"),
    ("GET", "/api/v1/videos/{video_id}/transcript"),
    ("GET", "/api/v1/videos/{video_id}/summary"),
    ("GET", "/api/v1/videos/{video_id}/hls/master.m3u8"),
    ("GET", "/api/v1/videos/{video_id}/hls/{label}/{name}"),
    ("PUT", "/api/v1/videos/uploads/{upload_id}/content"),  # the token in its URL is the credential
    ("POST", "/api/v1/ask"),  # answers from ready videos, which anyone may watch
    ("POST", "/api/v1/ask/stream"),
}
# Every stored-object route answers HEAD as it answers GET (issue 13).
EXPECTED_PUBLIC |= {
    ("HEAD", path)
    for method, path in EXPECTED_PUBLIC
    if path.endswith(
        ("/stream/{label}", "/thumbnail", "/captions.vtt", "/chapters.vtt", "/master.m3u8", "/captions.m3u8", "/{label}/{name}")
    )
}


def _operations(client: TestClient):
    """(METHOD, path, operation) for every documented route."""
    for path, operations in client.app.openapi()["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_openapi_is_valid_and_every_route_documents_its_responses(sqlite_client) -> None:
    schema = sqlite_client.get("/openapi.json").json()
    validate(schema)
    assert sqlite_client.get("/docs").status_code == 200
    for path, operations in schema["paths"].items():
        assert path.startswith(API)
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, (method, path)
            for code in success:
                if code == "204":
                    continue
                content = responses[code]["content"]
                assert all(body.get("schema") for body in content.values()), (method, path, code)
                if "application/json" in content:
                    assert "$ref" in content["application/json"]["schema"], (method, path)
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, code)


def test_public_routes_are_deliberate_and_the_rest_need_a_token(sqlite_client) -> None:
    public = {(method, path) for method, path, op in _operations(sqlite_client) if op.get("x-public")}
    assert public == EXPECTED_PUBLIC
    protected = [(method, path) for method, path, _ in _operations(sqlite_client) if (method, path) not in public]
    assert len(protected) == 8
    for method, path in protected:
        response = sqlite_client.request(method, path.replace("{video_id}", "1").replace("{upload_id}", "u1"))
        assert response.status_code == 401, (method, path, response.text)


def test_every_error_has_one_shape(sqlite_client) -> None:
    @sqlite_client.app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    quiet = TestClient(sqlite_client.app, raise_server_exceptions=False)
    responses = [
        sqlite_client.get(f"{API}/no-such-route"),  # 404 from routing
        sqlite_client.delete(f"{API}/health"),  # 405
        sqlite_client.get(f"{API}/videos/not-a-number"),  # 422 validation
        sqlite_client.get(f"{API}/users/me"),  # 401
        quiet.get("/boom"),  # 500
    ]
    assert [r.status_code for r in responses] == [404, 405, 422, 401, 500]
    for response in responses:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert responses[-1].json()["error"]["message"] == "An unexpected error occurred."


def test_the_document_states_the_rules_the_api_enforces(make_client, make_settings, tmp_path) -> None:
    """Password policy, sizes and the cursor format are in the schema, so a request it calls valid is not refused."""
    client = make_client(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}", MAX_UPLOAD_BYTES="12345"))
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    password = schemas["SignupIn"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (10, 128)
    pattern = re.compile(password["pattern"])
    assert pattern.search("long-enough-1") and not pattern.search("only-letters-here")
    assert not pattern.search("1234567890")
    assert "email's name" in password["description"]
    assert schemas["PresignedUploadIn"]["properties"]["size_bytes"]["maximum"] == 12345
    assert "12345 bytes" in document["paths"]["/api/v1/videos/upload"]["post"]["description"]
    for path in ("/api/v1/videos/list", "/api/v1/videos/search"):
        cursor = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "cursor")
        assert cursor["schema"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]+$", path
    assert client.get("/api/v1/videos/list", params={"cursor": "not a cursor!"}).status_code == 422


# Stable names for client generators: renaming one is a visible change of the API.
EXPECTED_OPERATION_IDS = {
    "health",
    "askArchive",
    "askArchiveStream",
    "live",
    "ready",
    "signup",
    "login",
    "logout",
    "me",
    "checkEmail",
    "uploadVideo",
    "createPresignedUpload",
    "putUploadContent",
    "completeUpload",
    "listVideos",
    "searchVideos",
    "getVideo",
    "updateVideo",
    "deleteVideo",
    "retryVideo",
    "getTranscript",
    "getChapters",
    "getSummary",
    "watch",
    "streamVariant",
    "thumbnail",
    "captions",
    "hlsMaster",
    "hlsMedia",
    "hlsCaptions",
    "chaptersTrack",
    "streamVariantHead",
    "thumbnailHead",
    "captionsHead",
    "hlsMasterHead",
    "hlsMediaHead",
    "hlsCaptionsHead",
    "chaptersTrackHead",
}


def test_every_operation_has_its_chosen_id_a_description_and_only_the_errors_it_can_answer(sqlite_client) -> None:
    operations = list(_operations(sqlite_client))
    ids = [op["operationId"] for _, _, op in operations]
    assert sorted(ids) == sorted(EXPECTED_OPERATION_IDS)  # each once
    for method, path, op in operations:
        assert len(op.get("description", "")) >= 20, (method, path)
        errors = {int(code) for code in op["responses"] if code.startswith(("4", "5"))}
        writes = method not in ("GET", "HEAD", "OPTIONS")
        assert 500 in errors, (method, path)
        assert (507 in errors) == writes, (method, path, errors)  # only what writes can fill the disk
        parsed_body = any(kind != "application/octet-stream" for kind in op.get("requestBody", {}).get("content", {}))
        assert (400 in errors) == (parsed_body or path.endswith(("/list", "/search"))), (method, path)  # + cursors
        assert (422 in errors) == bool(op.get("parameters") or "requestBody" in op), (method, path)
        assert (503 in errors) == (path != "/api/v1/health/live"), (method, path)  # the probe is always admitted
        if not op.get("x-public"):
            assert 401 in errors, (method, path)
        if path.startswith("/api/v1/health"):
            assert 401 not in errors and 403 not in errors, (method, path)  # no credentials read


def test_the_tus_endpoints_are_described_for_client_authors(sqlite_client) -> None:
    uploads = next(tag for tag in sqlite_client.get("/openapi.json").json()["tags"] if tag["name"] == "uploads")
    for request in (
        "OPTIONS /api/v1/uploads/tus",
        "POST /api/v1/uploads/tus",
        "HEAD /api/v1/uploads/tus/{id}",
        "PATCH /api/v1/uploads/tus/{id}",
        "DELETE /api/v1/uploads/tus/{id}",
    ):
        assert f"`{request}" in uploads["description"], request
    for header in ("Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length"):
        assert header in uploads["description"], header


def test_the_main_schemas_carry_examples_that_are_valid(sqlite_client) -> None:
    from serving_api.schemas.videos import SearchPageOut, VideoOut

    schemas = sqlite_client.get("/openapi.json").json()["components"]["schemas"]
    for model in (VideoOut, SearchPageOut):
        examples = schemas[model.__name__]["examples"]
        assert examples
        for example in examples:
            model.model_validate(example)  # raises if an example says what the schema does not allow
