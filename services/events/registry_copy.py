"""Keeps the local copy of the registry from its events (natural upserts by id).

Only what the events service's rules need: organizations (with ИНН, to resolve inbound facts),
networks, memberships with their dates, educators and where they work — no personal data.
"""

from __future__ import annotations

from typing import Any

from setka_contracts import CloudEvent
from setka_contracts.registry import (
    EducatorRegistered,
    EducatorUpdated,
    MemberJoined,
    MemberLeft,
    NetworkClosed,
    NetworkCreated,
    OrganizationArchived,
    OrganizationRegistered,
    OrganizationUpdated,
)
from setka_runtime.sql import upsert
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import KnownEducator, KnownEmployment, KnownMembership, KnownNetwork, KnownOrganization


async def organization_registered(
    session: AsyncSession, data: OrganizationRegistered | OrganizationUpdated, event: CloudEvent
) -> None:
    await session.execute(
        upsert(
            session,
            KnownOrganization.__table__,
            index=["id"],
            values={
                "id": data.organization_id,
                "short_name": data.short_name,
                "kind": data.kind.value,
                "region_code": data.region_code,
                "municipality": data.municipality,
                "inn": data.inn,
                "updated_at": event.time,
            },
        )
    )


async def organization_archived(session: AsyncSession, data: OrganizationArchived, event: CloudEvent) -> None:
    await session.execute(
        update(KnownOrganization)
        .where(KnownOrganization.id == data.organization_id)
        .values(archived_at=data.archived_at, updated_at=event.time)
    )


async def network_created(session: AsyncSession, data: NetworkCreated, event: CloudEvent) -> None:
    await session.execute(
        upsert(
            session,
            KnownNetwork.__table__,
            index=["id"],
            values={
                "id": data.network_id,
                "name": data.name,
                "level": data.level.value,
                "region_code": data.region_code,
                "started_on": data.started_on,
                "ended_on": data.ended_on,
                "updated_at": event.time,
            },
        )
    )


async def network_closed(session: AsyncSession, data: NetworkClosed, event: CloudEvent) -> None:
    await session.execute(
        update(KnownNetwork)
        .where(KnownNetwork.id == data.network_id)
        .values(ended_on=data.ended_on, updated_at=event.time)
    )
    await session.execute(
        update(KnownMembership)
        .where(KnownMembership.network_id == data.network_id, KnownMembership.left_on.is_(None))
        .values(left_on=data.ended_on, updated_at=event.time)
    )


async def member_joined(session: AsyncSession, data: MemberJoined | MemberLeft, event: CloudEvent) -> None:
    await session.execute(
        upsert(
            session,
            KnownMembership.__table__,
            index=["id"],
            values={
                "id": data.membership_id,
                "network_id": data.network_id,
                "organization_id": data.organization_id,
                "role": data.role.value,
                "joined_on": data.joined_on,
                "left_on": data.left_on if isinstance(data, MemberLeft) else None,
                "updated_at": event.time,
            },
        )
    )


async def educator_registered(
    session: AsyncSession, data: EducatorRegistered | EducatorUpdated, event: CloudEvent
) -> None:
    """The educator's employments are the whole new state: replace the ones we had."""
    await session.execute(
        upsert(
            session,
            KnownEducator.__table__,
            index=["id"],
            values={"id": data.educator_id, "subjects": list(data.subjects), "updated_at": event.time},
        )
    )
    await session.execute(delete(KnownEmployment).where(KnownEmployment.educator_id == data.educator_id))
    for employment in data.employments:
        await session.execute(
            upsert(
                session,
                KnownEmployment.__table__,
                index=["id"],
                values={
                    "id": employment.employment_id,
                    "educator_id": data.educator_id,
                    "organization_id": employment.organization_id,
                    "started_on": employment.started_on,
                    "ended_on": employment.ended_on,
                },
            )
        )


HANDLERS: dict[Any, Any] = {
    OrganizationRegistered: organization_registered,
    OrganizationUpdated: organization_registered,
    OrganizationArchived: organization_archived,
    NetworkCreated: network_created,
    NetworkClosed: network_closed,
    MemberJoined: member_joined,
    MemberLeft: member_joined,
    EducatorRegistered: educator_registered,
    EducatorUpdated: educator_registered,
}
