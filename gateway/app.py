"""The gateway process: one GraphQL endpoint for portals over the services' subgraphs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from setka_runtime.health import health_routes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from .auth import AuthError, viewer_from_header
from .schema import build_schema, loaders
from .settings import GatewaySettings
from .subgraphs import Subgraphs


class AsgiEndpoint:
    """Starlette treats a plain function as a request handler; this keeps it a raw ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    graph = Subgraphs(
        {
            "registry": settings.registry_url,
            "events": settings.events_url,
            "analytics": settings.analytics_url,
        },
        timeout=settings.subgraph_timeout_seconds,
    )

    class GatewayView(GraphQL):
        async def get_context(self, request: Request, response: Response | None = None) -> Any:
            return {
                "request": request,
                "response": response,
                "viewer": request.state.viewer,
                "subgraphs": graph,
                "loaders": loaders(graph),
            }

    view = GatewayView(build_schema(settings))

    async def graphql(scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, then hand over to GraphQL; a bad token is a 401, not an anonymous call."""
        request = Request(scope)
        try:
            request.state.viewer = viewer_from_header(settings, request.headers.get("authorization"))
        except AuthError as exc:
            response = JSONResponse({"errors": [{"message": str(exc)}]}, status_code=401)
            await response(scope, receive, send)
            return
        await view(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await graph.close()

    app = Starlette(
        routes=[
            Route("/graphql", AsgiEndpoint(graphql), methods=["GET", "POST"]),
            *health_routes({"subgraphs": graph.ready}),
        ],
        lifespan=lifespan,
    )
    app.state.subgraphs = graph
    return app
