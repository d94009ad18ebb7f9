"""The studio's security middleware: Host, cross-site and token checks, safe headers."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from museforge.studio.security import (
    CONTENT_SECURITY_POLICY,
    TOKEN_HEADER,
    SecurityPolicy,
    install_security,
    new_token,
)

BASE = "http://127.0.0.1:8765"
TOKEN = new_token()


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/ping")
    def ping() -> dict:
        return {"ok": True}

    @app.post("/api/change")
    def change() -> dict:
        return {"changed": True}

    @app.get("/api/boom")
    def boom() -> dict:
        raise RuntimeError("secret detail")

    @app.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def chunks():
            for i in range(3):
                yield f"data: {i}\n\n"
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    install_security(app, SecurityPolicy("127.0.0.1", 8765, TOKEN))
    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(), base_url=BASE, raise_server_exceptions=False)


def _assert_safe_headers(response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_get_needs_no_token_and_carries_safe_headers(client):
    response = client.get("/api/ping")
    assert response.status_code == 200 and response.json() == {"ok": True}
    _assert_safe_headers(response)


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:8765", "LOCALHOST:8765"])
def test_loopback_host_names_pass(client, host):
    assert client.get("/api/ping", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1:9999", ""])
def test_bad_host_is_refused(client, host):
    response = client.get("/api/ping", headers={"Host": host})
    assert response.status_code == 400
    assert "Host" in response.json()["error"]
    _assert_safe_headers(response)


def test_post_without_token_is_refused(client):
    response = client.post("/api/change")
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    _assert_safe_headers(response)


def test_post_with_wrong_token_is_refused(client):
    wrong = TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B")
    assert client.post("/api/change", headers={TOKEN_HEADER: wrong}).status_code == 401


def test_post_with_token_passes(client):
    response = client.post("/api/change", headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 200 and response.json() == {"changed": True}


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_every_changing_method_needs_the_token(client, method):
    assert client.request(method.upper(), "/api/change").status_code == 401


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:8765"]
)
def test_foreign_origin_is_refused_even_with_token(client, origin):
    headers = {"Origin": origin, TOKEN_HEADER: TOKEN}
    response = client.post("/api/change", headers=headers)
    assert response.status_code == 403
    assert "cross-origin" in response.json()["error"]
    assert client.get("/api/ping", headers={"Origin": origin}).status_code == 403


@pytest.mark.parametrize("origin", [BASE, "http://localhost:8765"])
def test_own_origin_passes(client, origin):
    headers = {"Origin": origin, TOKEN_HEADER: TOKEN, "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/change", headers=headers).status_code == 200


def test_cross_site_fetch_is_refused(client):
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/api/ping", headers=headers).status_code == 403


def test_same_site_other_port_may_navigate_but_not_fetch(client):
    fetch = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}
    assert client.get("/api/ping", headers=fetch).status_code == 403
    navigate = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/api/ping", headers=navigate).status_code == 200


def test_typed_address_navigation_passes(client):
    assert client.get("/api/ping", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_not_found_and_server_errors_carry_safe_headers(client):
    _assert_safe_headers(client.get("/nowhere"))
    response = client.get("/api/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "error" in response.json()
    _assert_safe_headers(response)


def test_streaming_response_still_streams(client):
    with client.stream("GET", "/api/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        _assert_safe_headers(response)
        chunks = [chunk for chunk in response.iter_text() if chunk]
    assert "".join(chunks) == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert len(chunks) >= 2  # delivered piece by piece, not buffered into one body


def test_policy_for_another_host_accepts_only_that_host():
    policy = SecurityPolicy("studio.lan", 8000, new_token())
    assert policy.allowed_hosts == {"studio.lan:8000"}
    assert policy.allowed_origins == {"http://studio.lan:8000"}


def test_ipv6_loopback_host_is_bracketed():
    policy = SecurityPolicy("::1", 8765, new_token())
    assert "[::1]:8765" in policy.allowed_hosts and "localhost:8765" in policy.allowed_hosts


def test_short_token_is_refused():
    with pytest.raises(ValueError):
        SecurityPolicy("127.0.0.1", 8765, "")


def test_tokens_are_fresh_and_long():
    assert new_token() != new_token()
    assert len(new_token()) >= 32
