"""GraphQL pieces every subgraph shares: typed validation errors, ids, the request's session, the
caller, and the one way a mutation runs its command (in scope, audited)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

import strawberry
from graphql import ExecutionResult, GraphQLError, parse
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import UNSET
from strawberry.dataloader import DataLoader
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import ExecutionContext, Info
from strawberry.utils.logging import StrawberryLogger

from . import audit
from .access import (
    ANONYMOUS,
    EDITORS,
    AccessDenied,
    AccessMap,
    Identity,
    Refusal,
    Role,
    Target,
    access_map,
    refusals,
)
from .db import Database
from .errors import DomainError, NotFound

log = logging.getLogger(__name__)

K = TypeVar("K")
R = TypeVar("R")
T = TypeVar("T")
V = TypeVar("V")


@strawberry.federation.type(shareable=True, description="A rule refused the input; show it to the user")
class ValidationError:
    field: str | None = strawberry.field(description="The input field at fault, if one is")
    message: str = strawberry.field(description="What is wrong, in Russian, for the person")
    code: str = strawberry.field(
        description="The rule that refused it (UPPER_SNAKE_CASE, e.g. NETWORK_CLOSED): stable, for programs"
    )

    @classmethod
    def of(cls, error: DomainError) -> ValidationError:
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.federation.type(shareable=True, description="Where a page of a Relay connection ends")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ForeignEntity:
    """An entity another subgraph owns, to which this one adds fields: it knows it by its id alone."""

    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Self:
        return cls(id=strawberry.ID(str(key["id"])))


def to_uuid(value: object) -> uuid.UUID | None:
    """The id ``value`` stands for, or None when it is none: what is looked up by it is not found."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def require_id(value: object, field: str) -> uuid.UUID:
    """The id given for ``field``; a malformed one is a DomainError on that field."""
    ident = to_uuid(value)
    if ident is None:
        raise DomainError("Это не идентификатор", code="INVALID_ID", field=field)
    return ident


def database(info: Info) -> Database:
    return info.context["db"]


@asynccontextmanager
async def transaction(info: Info) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the block ends without an error."""
    async with database(info).session() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(info: Info) -> AsyncIterator[AsyncSession]:
    async with database(info).session() as session:
        yield session


def identity(info: Info) -> Identity:
    """Who is asking: the identity the gateway's internal token carries, or anonymous."""
    return info.context.get("identity", ANONYMOUS)


_RULES: dict[int, AccessMap] = {}


def declared_access(schema: Any) -> AccessMap:
    """The access directives of a strawberry schema's fields, read once from its SDL."""
    key = id(schema)
    if key not in _RULES:
        _RULES[key] = access_map(parse(schema.as_str(), no_location=True))
    return _RULES[key]


_CHECKED: OrderedDict[tuple[Any, ...], list[Refusal]] = OrderedDict()
"""The access check's answer by document, operation and kind of caller (signed in, roles)."""


