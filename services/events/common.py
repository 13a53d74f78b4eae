"""Helpers the events service's rules share: lookups in the local registry copy, text checks."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import TypeVar

from setka_runtime.errors import DomainError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import KnownEducator, KnownEmployment, KnownMembership, KnownNetwork, KnownOrganization

SOURCE = "/setka/events"

E = TypeVar("E", bound=StrEnum)


def check_text(value: str, *, field: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise DomainError("must not be empty", field=field)
    if len(text) > limit:
        raise DomainError(f"must be at most {limit} characters", field=field)
    return text


def optional_text(value: str | None, *, field: str, limit: int) -> str | None:
    return check_text(value, field=field, limit=limit) if value and value.strip() else None


def check_choice(enum: type[E], value: str, *, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(item.value for item in enum)
        raise DomainError(f"unknown value {value!r}; one of: {allowed}", field=field) from None


async def known_organization(
    session: AsyncSession, organization_id: uuid.UUID, *, field: str
) -> KnownOrganization:
    organization = await session.get(KnownOrganization, organization_id)
    if organization is None:
        raise DomainError(f"organization {organization_id} is not in the registry", field=field)
    if organization.archived_at is not None:
        raise DomainError(f"organization {organization.short_name} has left the registry", field=field)
    return organization


async def known_network(
    session: AsyncSession, network_id: uuid.UUID, *, field: str = "networkId"
) -> KnownNetwork:
    network = await session.get(KnownNetwork, network_id)
    if network is None:
        raise DomainError(f"network {network_id} is not in the registry", field=field)
    return network


async def known_educator(
    session: AsyncSession, educator_id: uuid.UUID, *, organization_id: uuid.UUID | None, field: str
) -> KnownEducator:
    educator = await session.get(KnownEducator, educator_id)
    if educator is None:
        raise DomainError(f"educator {educator_id} is not in the registry", field=field)
    if organization_id is not None and not await works_at(session, educator_id, organization_id):
        raise DomainError(
            f"educator {educator_id} does not work at organization {organization_id}", field=field
        )
    return educator


async def works_at(session: AsyncSession, educator_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the educator is (or was) employed by the organization."""
    found = await session.scalar(
        select(KnownEmployment.id).where(
            KnownEmployment.educator_id == educator_id, KnownEmployment.organization_id == organization_id
        )
    )
    return found is not None


async def is_member(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID, on: date
) -> bool:
    """Whether the organization was a member of the network on that date (участник сети)."""
    found = await session.scalar(
        select(KnownMembership.id).where(
            KnownMembership.network_id == network_id,
            KnownMembership.organization_id == organization_id,
            KnownMembership.joined_on <= on,
            or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > on),
        )
    )
    return found is not None
