"""The demo dataset loads into an empty PostgreSQL registry once, through the domain functions."""

from __future__ import annotations

from typing import Any

import pytest
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from services.registry.demo import generate, load
from services.registry.models import Educator, Membership, Network, Organization, Resource

pytestmark = pytest.mark.integration


async def test_demo_loads_into_an_empty_registry_once(service_databases: dict[str, str]) -> None:
    db = Database(service_databases["registry"])
    try:
        data = generate()
        assert await load(db) > 0

        tables: dict[str, Any] = {
            "Organization": Organization,
            "Educator": Educator,
            "Network": Network,
            "Membership": Membership,
            "Resource": Resource,
            "outbox": outbox,
        }

        async def counts() -> dict[str, int]:
            async with db.session() as session:
                return {
                    name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
                    for name, table in tables.items()
                }

        loaded = await counts()
        assert loaded["Organization"] == len(data.organizations)
        assert loaded["Educator"] == len(data.educators)
        assert loaded["Network"] == 2
        assert loaded["Membership"] == len(data.memberships)
        assert loaded["Resource"] == len(data.resources)
        assert loaded["outbox"] > loaded["Organization"] + loaded["Educator"]

        assert await load(db) == 0
        assert await counts() == loaded

        async with db.session() as session:
            inns = set((await session.scalars(select(Organization.inn))).all())
            centres = (
                await session.scalars(
                    select(Organization.municipality)
                    .join(Membership, Membership.organization_id == Organization.id)
                    .where(Membership.role == "centre")
                )
            ).all()
        assert inns == {o.inn for o in data.organizations}
        assert "г. Элиста" in centres
    finally:
        await db.dispose()


async def test_national_scale_rows_load_in_bulk_and_are_found_by_the_registry_queries(
    service_databases: dict[str, str],
) -> None:
    from services.registry import educators, organizations
    from services.registry.demo.bulk import load_national

    db = Database(service_databases["registry"])
    try:
        counts = await load_national(db, organizations=2_000, educators=6_000)
        assert (counts.organizations, counts.educators, counts.employments) == (2_000, 6_000, 6_000)
        async with db.session() as session:
            low = await organizations.list_organizations(
                session, organizations.OrganizationFilter(status="low_results"), first=100, after=None
            )
            found = await organizations.list_organizations(
                session, organizations.OrganizationFilter(search="школа № 3"), first=5, after=None
            )
            someone = await session.scalar(select(Organization.id).where(Organization.inn.is_not(None)))
            staff = await educators.list_educators(
                session, educators.EducatorFilter(organization_id=someone), first=100, after=None
            )
        assert len(low.rows) == 100 and low.has_next_page
        assert found.rows and all("школа" in o.search_text and "3" in o.search_text for o in found.rows)
        assert staff.rows
    finally:
        await db.dispose()
