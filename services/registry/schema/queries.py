"""Queries: one entity by id, and filtered, cursor-paginated lists (at most 100 a page)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import strawberry
from setka_runtime.errors import DomainError
from setka_runtime.graphql import reading
from sqlalchemy import select
from strawberry.types import Info

from .. import agreements, educators, networks, resources
from .. import models as m
from .. import organizations as orgs
from .loaders import by_id
from .types import (
    Agreement,
    Connection,
    Educator,
    Membership,
    Municipality,
    Network,
    Organization,
    Region,
    Regulation,
    Resource,
    connection,
)


def _id(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("not a valid id", field=field) from None


@strawberry.type
class Query:
    @strawberry.field(description="Organizations ordered by full name, a page at a time (at most 100)")
    async def organizations(
        self,
        info: Info,
        region_code: str | None = None,
        first: int = 20,
        after: str | None = None,
        municipality_id: strawberry.ID | None = None,
        kind: str | None = None,
        status: Annotated[
            str | None, strawberry.argument(description="Only schools holding this status on `on`")
        ] = None,
        network_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only members of this network on `on`")
        ] = None,
        role: Annotated[
            str | None, strawberry.argument(description="Only members in this role on `on`")
        ] = None,
        on: Annotated[
            dt.date | None, strawberry.argument(description="The date filters refer to; today")
        ] = None,
        search: Annotated[
            str | None, strawberry.argument(description="Words of the name, or the ИНН, ОГРН or school code")
        ] = None,
        include_archived: bool = False,
    ) -> Connection[Organization]:
        criteria = orgs.OrganizationFilter(
            region_code=region_code,
            municipality_id=_id(municipality_id, "municipalityId"),
            kind=kind,
            status=status,
            network_id=_id(network_id, "networkId"),
            role=role,
            on=on,
            search=search,
            include_archived=include_archived,
        )
        async with reading(info) as session:
            page = await orgs.list_organizations(session, criteria, first=first, after=after)
        return connection(page, Organization.of)

    @strawberry.field
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        row = await by_id(info, m.Organization, id)
        return Organization.of(row) if row else None

    @strawberry.field(description="Networks ordered by name")
    async def networks(
        self,
        info: Info,
        region_code: str | None = None,
        level: str | None = None,
        status: str | None = None,
        organization_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only networks the organization is (on `on`) or was a member of"),
        ] = None,
        on: dt.date | None = None,
        search: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Network]:
        criteria = networks.NetworkFilter(
            region_code=region_code,
            level=level,
            status=status,
            organization_id=_id(organization_id, "organizationId"),
            on=on,
            search=search,
        )
        async with reading(info) as session:
            page = await networks.list_networks(session, criteria, first=first, after=after)
        return connection(page, Network.of)

    @strawberry.field
    async def network(self, info: Info, id: strawberry.ID) -> Network | None:
        row = await by_id(info, m.Network, id)
        return Network.of(row) if row else None

    @strawberry.field(description="Memberships in joining order; in force on `on` if given")
    async def memberships(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        organization_id: strawberry.ID | None = None,
        role: str | None = None,
        on: dt.date | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Membership]:
        criteria = networks.MembershipFilter(
            network_id=_id(network_id, "networkId"),
            organization_id=_id(organization_id, "organizationId"),
            role=role,
            on=on,
        )
        async with reading(info) as session:
            page = await networks.list_memberships(session, criteria, first=first, after=after)
        return connection(page, Membership.of)

    @strawberry.field(description="Resources ordered by title; offered ones unless `status` says otherwise")
    async def resources(
        self,
        info: Info,
        kind: str | None = None,
        subject: str | None = None,
        owner_id: strawberry.ID | None = None,
        region_code: str | None = None,
        status: str | None = "offered",
        available_on: dt.date | None = None,
        search: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Resource]:
        criteria = resources.ResourceFilter(
            kind=kind,
            subject=subject,
            owner_id=_id(owner_id, "ownerId"),
            region_code=region_code,
            status=status,
            available_on=available_on,
            search=search,
        )
        async with reading(info) as session:
            page = await resources.list_resources(session, criteria, first=first, after=after)
        return connection(page, Resource.of)

    @strawberry.field
    async def resource(self, info: Info, id: strawberry.ID) -> Resource | None:
        row = await by_id(info, m.Resource, id)
        return Resource.of(row) if row else None

    @strawberry.field(description="Educators ordered by name (personal data: for authorized users only)")
    async def educators(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        qualification_category: str | None = None,
        search: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Educator]:
        criteria = educators.EducatorFilter(
            organization_id=_id(organization_id, "organizationId"),
            qualification_category=qualification_category,
            search=search,
        )
        async with reading(info) as session:
            page = await educators.list_educators(session, criteria, first=first, after=after)
        return connection(page, Educator.of)

    @strawberry.field
    async def educator(self, info: Info, id: strawberry.ID) -> Educator | None:
        row = await by_id(info, m.Educator, id)
        return Educator.of(row) if row else None

    @strawberry.field(description="Agreements by signing date")
    async def agreements(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        network_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Agreement]:
        async with reading(info) as session:
            page = await agreements.list_agreements(
                session,
                organization_id=_id(organization_id, "organizationId"),
                network_id=_id(network_id, "networkId"),
                first=first,
                after=after,
            )
        return connection(page, Agreement.of)

    @strawberry.field(description="Regulating documents by date of issue")
    async def regulations(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        issuer_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Regulation]:
        async with reading(info) as session:
            page = await agreements.list_regulations(
                session,
                network_id=_id(network_id, "networkId"),
                issuer_id=_id(issuer_id, "issuerId"),
                first=first,
                after=after,
            )
        return connection(page, Regulation.of)

    @strawberry.field
    async def regions(self, info: Info) -> list[Region]:
        async with reading(info) as session:
            rows = (await session.scalars(select(m.Region).order_by(m.Region.code))).all()
        return [Region.of(r) for r in rows]

    @strawberry.field
    async def municipalities(self, info: Info, region_code: str | None = None) -> list[Municipality]:
        query: Any = select(m.Municipality).order_by(m.Municipality.region_code, m.Municipality.name)
        if region_code:
            query = query.where(m.Municipality.region_code == region_code)
        async with reading(info) as session:
            rows = (await session.scalars(query)).all()
        return [Municipality.of(r) for r in rows]