class AccessControl(SchemaExtension):
    """A subgraph enforces its own ``@authenticated``/``@requiresScopes``/``@policy``: an operation
    that selects a field the caller may not see is refused whole, before anything runs, as the
    gateway refuses it (so a caller who reaches the service port gets no further)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        values = context.context if isinstance(context.context, dict) else {}
        problem = values.get("identity_error")
        if problem:
            context.result = ExecutionResult(
                data=None, errors=[GraphQLError(problem, extensions={"code": "UNAUTHENTICATED"})]
            )
        elif context.graphql_document is not None:
            caller: Identity = values.get("identity", ANONYMOUS)
            key = (
                id(context.schema),
                hashlib.sha256((context.query or "").encode("utf-8", "surrogatepass")).digest(),
                context.operation_name,
                caller.authenticated,
                caller.scopes,
            )
            found = _CHECKED.get(key)
            if found is None:
                found = refusals(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    declared_access(context.schema),
                    caller,
                )
                if context.query is not None:
                    _CHECKED[key] = found
                    if len(_CHECKED) > 2000:
                        _CHECKED.popitem(last=False)
            if found:
                context.result = ExecutionResult(
                    data=None,
                    errors=[GraphQLError(r.message, extensions={"code": r.code}) for r in found],
                )
        yield


class ErrorCodes(SchemaExtension):
    """A rule of the domain that refuses a query's arguments (a malformed cursor, a year out of
    range, an id that is not one) answers with ``extensions.code`` BAD_USER_INPUT, the argument
    at fault in ``extensions.field`` and the rule's own code in ``extensions.validationCode`` (the
    ``code`` a mutation's ValidationError carries), and a query about something that does not exist
    NOT_FOUND,
    so a portal can tell them from a failure of the service.
    (Mutations answer such refusals as a ``ValidationError`` in their result instead.)"""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or ():
            cause = error.original_error
            if isinstance(cause, DomainError):
                extensions = {
                    **(error.extensions or {}),
                    "code": "BAD_USER_INPUT",
                    "validationCode": cause.code,
                }
                if cause.field:
                    extensions["field"] = cause.field
                error.extensions = extensions
            elif isinstance(cause, NotFound):
                error.extensions = {**(error.extensions or {}), "code": "NOT_FOUND"}
            elif not callers_mistake(cause):
                # the service's own failure: its text (an SQL statement, a host) is for the log only
                error.message = INTERNAL_MESSAGE
                error.extensions = {"code": "INTERNAL_SERVER_ERROR"}


INTERNAL_MESSAGE = "Internal server error"


def callers_mistake(cause: BaseException | None) -> bool:
    """Whether an error is the caller's (a GraphQL error, a domain rule, something not found, a
    bad input, a refusal carrying its code such as :class:`AccessDenied`) rather than the
    service's own failure."""
    if cause is None or isinstance(
        cause, (DomainError, NotFound, GraphQLError, StrawberryInputCoercionError, AccessDenied)
    ):
        return True
    extensions = getattr(cause, "extensions", None)
    return isinstance(extensions, dict) and "code" in extensions


SUBGRAPH_MAX_DEPTH = 16
SUBGRAPH_MAX_ALIASES = 100
SUBGRAPH_MAX_TOKENS = 10_000
"""A subgraph's own limits, behind the gateway's (depth 10, 30 aliases, 2,000 tokens): room for
what a router's plan adds (entity fetches, key fields, aliased batches), none for a request that
reached the service some other way."""


def own_limits() -> list[Any]:
    """Defence in depth: the limits and the introspection policy every subgraph enforces itself.
    Introspection is the gateway's business (it answers from the supergraph); a subgraph's schema
    is read through ``_service { sdl }``."""
    return [  # factories: a fresh extension for every request
        lambda: QueryDepthLimiter(max_depth=SUBGRAPH_MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=SUBGRAPH_MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=SUBGRAPH_MAX_TOKENS),
        DisableIntrospection,
    ]


def costs(weight: int) -> list[object]:
    """``@cost(weight:)`` of a field that costs the subgraph about ``weight`` rows' work (an
    analysis, a figure computed by many queries): the gateway counts it so (``gateway.federation
    .cost``), and so does any federation router that reads demand-control directives."""
    return [Cost(weight=weight)]


def paged(argument: str = "first") -> list[object]:
    """``@listSize`` of a connection: ``argument`` sets how many ``edges`` come back."""
    return [
        ListSize(slicing_arguments=[argument], sized_fields=["edges"], require_one_slicing_argument=False)
    ]


def sized(assumed: int, *, argument: str | None = None) -> list[object]:
    """``@listSize`` of a list: as many as ``argument`` says if given, else about ``assumed``."""
    return [
        ListSize(
            assumed_size=assumed,
            slicing_arguments=[argument] if argument else UNSET,  # type: ignore[arg-type]
            sized_fields=UNSET,  # type: ignore[arg-type]
            require_one_slicing_argument=False,
        )
    ]


