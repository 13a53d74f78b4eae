"""The subgraph's types; entities carry ``@key(fields: "id")`` and resolve in batches."""

from __future__ import annotations

import datetime as dt
import uuid
from asyncio import gather
from typing import Any, Generic, TypeVar

import strawberry
from setka_runtime.graphql import PageInfo
from strawberry.types import Info

from .. import agreements, educators, networks, resources, rules, statuses
from .. import models as m
from ..paging import Page
from .loaders import by_id, grouped

T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list; ask for the next with `after: pageInfo.endCursor`")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection(page: Page[Any], present: Any) -> Any:
    edges = [Edge(cursor=c, node=present(row)) for row, c in zip(page.rows, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.cursors[-1] if edges else None),
    )


def _today(on: dt.date | None) -> dt.date:
    return on or dt.date.today()


@strawberry.type(description="A subject of the Russian Federation")
class Region:
    code: str
    name: str

    @classmethod
    def of(cls, row: m.Region) -> Region:
        return cls(code=row.code, name=row.name)


@strawberry.federation.type(keys=["id"], description="A municipality (муниципальное образование)")
class Municipality:
    id: strawberry.ID
    region_code: str
    name: str
    oktmo: str | None

    @classmethod
    def of(cls, row: m.Municipality) -> Municipality:
        return cls(id=strawberry.ID(str(row.id)), region_code=row.region_code, name=row.name, oktmo=row.oktmo)

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Municipality | None:
        row = await by_id(info, m.Municipality, key["id"])
        return cls.of(row) if row else None


