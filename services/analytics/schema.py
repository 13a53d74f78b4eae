"""The analytics GraphQL subgraph (Apollo Federation 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from setka_runtime.graphql import ForeignEntity, batched, reading, to_uuid
from setka_runtime.graphql_derive import ModelType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .models import Organization as OrganizationRow
from .models import RegionSummary as RegionSummaryRow


@strawberry.federation.type(keys=["regionCode"], description="Network figures of one region")
class RegionSummary(ModelType, model=RegionSummaryRow):
    updated_at: datetime | None  # declared here: a region nothing is known of yet has none

    @classmethod
    def empty(cls, region_code: str) -> RegionSummary:
        """The figures of a region nothing is known of yet: the model's defaults."""
        return cls.of(RegionSummaryRow(region_code=region_code), updated_at=None)

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> RegionSummary:
        return await cls.load(info, str(key["regionCode"]))

    @classmethod
    async def load(cls, info: Info, region_code: str) -> RegionSummary:
        return await batched(info, "region_summary", _summaries_of_regions, region_code)


async def _summaries_of_regions(session: AsyncSession, codes: list[str]) -> list[RegionSummary]:
    """The figures of each region, one query for all of them; zeros for a region with none."""
    rows = await session.scalars(select(RegionSummaryRow).where(RegionSummaryRow.region_code.in_(codes)))
    found = {row.region_code: RegionSummary.of(row) for row in rows}
    return [found.get(code) or RegionSummary.empty(code) for code in codes]


async def _summaries_of_organizations(
    session: AsyncSession, ids: list[uuid.UUID]
) -> list[RegionSummary | None]:
    """The figures of each organization's region, one query for all of them; None for an
    organization analytics has not heard of."""
    query = (
        select(OrganizationRow.id, OrganizationRow.region_code, RegionSummaryRow)
        .outerjoin(RegionSummaryRow, RegionSummaryRow.region_code == OrganizationRow.region_code)
        .where(OrganizationRow.id.in_(ids))  # type: ignore[attr-defined]
    )
    rows = (await session.execute(query)).all()
    found = {
        ident: RegionSummary.of(summary) if summary else RegionSummary.empty(region)
        for ident, region, summary in rows
    }
    return [found.get(ident) for ident in ids]


@strawberry.federation.type(keys=["id"])
class Organization(ForeignEntity):
    """An organization of the registry (which owns it), with what analytics knows of it."""

    @strawberry.field(
        description="Figures of the organization's region; null while analytics has not heard of it"
    )
    async def region_summary(self, info: Info) -> RegionSummary | None:
        ident = to_uuid(self.id)
        if ident is None:
            return None
        return await batched(info, "organization_region_summary", _summaries_of_organizations, ident)


@strawberry.type
class Query:
    @strawberry.field(description="Figures of every region that has any")
    async def region_summaries(self, info: Info) -> list[RegionSummary]:
        async with reading(info) as session:
            rows = await session.scalars(select(RegionSummaryRow).order_by(RegionSummaryRow.region_code))
            return [RegionSummary.of(row) for row in rows]

    @strawberry.field(description="Figures of one region (zeros when nothing is known yet)")
    async def region_summary(self, info: Info, region_code: str) -> RegionSummary:
        return await RegionSummary.load(info, region_code)


schema = strawberry.federation.Schema(
    query=Query, types=[RegionSummary, Organization], federation_version="2.7"
)