class SubgraphSchema(strawberry.federation.Schema):
    """A service's subgraph: Federation 2.9 (for the demand-control directives ``@cost`` and
    ``@listSize``, see :func:`costs` and :func:`paged`), its own access rules and error codes, and
    a log that keeps tracebacks for the service's own failures: a
    caller's mistake (an unknown field, a bad argument, a refused rule) is one INFO line, so
    ERROR in a service's log always means something for its operator to look at."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("federation_version", "2.9")
        options.setdefault("extensions", [AccessControl, ErrorCodes, *own_limits()])
        super().__init__(**options)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            cause = error.original_error
            if callers_mistake(cause):
                path = ".".join(str(part) for part in error.path or ()) or "request"
                log.info("refused at %s: %s", path, error.message)
            else:
                StrawberryLogger.error(error, execution_context)


Scope = Callable[[AsyncSession], Awaitable[Target | tuple[Target, ...]]]
"""Where a write lands, read in its transaction before it runs (see :meth:`Identity.require`);
several targets: a caller who may act on any one of them may do it."""


async def run_command(
    info: Info,
    present: Callable[[R], T],
    action: Callable[[AsyncSession], Awaitable[R]],
    *,
    scope: Scope,
    roles: Iterable[Role] = EDITORS,
) -> T | ValidationError:
    """A mutation: ``action`` in one transaction (the state and its outbox events together), its
    result shown by ``present``; a rule that refuses it rolls everything back and is the answer.

    First the caller must hold one of ``roles`` over the ``scope`` the write lands in (else
    :class:`~setka_runtime.access.AccessDenied`, a GraphQL error with its code); then the write
    is recorded in the audit trail with the events it caused, in the same transaction."""
    caller = identity(info)
    what = info.field_name
    try:
        async with transaction(info) as session:
            found = await scope(session)
            targets = found if isinstance(found, tuple) else (found,)
            target = next((t for t in targets if caller.may_act_on(t, roles)), targets[0])
            caller.require(target, roles, what=what)
            result = await action(session)
            await audit_write(info, session, caller, target)
    except DomainError as error:
        return ValidationError.of(error)
    return present(result)


async def audit_write(
    info: Info,
    session: AsyncSession,
    caller: Identity,
    target: Target,
    *,
    notes: dict[str, str] | None = None,
) -> None:
    """Record the write of ``caller`` (already allowed on ``target``) in the audit trail
    (:func:`setka_runtime.audit.record`), naming the events recorded in ``session``; ``notes``: a
    few words by event type where the event's type and key do not say what it amounted to.
    :func:`run_command` calls it for every command; a mutation that is not one transaction (an
    import) calls it itself once it is done."""
    await audit.record(
        session,
        service=info.context.get("service_name", "service"),
        operation=info.field_name,
        subject=caller.subject or "",
        caller=caller,
        target=target,
        notes=notes,
    )


def loader(info: Info, name: str, load: Any) -> DataLoader[Any, Any]:
    """The request's DataLoader called ``name``, created on first use (so lookups batch)."""
    loaders: dict[str, DataLoader[Any, Any]] = info.context.setdefault("loaders", {})
    if name not in loaders:
        loaders[name] = DataLoader(load_fn=load)
    return loaders[name]


async def batched(
    info: Info, name: str, fetch: Callable[[AsyncSession, list[K]], Awaitable[Sequence[V]]], key: K
) -> V:
    """What ``fetch(session, keys)`` answers for ``key`` (it answers in the keys' order), fetched
    with every key the request asks of the loader ``name``: one query for them all."""

    async def load(keys: list[K]) -> Sequence[V]:
        async with reading(info) as session:
            return await fetch(session, keys)

    return await loader(info, name, load).load(key)
