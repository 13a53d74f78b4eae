"""The workspace's ASGI application."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import pages
from .gateway import Gateway
from .oidc import OpenIdClient
from .session import Sessions
from .settings import PortalSettings
from .web import Portal

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    # every asset is the workspace's own: nothing from elsewhere may load or frame it
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
    " script-src 'self'; frame-ancestors 'none'; form-action 'self' https: http:; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def create_app(settings: PortalSettings | None = None) -> Starlette:
    settings = settings or PortalSettings()
    http = httpx.AsyncClient(timeout=settings.gateway_timeout_seconds)
    portal = Portal(
        settings=settings,
        gateway=Gateway(settings.gateway_url, http),
        sessions=Sessions(lifetime_seconds=settings.session_hours * 3600, secure=settings.secure_cookies),
        oidc=OpenIdClient(settings, http) if settings.oidc else None,
    )
    modules = [
        importlib.import_module(f"{pages.__name__}.{m.name}") for m in pkgutil.iter_modules(pages.__path__)
    ]
    modules.sort(key=lambda module: getattr(module, "ORDER", 50))
    portal.nav = [item for module in modules for item in getattr(module, "NAV", ())]

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = Starlette(
        routes=[
            *(route for module in modules for route in module.routes(portal)),
            Route("/healthz", healthz),
            Route("/readyz", healthz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
    )

    app.state.portal = portal
    return app
