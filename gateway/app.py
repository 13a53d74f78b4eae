"""The gateway process: one GraphQL endpoint for portals, executing the composed supergraph."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import httpx
from setka_runtime import tracing
from setka_runtime.health import health_routes
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute, request_response
from starlette.types import Receive, Scope, Send

from .auth import Authenticator, AuthError
from .federation.engine import Engine, Limits
from .federation.supergraph import Supergraph
from .federation.transport import Subgraphs
from .graphiql import GRAPHIQL
from .http import GraphQLHttp, HttpOptions, load_persisted, upstream_headers
from .ratelimit import PRIVATE_PROXIES, CostBudget, RateLimit, SharedBuckets, client_address, networks
from .settings import GatewaySettings
from .subscriptions import SubscriptionEndpoint

log = logging.getLogger(__name__)


class AsgiEndpoint:
    """Starlette treats a plain function as a request handler; this keeps it a raw ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


REPORT_FILES = ("analysis.xlsx", "analysis.html", "analysis.pdf")
"""The analytics service's downloads, each its own route: nothing else under /reports is passed on."""


class PassThrough:
    """Requests passed through to one service with the caller's identity: ``GET /reports/{path}``
    to analytics (portals download the analysis, XLSX, HTML, PDF, from the gateway) and
    ``POST /facts`` to events (regional systems send facts over HTTP). The answer's body is
    streamed, its status and content headers kept."""

    KEPT_HEADERS = (
        "content-type",
        "content-disposition",
        "content-length",
        "content-encoding",
        "cache-control",
        "etag",
        "last-modified",
        "x-content-type-options",
    )
    TIMEOUT = httpx.Timeout(120.0, connect=5.0)  # a year's analysis with charts takes seconds

    def __init__(
        self,
        service_graphql_url: str,
        authenticator: Authenticator,
        *,
        name: str,
        forwarded: tuple[str, ...] = (),
        forwarded_prefix: str | None = None,
        own_tokens_prefix: str | None = None,
    ) -> None:
        """``forwarded``: request headers passed on as they are, besides those starting with
        ``forwarded_prefix``. ``own_tokens_prefix``: a bearer token beginning so is the service's
        own credential (a regional system's source token for ``/facts``): passed on as it is, for
        the service to check, instead of being read as a person's token."""
        self.base_url = service_graphql_url.rstrip("/").removesuffix("/graphql")
        self.client = httpx.AsyncClient(timeout=self.TIMEOUT)
        self.authenticator = authenticator
        self.name = name
        self.forwarded = forwarded
        self.forwarded_prefix = forwarded_prefix
        self.own_tokens_prefix = own_tokens_prefix

    async def forward(self, request: Request) -> Response:
        if any(segment in (".", "..") for segment in request.url.path.split("/")):
            return PlainTextResponse("Not Found", 404)  # nothing outside the route is reached
        url = self.base_url + quote(request.url.path)
        authorization = request.headers.get("authorization")
        scheme, _, token = (authorization or "").partition(" ")
        if self.own_tokens_prefix and scheme.lower() == "bearer" and token.startswith(self.own_tokens_prefix):
            headers = {**self._forwarded(request), "authorization": f"Bearer {token.strip()}"}
        else:
            try:
                identity = await self.authenticator.identify(authorization)
            except AuthError as exc:
                return PlainTextResponse(str(exc), 401, headers={"www-authenticate": "Bearer"})
            headers = {**self._forwarded(request), **upstream_headers(self.authenticator, identity)}
        tracing.inject(headers)  # the request's span, where the route has one (/facts)
        content = request.stream() if request.method == "POST" else None
        upstream = self.client.build_request(
            request.method, url, params=request.url.query, headers=headers, content=content
        )
        try:
            answer = await self.client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            log.warning("%s %s failed: %r", request.method, url, exc)
            return PlainTextResponse(f"The {self.name} service is unavailable.", 502)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:  # also when the client goes away mid-download
                await answer.aclose()

        return StreamingResponse(
            body(),
            status_code=answer.status_code,
            headers={name: answer.headers[name] for name in self.KEPT_HEADERS if name in answer.headers},
            background=BackgroundTask(answer.aclose),
        )

    def _forwarded(self, request: Request) -> dict[str, str]:
        return {
            name: value
            for name, value in request.headers.items()
            if name in self.forwarded or (self.forwarded_prefix and name.startswith(self.forwarded_prefix))
        }

    async def close(self) -> None:
        await self.client.aclose()


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    tracing.setup("gateway")  # only when the OTEL_* variables ask
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
            max_fields=settings.max_fields,
            max_repeats=settings.max_repeats,
            max_document_chars=settings.max_document_chars,
            introspection=settings.introspection_enabled,
        ),
    )
    authenticator = Authenticator(settings)
    options = HttpOptions(
        max_body_bytes=settings.max_body_bytes,
        max_signed_in_body_bytes=settings.max_signed_in_body_bytes,
        graphiql=settings.graphiql_enabled,
        persisted_documents=load_persisted(settings.persisted_documents),
        persisted_only=settings.persisted_only,
    )
    trusted = networks(settings.trusted_proxies) or (PRIVATE_PROXIES if settings.trust_forwarded else ())
    budgeted = settings.cost_budget_per_minute > 0 or settings.anonymous_cost_budget_per_minute > 0
    subscriptions = SubscriptionEndpoint(
        engine, authenticator, options, max_operations=settings.max_operations_per_socket
    )
    reports = PassThrough(
        settings.analytics_url,
        authenticator,
        name="analytics",
        forwarded=("accept", "accept-language", "if-none-match"),
    )
    documents = {
        service: PassThrough(url, authenticator, name=service, forwarded=("if-none-match",))
        for service, url in (("registry", settings.registry_url), ("events", settings.events_url))
    }
    facts = PassThrough(
        settings.events_url,
        authenticator,
        name="events",
        forwarded=("content-type", "content-length"),
        forwarded_prefix="ce-",
        own_tokens_prefix="setka-src_",  # a regional system's source token (services/events/intake.py)
    )

    shared_limit = (
        SharedBuckets(
            settings.rate_limit_redis_url.get_secret_value(),
            prefix=settings.rate_limit_redis_prefix,
            timeout=settings.rate_limit_redis_timeout_seconds,
        )
        if settings.rate_limit_redis_url and (settings.rate_limit_per_minute > 0 or budgeted)
        else None
    )
    budget = (
        CostBudget(
            per_minute=settings.cost_budget_per_minute,
            anonymous_per_minute=settings.anonymous_cost_budget_per_minute,
            shared=shared_limit,
        )
        if budgeted
        else None
    )
    endpoint = GraphQLHttp(
        engine,
        options,
        authenticator,
        budget=budget,
        client_key=lambda scope: client_address(scope, trusted=trusted),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if shared_limit is not None:
            await shared_limit.close()
        await subscriptions.upstreams.close()
        await graph.close()
        engine.close()
        await reports.close()
        await facts.close()
        for passage in documents.values():
            await passage.close()
        await authenticator.close()
        tracing.flush()

    app = Starlette(
        routes=[
            Route("/graphql", AsgiEndpoint(endpoint), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", subscriptions),
            # GraphiQL's files, a fixed list of names (gateway/graphiql.py), when GraphiQL is on
            *([Route("/graphiql/{name}", GRAPHIQL.asset, methods=["GET"])] if options.graphiql else []),
            *(Route(f"/reports/{name}", reports.forward, methods=["GET"]) for name in REPORT_FILES),
            # a span of its own, carried on to the events service and from there into each fact
            Route(
                "/facts",
                tracing.Traced(request_response(facts.forward), component="gateway"),
                methods=["POST"],
            ),
            # documents, each from the service that owns it, which checks the caller may see its owner
            *(
                Route(f"/documents/{service}/{{document_id}}", passage.forward, methods=["GET"])
                for service, passage in documents.items()
            ),
            *health_routes(
                {"subgraphs": graph.ready},
                metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
            ),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                RateLimit,
                per_minute=settings.rate_limit_per_minute,
                burst=settings.rate_limit_burst,
                trust_forwarded=settings.trust_forwarded,
                trusted_proxies=networks(settings.trusted_proxies),
                shared=shared_limit,
            )
        ],
    )
    app.state.subgraphs = graph
    app.state.engine = engine
    app.state.rate_limit_store = shared_limit
    app.state.cost_budget = budget
    return app
