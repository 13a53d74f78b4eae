"""GraphQL pieces every subgraph shares: typed validation errors, ids, the request's session, and
the one way a mutation runs its command."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from .db import Database
from .errors import DomainError

K = TypeVar("K")
R = TypeVar("R")
T = TypeVar("T")
V = TypeVar("V")


@strawberry.federation.type(shareable=True, description="A rule refused the input; show it to the user")
class ValidationError:
    field: str | None = strawberry.field(description="The input field at fault, if one is")
    message: str

    @classmethod
    def of(cls, error: DomainError) -> ValidationError:
        return cls(field=error.field, message=error.message)


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
        raise DomainError("not a valid id", field=field)
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


async def run_command(
    info: Info, present: Callable[[R], T], action: Callable[[AsyncSession], Awaitable[R]]
) -> T | ValidationError:
    """A mutation: ``action`` in one transaction (the state and its outbox event together), its
    result shown by ``present``; a rule that refuses it rolls everything back and is the answer."""
    try:
        async with transaction(info) as session:
            result = await action(session)
    except DomainError as error:
        return ValidationError.of(error)
    return present(result)


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
