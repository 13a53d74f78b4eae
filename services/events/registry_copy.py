"""Keeps the local copy of the registry from its events (natural upserts by id)."""

from __future__ import annotations

from setka_contracts import CloudEvent
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.sql import upsert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import KnownOrganization


async def organization_registered(
    session: AsyncSession, data: OrganizationRegistered, event: CloudEvent
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
                "inn": data.inn,
                "updated_at": event.time,
            },
        )
    )


HANDLERS = {OrganizationRegistered: organization_registered}
