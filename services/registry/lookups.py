"""Finding the aggregates a command refers to, with the error a user can act on if absent."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from setka_runtime.errors import DomainError
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Educator, Network, Organization

T = TypeVar("T")


def as_uuid(value: Any, *, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("not a valid id", field=field) from None


async def _get(session: AsyncSession, model: type[T], ident: Any, *, field: str, what: str) -> T:
    row = await session.get(model, as_uuid(ident, field=field))
    if row is None:
        raise DomainError(f"no such {what}", field=field)
    return row


async def organization(
    session: AsyncSession, ident: Any, *, field: str = "organizationId", active: bool = True
) -> Organization:
    """The organization ``ident``; an archived one only when ``active`` is false."""
    row = await _get(session, Organization, ident, field=field, what="organization")
    if active and row.archived_at is not None:
        raise DomainError("the organization is archived", field=field)
    return row


async def network(session: AsyncSession, ident: Any, *, field: str = "networkId") -> Network:
    return await _get(session, Network, ident, field=field, what="network")


async def educator(session: AsyncSession, ident: Any, *, field: str = "educatorId") -> Educator:
    return await _get(session, Educator, ident, field=field, what="educator")
