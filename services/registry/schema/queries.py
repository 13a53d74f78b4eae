"""Queries: one entity by id, and filtered, cursor-paginated lists (at most 100 a page)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from setka_runtime.access import PARTICIPANTS, PERSONAL_DATA
from setka_runtime.graphql import identity, paged, reading
from setka_runtime.graphql_derive import domain_values
from sqlalchemy import select
from strawberry.types import Info

from .. import models as m
from .. import scopes
from ..agreements import list_agreements, list_regulations
from ..educators import EducatorFilter, list_educators
from ..networks import MembershipFilter, NetworkFilter, list_memberships, list_networks
from ..organizations import OrganizationFilter, list_organizations
from ..paging import Page
from ..resource_requests import RequestFilter, list_requests
from ..resources import ResourceFilter, list_resources
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
    ResourceRequest,
    connection,
)


def _listing(
    search: Callable[..., Awaitable[Page[Any]]],
    present: Callable[[Any], Any],
    criteria: type | None = None,
    *,
    within: Callable[[Info], Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]:
    """A page of a list: the arguments, besides ``first`` and ``after``, are read by name as the
    fields of ``criteria`` or, without one, as the keywords of ``search``; ``within``, if given,
    is the condition of the rows the caller may see, passed to ``search`` as ``within``.

    The decorated function declares the arguments as GraphQL shows them; its body never runs.
    """

    def wrap(arguments: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(arguments)
        async def resolve(root: Any, info: Info, first: int, after: str | None, **given: Any) -> Any:
            if criteria is None:
                filters, keywords = (), domain_values(search, given)
            else:
                filters, keywords = (criteria(**domain_values(criteria, given)),), {}
            if within is not None:
                keywords["within"] = within(info)
            async with reading(info) as session:
                page = await search(session, *filters, first=first, after=after, **keywords)
            return connection(page, present)

        return resolve

    return wrap


def _visible_educators(info: Info) -> Any:
    return scopes.educators_visible_to(identity(info))


def _visible_requests(info: Info) -> Any:
    return scopes.resource_requests_visible_to(identity(info))


_REQUEST_READERS = [[str(role)] for role in PARTICIPANTS]


@strawberry.type
class Query:
    @strawberry.field(
        description="Organizations ordered by full name, a page at a time (at most 100)", directives=paged()
    )
    @_listing(list_organizations, Organization.of, OrganizationFilter)
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
    ) -> Connection[Organization]: ...

    @strawberry.field
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return await Organization.load(info, id)

    @strawberry.field(description="Networks ordered by name", directives=paged())
    @_listing(list_networks, Network.of, NetworkFilter)
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
    ) -> Connection[Network]: ...

    @strawberry.field
    async def network(self, info: Info, id: strawberry.ID) -> Network | None:
        return await Network.load(info, id)

    @strawberry.field(
        description="Memberships in joining order; in force on `on` if given", directives=paged()
    )
    @_listing(list_memberships, Membership.of, MembershipFilter)
    async def memberships(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        organization_id: strawberry.ID | None = None,
        role: str | None = None,
        on: dt.date | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Membership]: ...

    @strawberry.field(
        description="Resources ordered by title; offered ones unless `status` says otherwise",
        directives=paged(),
    )
    @_listing(list_resources, Resource.of, ResourceFilter)
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
    ) -> Connection[Resource]: ...

    @strawberry.field
    async def resource(self, info: Info, id: strawberry.ID) -> Resource | None:
        return await Resource.load(info, id)

    @strawberry.federation.field(
        description="Requests for resources by first day, those whose owner or requester is in the caller's"
        " scope",
        requires_scopes=_REQUEST_READERS,
        directives=paged(),
    )
    @_listing(list_requests, ResourceRequest.of, RequestFilter, within=_visible_requests)
    async def resource_requests(
        self,
        info: Info,
        resource_id: strawberry.ID | None = None,
        organization_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Requests of this organization, as the owner or the requester"),
        ] = None,
        network_id: strawberry.ID | None = None,
        status: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[ResourceRequest]: ...

    @strawberry.federation.field(
        description="A request for a resource in the caller's scope; null outside it",
        requires_scopes=_REQUEST_READERS,
    )
    async def resource_request(self, info: Info, id: strawberry.ID) -> ResourceRequest | None:
        return await ResourceRequest.load(info, id)

    @strawberry.federation.field(
        description="Educators ordered by name, those in the caller's scope (personal data)",
        policy=[[PERSONAL_DATA]],
        directives=paged(),
    )
    @_listing(list_educators, Educator.of, EducatorFilter, within=_visible_educators)
    async def educators(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        qualification_category: str | None = None,
        search: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Educator]: ...

    @strawberry.federation.field(
        description="An educator in the caller's scope; null outside it (personal data)",
        policy=[[PERSONAL_DATA]],
    )
    async def educator(self, info: Info, id: strawberry.ID) -> Educator | None:
        return await Educator.load(info, id)

    @strawberry.field(description="Agreements by signing date", directives=paged())
    @_listing(list_agreements, Agreement.of)
    async def agreements(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        network_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Agreement]: ...

    @strawberry.field(
        description="Regulating documents by date of issue, every edition; only those of `status`"
        " (in_force, superseded or withdrawn) if given",
        directives=paged(),
    )
    @_listing(list_regulations, Regulation.of)
    async def regulations(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        issuer_id: strawberry.ID | None = None,
        status: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Regulation]: ...

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
