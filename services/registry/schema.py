"""The registry's GraphQL subgraph (Apollo Federation 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, loader, reading, transaction
from strawberry.types import Info

from . import organizations as orgs
from .models import Organization as OrganizationRow


@strawberry.federation.type(keys=["id"], description="An educational organization")
class Organization:
    id: strawberry.ID
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None
    inn: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: OrganizationRow) -> Organization:
        return cls(
            id=strawberry.ID(str(row.id)),
            full_name=row.full_name,
            short_name=row.short_name,
            kind=row.kind,
            region_code=row.region_code,
            municipality=row.municipality,
            inn=row.inn,
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Organization | None:
        async def load(keys: list[str]) -> list[Organization | None]:
            ids = [_uuid_or_none(key) for key in keys]
            async with reading(info) as session:
                rows = await orgs.organizations_by_ids(session, [i for i in ids if i])
            found = {row.id: cls.of(row) for row in rows}
            return [found.get(i) if i else None for i in ids]

        return await loader(info, "organization", load).load(str(key["id"]))


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@strawberry.type
class OrganizationEdge:
    cursor: str
    node: Organization


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class OrganizationConnection:
    edges: list[OrganizationEdge]
    page_info: PageInfo


@strawberry.input
class RegisterOrganizationInput:
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None = None
    inn: str | None = None


RegisterOrganizationResult = Annotated[
    Organization | ValidationError, strawberry.union("RegisterOrganizationResult")
]


@strawberry.type
class Query:
    @strawberry.field(description="Organizations ordered by name, a page at a time (at most 100)")
    async def organizations(
        self, info: Info, region_code: str | None = None, first: int = 20, after: str | None = None
    ) -> OrganizationConnection:
        async with reading(info) as session:
            rows, more = await orgs.list_organizations(
                session, region_code=region_code, first=first, after=after
            )
        edges = [OrganizationEdge(cursor=orgs.encode_cursor(r), node=Organization.of(r)) for r in rows]
        return OrganizationConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register an organization; emits organization.registered")
    async def register_organization(
        self, info: Info, input: RegisterOrganizationInput
    ) -> RegisterOrganizationResult:
        try:
            async with transaction(info) as session:
                row = await orgs.register_organization(
                    session,
                    orgs.RegisterOrganization(
                        full_name=input.full_name,
                        short_name=input.short_name,
                        kind=input.kind,
                        region_code=input.region_code,
                        municipality=input.municipality,
                        inn=input.inn,
                    ),
                )
        except DomainError as error:
            return ValidationError.of(error)
        return Organization.of(row)


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, types=[Organization])