@strawberry.type(description="A period during which a school held a status; leftOn is the first day out")
class StatusPeriod:
    id: strawberry.ID
    organization_id: strawberry.ID
    status: str = strawberry.field(description="low_results, adverse_social_conditions or stable_results")
    entered_on: dt.date
    left_on: dt.date | None
    basis: str | None

    @classmethod
    def of(cls, row: m.OrganizationStatus) -> StatusPeriod:
        return cls(
            id=strawberry.ID(str(row.id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            status=row.status,
            entered_on=row.entered_on,
            left_on=row.left_on,
            basis=row.basis,
        )


@strawberry.type
class RiskFactorLevel:
    factor: str
    level: str = strawberry.field(description="low, medium or high")


@strawberry.type(description="A school's risk profile (рисковый профиль) on an assessment date")
class RiskProfile:
    id: strawberry.ID
    organization_id: strawberry.ID
    assessed_on: dt.date

    @classmethod
    def of(cls, row: m.RiskProfile) -> RiskProfile:
        return cls(
            id=strawberry.ID(str(row.id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            assessed_on=row.assessed_on,
        )

    @strawberry.field
    async def factors(self, info: Info) -> list[RiskFactorLevel]:
        rows = await grouped(info, "risk_factor_levels", statuses.factor_levels, _uuid(self.id))
        return [RiskFactorLevel(factor=r.factor, level=r.level) for r in rows]


def _uuid(ident: str) -> uuid.UUID:
    return uuid.UUID(str(ident))


@strawberry.federation.type(keys=["id"], description="An educational organization")
class Organization:
    id: strawberry.ID
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None
    inn: str | None
    created_at: dt.datetime
    municipality_id: strawberry.ID | None
    ogrn: str | None
    school_code: str | None = strawberry.field(description="The federal assessment system's code")
    address: str | None
    website: str | None
    email: str | None
    phone: str | None
    archived_at: dt.datetime | None

    @classmethod
    def of(cls, row: m.Organization) -> Organization:
        return cls(
            id=strawberry.ID(str(row.id)),
            full_name=row.full_name,
            short_name=row.short_name,
            kind=row.kind,
            region_code=row.region_code,
            municipality=row.municipality,
            inn=row.inn,
            created_at=row.created_at,
            municipality_id=strawberry.ID(str(row.municipality_id)) if row.municipality_id else None,
            ogrn=row.ogrn,
            school_code=row.school_code,
            address=row.address,
            website=row.website,
            email=row.email,
            phone=row.phone,
            archived_at=row.archived_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Organization | None:
        row = await by_id(info, m.Organization, key["id"])
        return cls.of(row) if row else None

    @strawberry.field(description="The municipality as reference data, when it is known")
    async def municipality_ref(self, info: Info) -> Municipality | None:
        if self.municipality_id is None:
            return None
        row = await by_id(info, m.Municipality, self.municipality_id)
        return Municipality.of(row) if row else None

    @strawberry.field(description="Every status period, oldest first")
    async def status_history(self, info: Info) -> list[StatusPeriod]:
        rows = await grouped(info, "status_histories", statuses.histories, _uuid(self.id))
        return [StatusPeriod.of(r) for r in rows]

    @strawberry.field(description="Statuses held on a date (today if not given), derived from the history")
    async def statuses(self, info: Info, on: dt.date | None = None) -> list[str]:
        rows = await grouped(info, "status_histories", statuses.histories, _uuid(self.id))
        return [s.value for s in rules.statuses_on(statuses.periods(rows), _today(on))]

    @strawberry.field(description="Risk profiles, newest first")
    async def risk_profiles(self, info: Info) -> list[RiskProfile]:
        rows = await grouped(info, "risk_profiles", statuses.profiles_of, _uuid(self.id))
        return [RiskProfile.of(r) for r in rows]

    @strawberry.field(description="Memberships in networks; only those in force on `on` if given")
    async def memberships(self, info: Info, on: dt.date | None = None) -> list[Membership]:
        rows = await grouped(info, "memberships_by_org", networks.memberships_by_organization, _uuid(self.id))
        return [Membership.of(r) for r in rows if on is None or rules.holds_on(r.joined_on, r.left_on, on)]

    @strawberry.field(description="Resources the organization offers or has offered")
    async def resources(self, info: Info, include_withdrawn: bool = False) -> list[Resource]:
        rows = await grouped(info, "resources_by_owner", resources.resources_by_owner, _uuid(self.id))
        return [Resource.of(r) for r in rows if include_withdrawn or r.status == "offered"]


@strawberry.type(description="An educator's post at an organization; endedOn is the first day out")
class Employment:
    id: strawberry.ID
    educator_id: strawberry.ID
    organization_id: strawberry.ID
    position: str
    started_on: dt.date | None
    ended_on: dt.date | None

    @classmethod
    def of(cls, row: m.Employment) -> Employment:
        return cls(
            id=strawberry.ID(str(row.id)),
            educator_id=strawberry.ID(str(row.educator_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            position=row.position,
            started_on=row.started_on,
            ended_on=row.ended_on,
        )

    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        row = await by_id(info, m.Organization, self.organization_id)
        return Organization.of(row) if row else None


@strawberry.federation.type(keys=["id"], description="An educator (педагогический работник); personal data")
class Educator:
    id: strawberry.ID
    external_id: str | None
    last_name: str
    first_name: str
    middle_name: str | None
    qualification_category: str
    subjects: list[str]

    @classmethod
    def of(cls, row: m.Educator) -> Educator:
        return cls(
            id=strawberry.ID(str(row.id)),
            external_id=row.external_id,
            last_name=row.last_name,
            first_name=row.first_name,
            middle_name=row.middle_name,
            qualification_category=row.qualification_category,
            subjects=list(row.subjects),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Educator | None:
        row = await by_id(info, m.Educator, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def employments(self, info: Info) -> list[Employment]:
        rows = await grouped(info, "employments", educators.employments_of, _uuid(self.id))
        return [Employment.of(r) for r in rows]


@strawberry.federation.type(keys=["id"], description="An organization's participation in a network")
class Membership:
    id: strawberry.ID
    network_id: strawberry.ID
    organization_id: strawberry.ID
    role: str = strawberry.field(
        description="centre, partner, supported, methodological_support or coordinator"
    )
    joined_on: dt.date
    left_on: dt.date | None = strawberry.field(description="The first day no longer a member")

    @classmethod
    def of(cls, row: m.Membership) -> Membership:
        return cls(
            id=strawberry.ID(str(row.id)),
            network_id=strawberry.ID(str(row.network_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            role=row.role,
            joined_on=row.joined_on,
            left_on=row.left_on,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Membership | None:
        row = await by_id(info, m.Membership, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        row = await by_id(info, m.Organization, self.organization_id)
        return Organization.of(row) if row else None

    @strawberry.field
    async def network(self, info: Info) -> Network | None:
        row = await by_id(info, m.Network, self.network_id)
        return Network.of(row) if row else None


@strawberry.federation.type(keys=["id"], description="A group of interaction (группа взаимодействия, РМО)")
class InteractionGroup:
    id: strawberry.ID
    network_id: strawberry.ID
    name: str
    purpose: str

    @classmethod
    def of(cls, row: m.InteractionGroup) -> InteractionGroup:
        return cls(
            id=strawberry.ID(str(row.id)),
            network_id=strawberry.ID(str(row.network_id)),
            name=row.name,
            purpose=row.purpose,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> InteractionGroup | None:
        row = await by_id(info, m.InteractionGroup, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def educators(self, info: Info) -> list[Educator]:
        members = await grouped(info, "group_members", networks.group_members, _uuid(self.id))
        rows = await gather(*(by_id(info, m.Educator, x.educator_id) for x in members if x.educator_id))
        return [Educator.of(r) for r in rows if r]

    @strawberry.field
    async def organizations(self, info: Info) -> list[Organization]:
        members = await grouped(info, "group_members", networks.group_members, _uuid(self.id))
        rows = await gather(
            *(by_id(info, m.Organization, x.organization_id) for x in members if x.organization_id)
        )
        return [Organization.of(r) for r in rows if r]


@strawberry.federation.type(keys=["id"], description="A network of interaction (сеть)")
class Network:
    id: strawberry.ID
    name: str
    level: str = strawberry.field(description="municipal, inter_municipal or regional")
    region_code: str
    municipality_id: strawberry.ID | None
    governing_body_id: strawberry.ID
    coordinator_id: strawberry.ID | None
    started_on: dt.date
    ended_on: dt.date | None
    status: str = strawberry.field(description="active or closed")

    @classmethod
    def of(cls, row: m.Network) -> Network:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            level=row.level,
            region_code=row.region_code,
            municipality_id=strawberry.ID(str(row.municipality_id)) if row.municipality_id else None,
            governing_body_id=strawberry.ID(str(row.governing_body_id)),
            coordinator_id=strawberry.ID(str(row.coordinator_id)) if row.coordinator_id else None,
            started_on=row.started_on,
            ended_on=row.ended_on,
            status=row.status,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Network | None:
        row = await by_id(info, m.Network, key["id"])
        return cls.of(row) if row else None

    @strawberry.field(description="The education authority that governs the network")
    async def governing_body(self, info: Info) -> Organization | None:
        row = await by_id(info, m.Organization, self.governing_body_id)
        return Organization.of(row) if row else None

    @strawberry.field
    async def coordinator(self, info: Info) -> Organization | None:
        if self.coordinator_id is None:
            return None
        row = await by_id(info, m.Organization, self.coordinator_id)
        return Organization.of(row) if row else None

    async def _memberships(self, info: Info) -> list[m.Membership]:
        return await grouped(info, "memberships_by_network", networks.memberships_by_network, _uuid(self.id))

    @strawberry.field(
        description="Members in joining order; those in force on `on` if given; of `role` if given"
    )
    async def members(
        self, info: Info, on: dt.date | None = None, role: str | None = None
    ) -> list[Membership]:
        rows = await self._memberships(info)
        return [
            Membership.of(r)
            for r in rows
            if (on is None or rules.holds_on(r.joined_on, r.left_on, on)) and (role is None or r.role == role)
        ]

    @strawberry.field(description="The network's centres in force on a date (today if not given)")
    async def centres(self, info: Info, on: dt.date | None = None) -> list[Membership]:
        day = _today(on)
        rows = await self._memberships(info)
        return [
            Membership.of(r)
            for r in rows
            if r.role == "centre" and rules.holds_on(r.joined_on, r.left_on, day)
        ]

    @strawberry.field
    async def interaction_groups(self, info: Info) -> list[InteractionGroup]:
        rows = await grouped(info, "groups_by_network", networks.groups_by_network, _uuid(self.id))
        return [InteractionGroup.of(r) for r in rows]


@strawberry.federation.type(keys=["id"], description="A resource shared with a network")
class Resource:
    id: strawberry.ID
    kind: str = strawberry.field(description="staff, methodological or material")
    owner_id: strawberry.ID
    title: str
    description: str | None
    capacity: int | None
    available_from: dt.date | None
    available_to: dt.date | None = strawberry.field(description="The first day it is no longer available")
    status: str = strawberry.field(description="offered or withdrawn")

    @classmethod
    def of(cls, row: m.Resource) -> Resource:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            owner_id=strawberry.ID(str(row.owner_id)),
            title=row.title,
            description=row.description,
            capacity=row.capacity,
            available_from=row.available_from,
            available_to=row.available_to,
            status=row.status,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Resource | None:
        row = await by_id(info, m.Resource, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def subjects(self, info: Info) -> list[str]:
        return await grouped(info, "resource_subjects", resources.subjects_of, _uuid(self.id))

    @strawberry.field
    async def owner(self, info: Info) -> Organization | None:
        row = await by_id(info, m.Organization, self.owner_id)
        return Organization.of(row) if row else None


@strawberry.federation.type(keys=["id"], description="An agreement on network interaction (договор)")
class Agreement:
    id: strawberry.ID
    number: str
    signed_on: dt.date
    subject: str
    valid_from: dt.date
    valid_to: dt.date | None
    status: str = strawberry.field(description="signed or terminated")
    terminated_on: dt.date | None
    network_id: strawberry.ID | None

    @classmethod
    def of(cls, row: m.Agreement) -> Agreement:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=row.number,
            signed_on=row.signed_on,
            subject=row.subject,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            status=row.status,
            terminated_on=row.terminated_on,
            network_id=strawberry.ID(str(row.network_id)) if row.network_id else None,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Agreement | None:
        row = await by_id(info, m.Agreement, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def parties(self, info: Info) -> list[Organization]:
        ids = await grouped(info, "agreement_parties", agreements.parties_of, _uuid(self.id))
        rows = await gather(*(by_id(info, m.Organization, i) for i in ids))
        return [Organization.of(r) for r in rows if r]


@strawberry.federation.type(keys=["id"], description="A regulating document (положение, приказ)")
class Regulation:
    id: strawberry.ID
    kind: str = strawberry.field(description="provision, order, instruction, plan or model_agreement")
    number: str
    issued_on: dt.date
    issuer_id: strawberry.ID
    title: str
    link: str | None
    network_id: strawberry.ID | None

    @classmethod
    def of(cls, row: m.Regulation) -> Regulation:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            number=row.number,
            issued_on=row.issued_on,
            issuer_id=strawberry.ID(str(row.issuer_id)),
            title=row.title,
            link=row.link,
            network_id=strawberry.ID(str(row.network_id)) if row.network_id else None,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Regulation | None:
        row = await by_id(info, m.Regulation, key["id"])
        return cls.of(row) if row else None

    @strawberry.field
    async def issuer(self, info: Info) -> Organization | None:
        row = await by_id(info, m.Organization, self.issuer_id)
        return Organization.of(row) if row else None


ENTITIES: list[type] = [
    Organization,
    Municipality,
    Educator,
    Network,
    Membership,
    InteractionGroup,
    Resource,
    Agreement,
    Regulation,
]
