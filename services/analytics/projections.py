"""Event handlers that keep the read models; each runs inside the consumer's transaction.

The projections take a whole run of events at once (a batch handler): the counts of a batch are
added up in memory and written with one upsert per region, and the organizations with one insert.
"""

from __future__ import annotations

from collections import Counter

from setka_contracts.registry import OrganizationKind, OrganizationRegistered
from setka_runtime.consumer import Item, batch, one_at_a_time
from setka_runtime.sql import dialect_insert, insert_ignoring_conflicts
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Organization, RegionSummary


@batch
async def organizations_registered(session: AsyncSession, items: list[Item]) -> None:
    """Count each organization in its region and note where it is; the inbox makes a redelivery
    count nothing, and an organization already noted keeps its first registration."""
    organizations: Counter[str] = Counter()
    schools: Counter[str] = Counter()
    latest = {}
    known: dict[str, dict[str, object]] = {}
    for item in items:
        data: OrganizationRegistered = item.data
        known.setdefault(
            str(data.organization_id),
            {
                "id": data.organization_id,
                "region_code": data.region_code,
                "kind": data.kind.value,
                "registered_at": data.registered_at,
            },
        )
        organizations[data.region_code] += 1
        schools[data.region_code] += 1 if data.kind == OrganizationKind.school else 0
        latest[data.region_code] = max(item.event.time, latest.get(data.region_code, item.event.time))
    table = RegionSummary.__table__
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["region_code"],
        set_={
            "organizations": table.c.organizations + statement.excluded.organizations,
            "schools": table.c.schools + statement.excluded.schools,
            "updated_at": statement.excluded.updated_at,
        },
    )
    await session.execute(
        statement,
        [
            {
                "region_code": region,
                "organizations": organizations[region],
                "schools": schools[region],
                "updated_at": latest[region],
            }
            for region in sorted(organizations)
        ],
    )
    await session.execute(
        insert_ignoring_conflicts(session, Organization.__table__),
        [known[ident] for ident in sorted(known)],
    )


organization_registered = one_at_a_time(organizations_registered)

HANDLERS = {OrganizationRegistered: organizations_registered}
