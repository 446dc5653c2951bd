"""Bad input is a 4xx in one JSON shape, never a 500."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("app")


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"email": "a@b.co", "password": ', b"", b"[]", b"null", b'"text"'],
)
async def test_malformed_json_is_422(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/api/auth/login", content=raw, headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 422, "validation_error")


@pytest.mark.parametrize(
    "payload",
    [
        {"email": 42, "password": "x"},
        {"email": ["a@clinic.example.com"], "password": "x"},
        {"email": "a@clinic.example.com", "password": None},
        {"email": "a@clinic.example.com"},
        {"email": "a@clinic.example.com", "password": "x", "extra": True},
        {"email": "a@clinic.example.com", "password": "x" * 10_000},
    ],
)
async def test_wrong_types_are_422(client: httpx.AsyncClient, payload: object) -> None:
    response = await client.post("/api/auth/login", json=payload)
    assert_error_shape(response, 422, "validation_error")
    assert response.json()["error"]["details"]["errors"]


async def test_json_decode_error_says_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/otp/request", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_unknown_route_has_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/api/does-not-exist"), 404, "not_found")
    assert_error_shape(await client.get("/nowhere"), 404, "not_found")


async def test_wrong_method_has_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.delete("/api/me"), 405, "method_not_allowed")


async def test_browsers_get_an_html_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


async def test_api_errors_stay_json_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nowhere", headers={"accept": "text/html"})
    assert_error_shape(response, 404, "not_found")


async def test_error_messages_follow_the_language(client: httpx.AsyncClient) -> None:
    english = await client.get("/api/me")
    swahili = await client.get("/api/me", headers={"accept-language": "sw"})
    assert english.json()["error"]["code"] == swahili.json()["error"]["code"]
    assert english.json()["error"]["message"] != swahili.json()["error"]["message"]
