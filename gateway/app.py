"""The gateway process: one GraphQL endpoint for portals, executing the composed supergraph."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from setka_runtime.health import health_routes
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from .auth import viewer_from_header
from .federation.engine import Engine, Limits
from .federation.supergraph import Supergraph
from .federation.transport import Subgraphs
from .http import GraphQLHttp, HttpOptions, load_persisted
from .settings import GatewaySettings
from .subscriptions import SubscriptionEndpoint


class AsgiEndpoint:
    """Starlette treats a plain function as a request handler; this keeps it a raw ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    urls = {
        "registry": settings.registry_url,
        "events": settings.events_url,
        "analytics": settings.analytics_url,
    }
    supergraph = Supergraph.load(settings.supergraph, urls)
    graph = Subgraphs(
        supergraph.graphs,
        timeout=settings.subgraph_timeout_seconds,
        connections=settings.subgraph_connections,
    )
    engine = Engine(
        supergraph,
        graph,
        Limits(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            introspection=settings.introspection_enabled,
        ),
    )
    authenticate = partial(viewer_from_header, settings)
    endpoint = GraphQLHttp(
        engine,
        HttpOptions(
            max_body_bytes=settings.max_body_bytes,
            graphiql=settings.graphiql_enabled,
            persisted_documents=load_persisted(settings.persisted_documents),
            persisted_only=settings.persisted_only,
        ),
        authenticate,
    )
    subscriptions = SubscriptionEndpoint(engine, authenticate)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await graph.close()

    app = Starlette(
        routes=[
            Route("/graphql", AsgiEndpoint(endpoint), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", subscriptions),
            *health_routes({"subgraphs": graph.ready}),
        ],
        lifespan=lifespan,
    )
    app.state.subgraphs = graph
    app.state.engine = engine
    return app
