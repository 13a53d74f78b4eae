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
        raise DomainError("Это не идентификатор", code="INVALID_ID", field=field) from None


async def get(
    session: AsyncSession,
    model: type[T],
    ident: Any,
    *,
    field: str,
    missing: str,
    code: str,
    lock: bool = False,
) -> T:
    """The row ``ident`` of ``model`` (locked until the transaction ends with ``lock``); a
    DomainError ``code`` saying ``missing`` if there is none."""
    row = await session.get(model, as_uuid(ident, field=field), with_for_update=lock)
    if row is None:
        raise DomainError(missing, code=code, field=field)
    return row


async def organization(
    session: AsyncSession, ident: Any, *, field: str = "organizationId", active: bool = True
) -> Organization:
    """The organization ``ident``; an archived one only when ``active`` is false."""
    row = await get(
        session,
        Organization,
        ident,
        field=field,
        missing="Такой организации нет",
        code="ORGANIZATION_NOT_FOUND",
    )
    if active and row.archived_at is not None:
        raise DomainError("Организация в архиве", code="ORGANIZATION_ARCHIVED", field=field)
    return row


async def network(
    session: AsyncSession, ident: Any, *, field: str = "networkId", lock: bool = False
) -> Network:
    return await get(
        session, Network, ident, field=field, missing="Такой сети нет", code="NETWORK_NOT_FOUND", lock=lock
    )


async def educator(session: AsyncSession, ident: Any, *, field: str = "educatorId") -> Educator:
    return await get(
        session, Educator, ident, field=field, missing="Такого педагога нет", code="EDUCATOR_NOT_FOUND"
    )
