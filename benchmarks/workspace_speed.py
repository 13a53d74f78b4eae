"""``make bench --only workspace``: each page of the workspace (portal/) next to the GraphQL calls
it makes, on the demo data.

The `make run` stack (services, gateway, demo data) serves the API; the workspace runs in this
process over ASGI, its gateway client timed call by call. For each page, signed in as the demo's
regional admin: the page's server time (from request to the last byte of HTML) and the time of
the GraphQL calls it made, both medians of the same runs; their ratio is what rendering adds.
Goal: at most 1.3×.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

RUNS = 15
GOAL = 1.3
_UNSET = ("KAFKA_BOOTSTRAP_SERVERS", "REGISTRY_DATABASE_URL", "EVENTS_DATABASE_URL", "ANALYTICS_DATABASE_URL")


class TimedGateway:
    """Wraps the workspace's gateway client: how long each GraphQL call took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spent = 0.0

    async def ask(self, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.ask(name, variables, token)
        finally:
            self.spent += time.perf_counter() - started

    async def run(self, name: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.run(name, variables, token)
        finally:
            self.spent += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def run(workdir: Path) -> None:
    from setka_runtime.local_broker import free_port

    from deploy.local_stack import Stack
    from portal.app import create_app
    from portal.settings import PortalSettings

    print("\nWorkspace pages (signed in as the demo's regional admin; medians of 15 runs each)")
    saved = {name: os.environ.pop(name, None) for name in _UNSET}
    ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
    stack = Stack(var_dir=workdir / "workspace-var", ports=ports, seed_demo=True, echo=False)
    try:
        await asyncio.to_thread(stack.start)
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        app = create_app(PortalSettings(gateway_url=gateway))
        portal = app.state.portal
        timed = TimedGateway(portal.gateway)
        portal.gateway = timed
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://workspace", follow_redirects=False, timeout=60
            ) as client,
        ):
            await _wait_for_demo(client)
            await _sign_in(client)
            pages = await _pages(client)
            print(f"  {'page':<46}{'page':>10}{'its API':>10}{'ratio':>8}")
            worst = 0.0
            for label, path in pages:
                page_times, api_times = [], []
                for _ in range(RUNS):
                    timed.spent = 0.0
                    started = time.perf_counter()
                    response = await client.get(path)
                    page_times.append(time.perf_counter() - started)
                    api_times.append(timed.spent)
                    assert response.status_code == 200, (path, response.status_code)
                page, api = statistics.median(page_times), statistics.median(api_times)
                ratio = page / api if api else float("inf")
                worst = max(worst, ratio)
                print(f"  {label:<46}{page * 1000:>8.1f}ms{api * 1000:>8.1f}ms{ratio:>7.2f}x")
            verdict = "met" if worst <= GOAL else "NOT met"
            print(f"  worst page / its API: {worst:.2f}x (goal <= {GOAL}x: {verdict})")
    finally:
        await asyncio.to_thread(stack.stop)
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value


async def _wait_for_demo(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = await client.get("/sign-in")
        if page.status_code == 200 and 'value="coordinator"' in page.text:
            return
        await asyncio.sleep(1)
    raise RuntimeError("the demo data did not arrive within 120 s")


async def _sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, "no form token on the sign-in page"
    signed = await client.post("/sign-in/demo", data={"csrf": csrf.group(1), "person": "admin", "next": "/"})
    assert signed.status_code == 303, signed.text[:300]


async def _pages(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    organizations = (await client.get("/organizations")).text
    networks = (await client.get("/networks")).text
    organization = re.search(r'href="(/organizations/[0-9a-f-]{36})"', organizations)
    network = re.search(r'href="(/networks/[0-9a-f-]{36})"', networks)
    assert organization and network, "the demo has no organization or network to open"
    network_id = network.group(1).rsplit("/", 1)[1]
    year = time.localtime().tm_year
    return [
        ("start page", "/"),
        ("organizations (50 of the list)", "/organizations"),
        ("organizations, filtered", "/organizations?kind=school&status=low_results"),
        ("an organization's card", organization.group(1)),
        ("networks", "/networks"),
        ("a network", network.group(1)),
        ("a network's analysis", f"/analysis?scope=network&id={network_id}&year={year}"),
        ("a network's meetings", f"/networks/{network_id}/meetings"),
        ("a network's regulating documents", f"/networks/{network_id}/regulations"),
        ("the person's notifications", "/notifications"),
        ("the region's dead letters", "/admin/dead-letters"),
        ("organizations as an Excel file", "/organizations/export.xlsx"),
    ]
