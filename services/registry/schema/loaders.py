"""Per-request DataLoaders of the subgraph: every per-row lookup of one request is one query."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from setka_runtime.graphql import loader, reading
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[AsyncSession, list[Any]], Awaitable[dict[Any, Any]]]


def as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def grouped(
    info: Info, fetch: Fetch, key: Any, *, name: str | None = None, default: Callable[[], Any] = list
) -> Any:
    """``fetch(session, keys)`` returns ``{key: value}``; keys it does not return get ``default()``.

    One loader a request for each ``name``, by default the fetch's own: resolvers that fetch the
    same thing share it.
    """

    async def load(keys: Sequence[Any]) -> list[Any]:
        async with reading(info) as session:
            found = await fetch(session, list(keys))
        return [found.get(k, default()) for k in keys]

    return await loader(info, name or f"{fetch.__module__}.{fetch.__qualname__}", load).load(key)


async def by_id(
    info: Info, model: type[V], ident: Any, *, where: ColumnElement[bool] | None = None, name: str = "id"
) -> V | None:
    """The row of ``model`` with id ``ident`` (None for an unknown or malformed id), batched; with
    ``where``, only a row it holds for (a loader of its own, ``name``, for each condition)."""
    key = as_uuid(ident)
    if key is None:
        return None

    async def fetch(session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, V]:
        query = select(model).where(model.id.in_(keys))  # type: ignore[attr-defined]
        if where is not None:
            query = query.where(where)
        rows = (await session.scalars(query)).all()
        return {row.id: row for row in rows}  # type: ignore[attr-defined]

    return await grouped(info, fetch, key, name=f"{model.__name__}:{name}", default=lambda: None)
