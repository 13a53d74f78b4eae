"""/readyz says which checks fail but not why; /metrics wants a token, or a loopback client."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from setka_runtime.health import health_routes, is_loopback
from starlette.applications import Starlette

pytestmark = pytest.mark.unit

TOKEN = "metrics-token-for-tests"


async def fine() -> None:
    return None


async def leaky() -> None:
    raise ConnectionError("could not connect to postgresql://setka:password=secret@db.internal:5432")


def app(checks: dict | None = None, **options: object) -> Starlette:
    return Starlette(routes=health_routes(checks if checks is not None else {"db": fine}, **options))


async def get(
    application: Starlette, path: str, *, client: tuple[str, int] = ("127.0.0.1", 1234), **request: object
) -> httpx.Response:
    transport = httpx.ASGITransport(app=application, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        return await http.get(path, **request)


async def test_healthz_answers_alive() -> None:
    response = await get(app(), "/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


async def test_readyz_reports_ok_checks() -> None:
    response = await get(app({"db": fine, "kafka": fine}), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"db": "ok", "kafka": "ok"}}


async def test_readyz_hides_the_error_text_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="setka_runtime.health"):
        response = await get(app({"database": leaky, "kafka": fine}), "/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {"database": "unavailable", "kafka": "ok"}}
    assert "secret" not in response.text and "ConnectionError" not in response.text
    logged = [record for record in caplog.records if record.name == "setka_runtime.health"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert "database" in logged[0].getMessage() and "password=secret" in logged[0].getMessage()


async def test_readyz_reports_a_check_that_hangs_as_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    with caplog.at_level(logging.WARNING, logger="setka_runtime.health"):
        response = await get(app({"kafka": hangs}, timeout=0.01), "/readyz")
    assert response.status_code == 503 and response.json()["checks"] == {"kafka": "unavailable"}
    assert "timed out" in caplog.text


async def test_metrics_without_or_with_a_wrong_token_is_401() -> None:
    guarded = app(metrics_token=TOKEN)
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}):
        response = await get(guarded, "/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "# TYPE" not in response.text
    # a token is wanted from loopback clients too
    assert (await get(guarded, "/metrics", client=("127.0.0.1", 1))).status_code == 401


async def test_metrics_with_the_right_token_answers_from_anywhere() -> None:
    response = await get(
        app(metrics_token=TOKEN),
        "/metrics",
        client=("10.0.0.5", 1234),
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text


async def test_metrics_without_a_token_answer_loopback_clients_only() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        response = await get(app(), "/metrics", client=(host, 1234))
        assert response.status_code == 200 and "# TYPE" in response.text, host
    refused = await get(app(), "/metrics", client=("10.0.0.5", 1234))
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.text and "# TYPE" not in refused.text


async def test_an_empty_token_counts_as_none() -> None:
    assert (await get(app(metrics_token=""), "/metrics", client=("10.0.0.5", 1))).status_code == 403
    assert (await get(app(metrics_token=""), "/metrics")).status_code == 200


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert is_loopback("localhost") and is_loopback("::ffff:127.0.0.1")
    for host in (None, "", "10.0.0.5", "192.168.1.1", "::ffff:10.0.0.1", "testclient", "example.com"):
        assert not is_loopback(host), host


async def test_an_unknown_client_is_not_loopback() -> None:
    metrics = next(route for route in health_routes({}) if route.path == "/metrics")
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "query_string": b"",
        "headers": [],
        "client": None,
        "server": ("service", 80),
        "scheme": "http",
        "root_path": "",
    }
    await metrics.handle(scope, receive, send)
    assert sent[0]["status"] == 403
