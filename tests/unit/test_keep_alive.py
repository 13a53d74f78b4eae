"""The gateway never writes a request on a connection a service is closing.

uvicorn closes an idle connection after 5 s by default while the gateway's pool kept it 30 s:
a mutation sent on it then failed as "the registry service is unavailable" (seen in CI; a probe
with a 1 s server keep-alive and requests every second failed 16 of 320).
"""

from __future__ import annotations

import asyncio

from setka_runtime.cli import KEEP_ALIVE_SECONDS

from gateway.federation.transport import Subgraphs


def test_the_gateway_drops_idle_connections_before_the_services_do() -> None:
    async def pooled_idle_seconds() -> float:
        subgraphs = Subgraphs({"registry": "http://127.0.0.1:1/graphql"}, timeout=1)
        try:
            return float(subgraphs._client().connector._keepalive_timeout)  # type: ignore[union-attr]
        finally:
            await subgraphs.close()

    assert asyncio.run(pooled_idle_seconds()) < KEEP_ALIVE_SECONDS
