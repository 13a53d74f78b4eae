"""GraphQL pieces every subgraph shares: typed validation errors and the request's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from .db import Database
from .errors import DomainError


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


def loader(info: Info, name: str, load: Any) -> DataLoader[Any, Any]:
    """The request's DataLoader called ``name``, created on first use (so lookups batch)."""
    loaders: dict[str, DataLoader[Any, Any]] = info.context.setdefault("loaders", {})
    if name not in loaders:
        loaders[name] = DataLoader(load_fn=load)
    return loaders[name]
