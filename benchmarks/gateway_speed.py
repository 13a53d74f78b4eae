"""The gateway under load, next to references measured in the same run.

The local stack runs with its demo data (real processes, SQLite, the local broker). Eight
concurrent clients send one operation again and again, each under its own operation name (so
neither gateway can answer two clients with one subgraph request):

- a page of 50 organizations (one subgraph) through the gateway, and the same query sent straight
  to the registry's subgraph: the gateway's own cost (goal: p50 within 1.3x);
- a deep query over the three subgraphs (networks, members, organizations with their region's
  figures from analytics and their activities from events, each activity's host back from the
  registry) through this gateway and through Hive Gateway, a standard federation router, over the
  same subgraphs and the same supergraph (goal: at least Hive Gateway's throughput).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent

PAGE = "{ organizations(first: 50) { edges { node { id shortName fullName kind regionCode inn } } } }"
DEEP = """
{
  networks(first: 10) {
    edges { node {
      name
      members {
        role
        organization {
          shortName
          regionSummary { organizations schools }
          activities(first: 5) { edges { node { title startsAt host { shortName } } } }
        }
      }
    } }
  }
}"""


@dataclass
class Load:
    name: str
    latencies: list[float]
    seconds: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        return f"  {self.name:<48} p50 {self.p50:7.1f} ms   p99 {self.p99:7.1f} ms   {self.rps:7.1f} req/s"


async def load(name: str, url: str, query: str, *, clients: int, requests: int, shared: bool = False) -> Load:
    """``clients`` loops sending ``query``; each client names its operation differently unless
    ``shared``, so no layer can answer two clients with one subgraph request."""
    bodies = [
        orjson.dumps({"query": query if shared else f"query Client{number} {query.strip()}"})
        for number in range(clients)
    ]
    headers = {"content-type": "application/json", "accept": "application/json"}
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def once(body: bytes, record: bool) -> None:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as reply:
                payload = await reply.read()
            if reply.status != 200 or b'"errors"' in payload:
                raise RuntimeError(f"{name}: {reply.status} {payload[:300]!r}")
            if record:
                latencies.append(time.perf_counter() - started)

        async def client(body: bytes, count: int, record: bool) -> None:
            for _ in range(count):
                await once(body, record)

        await asyncio.gather(*(client(body, max(2, requests // clients // 10), False) for body in bodies))
        started = time.perf_counter()
        await asyncio.gather(*(client(body, requests // clients, True) for body in bodies))
        seconds = time.perf_counter() - started
    return Load(name, latencies, seconds)


async def run(workdir: Path, *, clients: int = 8, requests: int = 400) -> None:
    from setka_runtime.local_broker import free_port

    from deploy.local_stack import Stack
    from gateway import router

    print(f"\nGateway ({clients} concurrent clients, {requests} requests per line; demo data, SQLite)")
    saved = {name: os.environ.pop(name, None) for name in _UNSET}
    ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
    stack = Stack(var_dir=workdir / "gateway-var", ports=ports, seed_demo=True, echo=False)
    hive = None
    try:
        await asyncio.to_thread(stack.start)
        await _wait_for_demo(stack)
        urls = {name: f"{stack.service_url(name)}/graphql" for name in ("registry", "events", "analytics")}
        hive_port = free_port()
        if router.available():
            hive = await asyncio.to_thread(
                router.start_hive_gateway,
                ROOT / "supergraph.graphql",
                urls,
                port=hive_port,
                workdir=workdir / "hive",
            )
        page_direct = await load(
            "page of 50, straight to the registry", urls["registry"], PAGE, clients=clients, requests=requests
        )
        page_gateway = await load(
            "page of 50, through the gateway", stack.gateway_url, PAGE, clients=clients, requests=requests
        )
        page_shared = await load(
            "page of 50, through the gateway, same request",
            stack.gateway_url,
            PAGE,
            clients=clients,
            requests=requests,
            shared=True,
        )
        for line in (page_direct, page_gateway, page_shared):
            print(line.line())
        print(f"  gateway / subgraph p50: {page_gateway.p50 / page_direct.p50:.2f}x (goal <= 1.3x);")
        print("  with every client asking the same, identical requests in flight are sent once:")
        print(f"  {page_shared.p50 / page_direct.p50:.2f}x")
        routers = [("the gateway", stack.gateway_url)]
        if hive is not None:
            hive_url = f"http://127.0.0.1:{hive_port}/graphql"
            await _same_answers(stack.gateway_url, hive_url)
            routers.append(("Hive Gateway", hive_url))
        for shared in (False, True):
            lines = []
            for label, url in routers:
                how = ", same request" if shared else ""
                lines.append(
                    await load(
                        f"deep, 3 subgraphs, {label}{how}",
                        url,
                        DEEP,
                        clients=clients,
                        requests=requests,
                        shared=shared,
                    )
                )
                print(lines[-1].line())
            if len(lines) == 2:
                ours, theirs = lines
                print(
                    f"  gateway / Hive Gateway throughput: {ours.rps / theirs.rps:.2f}x (goal >= 1.0x),"
                    f" p50 {ours.p50 / theirs.p50:.2f}x, p99 {ours.p99 / theirs.p99:.2f}x"
                )
        if hive is None:
            print("  Hive Gateway is not installed (make env needs Node.js): no router reference")
    finally:
        if hive is not None:
            router.stop(hive)
        await asyncio.to_thread(stack.stop)
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value


_UNSET = ("KAFKA_BOOTSTRAP_SERVERS", "REGISTRY_DATABASE_URL", "EVENTS_DATABASE_URL", "ANALYTICS_DATABASE_URL")


async def _post(url: str, query: str) -> Any:
    async with aiohttp.ClientSession() as session, session.post(url, json={"query": query}) as reply:
        return orjson.loads(await reply.read())


async def _wait_for_demo(stack: Any) -> None:
    """Until the demo's activities have reached the events service and organizations analytics."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = await _post(stack.gateway_url, DEEP)
        networks = (body.get("data") or {}).get("networks") or {"edges": []}
        organizations = [
            member["organization"]
            for edge in networks["edges"]
            for member in edge["node"]["members"]
            if member.get("organization")
        ]
        if (
            organizations
            and all(o.get("regionSummary") for o in organizations)
            and any(o["activities"]["edges"] for o in organizations)
        ):
            return
        await asyncio.sleep(1)
    raise RuntimeError("the demo data did not arrive within 180 s")


async def _same_answers(ours: str, hive: str) -> None:
    for query in (PAGE, DEEP):
        mine, theirs = await _post(ours, query), await _post(hive, query)
        if mine != theirs:
            print("  WARNING: the gateway and Hive Gateway answer differently", file=sys.stderr)
            return
    print("  the gateway and Hive Gateway give identical answers to both operations")
