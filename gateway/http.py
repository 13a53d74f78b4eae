"""GraphQL over HTTP (the GraphQL Foundation's specification) in front of the engine.

POST with ``application/json``; GET for queries only; responses in
``application/graphql-response+json`` when the client accepts it (request errors are then 4xx
without a ``data`` entry) or ``application/json`` (request errors are 200, as that media type
always had it). Bodies are bounded; a bad token is a 401; GraphiQL is served to browsers when
it is enabled; persisted documents can be required.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from setka_runtime import logs, tracing
from setka_runtime.access import Identity, Refusal
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .auth import Authenticator, AuthError
from .federation.engine import Engine, RequestError
from .observed import OTHER, observe, operation_label
from .ratelimit import CostBudget, client_address

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
NEW_DOCUMENT_COST = 100
"""What reading a document the gateway has not prepared before costs its caller's budget."""
REFUSED_DOCUMENT_COST = 1000
"""What a new document that is refused (unreadable, invalid, over a limit) costs it besides."""
JSON = "application/json"


class HttpError(Exception):
    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.code = code

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": str(self)}
        if self.code:
            error["extensions"] = {"code": self.code}
        return error


@dataclass(frozen=True)
class HttpOptions:
    max_body_bytes: int = 1_048_576
    max_signed_in_body_bytes: int = 32 * 1_048_576
    """A signed-in caller's bodies may be larger: documents travel in base64 in a mutation."""
    graphiql: bool = True
    persisted_documents: dict[str, str] | None = None
    persisted_only: bool = False


def load_persisted(path: Path | None) -> dict[str, str] | None:
    """A manifest of trusted documents: ``{"<id>": "<document>", ...}`` (ids are often sha256)."""
    if path is None:
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or not all(isinstance(v, str) for v in manifest.values()):
        raise ValueError(f"{path.name}: a persisted document manifest maps ids to documents")
    return {str(key): value for key, value in manifest.items()}


