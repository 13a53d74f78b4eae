"""The analytics GraphQL subgraph (Apollo Federation 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from setka_runtime.graphql import loader, reading
from sqlalchemy import select
from strawberry.types import Info

from .models import Organization as OrganizationRow
from .models import RegionSummary as RegionSummaryRow


@strawberry.federation.type(keys=["regionCode"], description="Network figures of one region")
class RegionSummary:
    region_code: str
    organizations: int
    schools: int
    updated_at: datetime | None

    @classmethod
    def of(cls, row: RegionSummaryRow) -> RegionSummary:
        return cls(
            region_code=row.region_code,
            organizations=row.organizations,
            schools=row.schools,
            updated_at=row.updated_at,
        )

    @classmethod
    def empty(cls, region_code: str) -> RegionSummary:
        return cls(region_code=region_code, organizations=0, schools=0, updated_at=None)

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> RegionSummary:
        return await cls.load(info, str(key["regionCode"]))

    @classmethod
    async def load(cls, info: Info, region_code: str) -> RegionSummary:
        async def load(codes: list[str]) -> list[RegionSummary]:
            async with reading(info) as session:
                rows = await session.scalars(
                    select(RegionSummaryRow).where(RegionSummaryRow.region_code.in_(codes))
                )
                found = {row.region_code: cls.of(row) for row in rows}
            return [found.get(code) or cls.empty(code) for code in codes]

        return await loader(info, "region_summary", load).load(region_code)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _summaries_of_organizations(info: Info, ids: list[uuid.UUID]) -> list[RegionSummary | None]:
    """The figures of each organization's region, one query for all of them; None for an
    organization analytics has not heard of."""
    query = (
        select(OrganizationRow.id, OrganizationRow.region_code, RegionSummaryRow)
        .outerjoin(RegionSummaryRow, RegionSummaryRow.region_code == OrganizationRow.region_code)
        .where(OrganizationRow.id.in_(ids))  # type: ignore[attr-defined]
    )
    async with reading(info) as session:
        rows = (await session.execute(query)).all()
    found = {
        ident: RegionSummary.of(summary) if summary else RegionSummary.empty(region)
        for ident, region, summary in rows
    }
    return [found.get(ident) for ident in ids]


@strawberry.federation.type(keys=["id"])
class Organization:
    """An organization of the registry (which owns it), with what analytics knows of it."""

    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Organization:
        return cls(id=strawberry.ID(str(key["id"])))

    @strawberry.field(
        description="Figures of the organization's region; null while analytics has not heard of it"
    )
    async def region_summary(self, info: Info) -> RegionSummary | None:
        ident = _uuid(self.id)
        if ident is None:
            return None

        async def load(ids: list[uuid.UUID]) -> list[RegionSummary | None]:
            return await _summaries_of_organizations(info, ids)

        return await loader(info, "organization_region_summary", load).load(ident)


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
