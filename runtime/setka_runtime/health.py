"""/healthz (alive), /readyz (database and broker reachable) and /metrics (Prometheus).

``/readyz`` tells the caller only which checks pass; why one fails goes to the log, since an
error text may name hosts, users or worse. ``/metrics`` is for Prometheus: with a token
configured (``METRICS_TOKEN``) it wants ``Authorization: Bearer <token>``; without one it answers
loopback clients only.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``; an unknown client is not loopback."""
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def health_routes(
    checks: dict[str, Check],
    *,
    timeout: float = 3.0,
    metrics_token: str | None = None,
) -> list[Route]:
    """The three routes; ``metrics_token`` (empty counts as none) guards ``/metrics``."""
    expected = metrics_token.encode() if metrics_token else None

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout)
                results[name] = "ok"
            except Exception as exc:
                reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                log.warning("readiness check %r failed: %s", name, reason[:1000])
                results[name] = "unavailable"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        if expected is not None:
            presented = _bearer(request.headers.get("authorization"))
            if presented is None or not hmac.compare_digest(presented.encode(), expected):
                return PlainTextResponse(
                    "The metrics need Authorization: Bearer <METRICS_TOKEN>.",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        elif not is_loopback(request.client.host if request.client else None):
            return PlainTextResponse(
                "The metrics answer only loopback clients; set METRICS_TOKEN to scrape them from elsewhere.",
                status_code=403,
            )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
