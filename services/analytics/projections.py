"""Event handlers that keep the read models; each runs inside the consumer's transaction."""

from __future__ import annotations

from setka_contracts import CloudEvent
from setka_contracts.registry import OrganizationKind, OrganizationRegistered
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import RegionSummary


async def organization_registered(
    session: AsyncSession, data: OrganizationRegistered, event: CloudEvent
) -> None:
    """Count the organization in its region; the inbox makes a redelivery count nothing."""
    is_school = 1 if data.kind == OrganizationKind.school else 0
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = RegionSummary.__table__
    statement = module.insert(table).values(
        region_code=data.region_code, organizations=1, schools=is_school, updated_at=event.time
    )
    statement = statement.on_conflict_do_update(
        index_elements=["region_code"],
        set_={
            "organizations": table.c.organizations + 1,
            "schools": table.c.schools + is_school,
            "updated_at": statement.excluded.updated_at,
        },
    )
    await session.execute(statement)


HANDLERS = {OrganizationRegistered: organization_registered}
