"""The analytics GraphQL subgraph (Apollo Federation 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from setka_runtime.graphql import loader, reading
from sqlalchemy import select
from strawberry.types import Info

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


schema = strawberry.federation.Schema(query=Query, types=[RegionSummary], federation_version="2.7")