def _media_type(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when nothing we speak is acceptable."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            chosen = GRAPHQL_RESPONSE
        elif media in (JSON, "*/*", "application/*"):
            chosen = JSON
        else:
            continue
        candidate = (quality, -position, chosen)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else None


class GraphQLHttp:
    """The ``/graphql`` endpoint as a raw ASGI application."""

    def __init__(
        self,
        engine: Engine,
        options: HttpOptions,
        authenticator: Authenticator,
        *,
        budget: CostBudget | None = None,
        client_key: Callable[[Scope], str] | None = None,
    ) -> None:
        self.engine = engine
        self.options = options
        self.authenticator = authenticator
        self.budget = budget
        self.client_key = client_key or client_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        media = _media_type(request.headers.get("accept"))
        started = time.perf_counter()
        seen: dict[str, str] = {}
        with (
            tracing.span(
                f"{request.method} {request.url.path}",
                component="gateway",
                kind=tracing.SpanKind.SERVER,
                parent=tracing.extract(request.headers),
                attributes={"http.request.method": request.method, "url.path": request.url.path},
            ) as span,
            logs.traced(tracing.current_traceparent()),
        ):
            try:
                response = await self._handle(request, media, seen)
            except HttpError as exc:
                response = _errors_response([exc.error()], exc.status, media or JSON, exc.headers)
            except Exception as exc:
                log.exception("the gateway failed on a request")  # the details stay in the log
                tracing.mark_error(exc)
                response = _errors_response([{"message": "Unexpected error."}], 500, media or JSON)
            span.set_attribute("http.response.status_code", response.status_code)
            if "page" not in seen:
                observe(seen.get("operation", OTHER), response.status_code, time.perf_counter() - started)
            await response(scope, receive, send)

    async def _handle(self, request: Request, media: str | None, seen: dict[str, str]) -> Response:
        """Answer the request; put its operation's label in ``seen`` once known (``page``: GraphiQL)."""
        if request.method == "GET" and self._wants_graphiql(request):
            seen["page"] = "graphiql"
            return _graphiql_page()
        if media is None:
            raise HttpError(406, f"Accept {GRAPHQL_RESPONSE} or {JSON}")
        try:  # before the body is read: how large it may be depends on who sends it
            identity = await self.authenticator.identify(request.headers.get("authorization"))
        except AuthError as exc:
            raise HttpError(401, str(exc), {"www-authenticate": "Bearer"}, code="UNAUTHENTICATED") from exc
        params = await self._params(request, identity)
        query = self._document_text(params)
        operation_name = params.get("operationName")
        seen["operation"] = operation_label(operation_name, query)
        tracing.annotate({"graphql.operation.name": operation_name})
        variables = params.get("variables") or {}
        # a document not seen before costs work to read, however it ends: a client sending new
        # documents pays for them, and more for each one refused, before the next is read
        new = self.budget is not None and not self.engine.is_prepared(query, operation_name)
        if new:  # charged as if refused, the difference given back when it is not
            await self._charge(request, identity, NEW_DOCUMENT_COST + REFUSED_DOCUMENT_COST)
        try:
            prepared = await self.engine.prepare_off_loop(query, operation_name)
            if new:
                await self._charge(request, identity, -REFUSED_DOCUMENT_COST)
            if request.method == "GET" and not self.engine.is_query(prepared):
                raise HttpError(405, "Only queries may be sent with GET; use POST", {"allow": "POST"})
            refused = self.engine.refused(prepared, identity)
            if not refused and prepared.kind == "mutation" and not identity.authenticated:
                refused = [Refusal("Mutation", "UNAUTHENTICATED")]  # no write is ever anonymous
            if refused:
                errors = [{"message": r.message, "extensions": {"code": r.code}} for r in refused]
                if media == GRAPHQL_RESPONSE:
                    status = 403 if identity.authenticated else 401
                    return _errors_response(errors, status, media)
                return _errors_response(errors, 200, media, with_data=True)
            tracing.annotate({"graphql.operation.type": prepared.kind})
            if prepared.kind == "subscription":
                raise HttpError(400, "Subscriptions are served over WebSocket (graphql-transport-ws)")
            await self._charge(request, identity, self.engine.cost_of(prepared, variables))
            body = await self.engine.execute(
                prepared, query, variables, upstream_headers(self.authenticator, identity)
            )
        except RequestError as exc:
            return _errors_response(exc.errors, 400 if media == GRAPHQL_RESPONSE else 200, media)
        return Response(body, media_type=media, headers={"content-type": f"{media}; charset=utf-8"})

    async def _charge(self, request: Request, identity: Identity, cost: int) -> None:
        """Take ``cost`` from the caller's budget (see :class:`CostBudget`; a negative one gives
        back); 429 with ``Retry-After`` when the budget does not hold it."""
        if self.budget is None:
            return
        anonymous = not identity.authenticated
        caller = self.client_key(request.scope) if anonymous else str(identity.subject)
        wait = await self.budget.charge(caller, cost, anonymous=anonymous)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise HttpError(
                429,
                f"Your requests of the last minute have cost what a minute allows; this one (cost {cost})"
                f" fits in {retry} s",
                {"retry-after": str(retry)},
                code="COST_BUDGET_EXCEEDED",
            )

    def _wants_graphiql(self, request: Request) -> bool:
        if not self.options.graphiql or "query" in request.query_params:
            return False
        return "text/html" in request.headers.get("accept", "")

    async def _params(self, request: Request, identity: Identity) -> dict[str, Any]:
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if name in params:
                    try:
                        params[name] = orjson.loads(params[name])
                    except orjson.JSONDecodeError as exc:
                        raise HttpError(400, f"{name} is not valid JSON") from exc
        else:
            content_type = request.headers.get("content-type")
            if not content_type:
                raise HttpError(415, "Send the request as application/json")
            media, *parameters = [piece.strip().lower() for piece in content_type.split(";")]
            if media != JSON:
                raise HttpError(415, "Send the request as application/json")
            for parameter in parameters:
                name, _, value = parameter.partition("=")
                if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
                    raise HttpError(415, "Send the request in UTF-8")
            raw = await self._body(request, identity)
            if not raw:
                raise HttpError(400, "The request has no body")
            try:
                params = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise HttpError(400, "The request body is not valid JSON") from exc
            if not isinstance(params, dict):
                raise HttpError(400, "The request body must be a JSON object")
        for name, kind in (("variables", dict), ("extensions", dict), ("operationName", str)):
            value = params.get(name)
            if value is not None and not isinstance(value, kind):
                raise HttpError(400, f"{name} must be {'a map' if kind is dict else 'a string'}")
        return params

    async def _body(self, request: Request, identity: Identity) -> bytes:
        limit = (
            max(self.options.max_signed_in_body_bytes, self.options.max_body_bytes)
            if identity.authenticated
            else self.options.max_body_bytes
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, f"The request body is larger than {limit} bytes")
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"The request body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _document_text(self, params: dict[str, Any]) -> str:
        try:
            return document_text(params, self.options)
        except DocumentRefused as exc:
            raise HttpError(400, str(exc)) from None


class DocumentRefused(ValueError):
    """A request's document is not one this gateway runs (unknown id, not persisted, none)."""


def document_text(params: dict[str, Any], options: HttpOptions) -> str:
    """The document a request (HTTP parameters or a WebSocket subscribe payload) asks to run:
    its text, or the persisted document its id names; with ``persisted_only``, only a persisted
    one."""
    query = params.get("query")
    persisted = options.persisted_documents
    extensions = params.get("extensions") or {}
    document_id = params.get("documentId")
    if (
        document_id is None
        and isinstance(extensions, dict)
        and isinstance(extensions.get("persistedQuery"), dict)
    ):
        document_id = extensions["persistedQuery"].get("sha256Hash")
    if document_id is not None:
        if persisted is None:
            raise DocumentRefused("Persisted documents are not enabled")
        known = persisted.get(str(document_id)) or persisted.get(f"sha256:{document_id}")
        if known is None:
            raise DocumentRefused("PersistedQueryNotFound")
        if query is not None and query != known:
            raise DocumentRefused("The query does not match the persisted document")
        return known
    if not isinstance(query, str):
        raise DocumentRefused("The request must carry a query string")
    if options.persisted_only:
        digest = hashlib.sha256(query.encode()).hexdigest()
        if persisted is None or (digest not in persisted and f"sha256:{digest}" not in persisted):
            raise DocumentRefused("Only persisted documents are accepted here")
    return query


def upstream_headers(authenticator: Authenticator, identity: Identity) -> dict[str, str]:
    """What the subgraphs are told of the caller: the internal token signed for them, or nothing."""
    if not identity.authenticated:
        return {}
    return {"authorization": f"Bearer {authenticator.internal_token(identity)}"}


def _errors_response(
    errors: list[dict[str, Any]],
    status: int,
    media: str,
    headers: dict[str, str] | None = None,
    *,
    with_data: bool = False,
) -> Response:
    body: dict[str, Any] = {"errors": errors}
    if with_data:
        body["data"] = None
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers={"content-type": f"{media}; charset=utf-8", **(headers or {})},
    )


def _graphiql_page() -> Response:
    """GraphiQL with its files from the gateway itself (gateway/graphiql.py), none from a CDN."""
    from .graphiql import GRAPHIQL

    return GRAPHIQL.page()
