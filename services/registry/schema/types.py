"""The subgraph's types; entities carry ``@key(fields: "id")`` and resolve in batches."""

from __future__ import annotations

import datetime as dt
import uuid
from asyncio import gather
from typing import Annotated, Any, Generic, Self, TypeVar

import strawberry
from setka_contracts.registry import (
    AgreementStatus,
    MemberRole,
    NetworkLevel,
    NetworkStatus,
    RegulationKind,
    RegulationStatus,
    ResourceKind,
    ResourceRequestStatus,
    ResourceStatus,
    RiskLevel,
    SchoolStatus,
)
from setka_runtime.access import PARTICIPANTS, PERSONAL_DATA
from setka_runtime.documents import Document, documents_field
from setka_runtime.errors import DomainError
from setka_runtime.graphql import PageInfo, identity
from setka_runtime.graphql_derive import ModelType, choices
from strawberry.types import Info

from .. import agreements, educators, networks, resource_requests, resources, rules, scopes, statuses
from .. import models as m
from ..paging import Page
from .loaders import Fetch, by_id, grouped

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


class Entity(ModelType):
    """A type with ``@key(fields: "id")``: found by id in batches, for resolvers and for the gateway."""

    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        if ident is None:
            return None
        row = await by_id(info, cls.__source__, ident)
        return cls.of(row) if row is not None else None

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Self | None:
        return await cls.load(info, key["id"])


async def _owned(info: Info, fetch: Fetch, owner_id: str) -> Any:
    """What ``fetch`` finds for one owner, fetched with every other owner of the request at once."""
    return await grouped(info, fetch, uuid.UUID(str(owner_id)))


@strawberry.type(description="A subject of the Russian Federation")
class Region(ModelType, model=m.Region):
    pass


@strawberry.federation.type(keys=["id"], description="A municipality (муниципальное образование)")
class Municipality(Entity, model=m.Municipality):
    pass


@strawberry.type(description="A period during which a school held a status; leftOn is the first day out")
class StatusPeriod(
    ModelType, model=m.OrganizationStatus, exclude=["recorded_at"], describe={"status": SchoolStatus}
):
    pass


@strawberry.type
class RiskFactorLevel(
    ModelType, model=m.RiskFactorLevel, exclude=["profile_id"], describe={"level": RiskLevel}
):
    pass


@strawberry.type(description="A school's risk profile (рисковый профиль) on an assessment date")
class RiskProfile(ModelType, model=m.RiskProfile, exclude=["recorded_at"]):
    @strawberry.field
    async def factors(self, info: Info) -> list[RiskFactorLevel]:
        return [RiskFactorLevel.of(r) for r in await _owned(info, statuses.factor_levels, self.id)]


@strawberry.federation.type(keys=["id"], description="An educational organization")
class Organization(
    Entity,
    model=m.Organization,
    exclude=["search_text", "updated_at"],
    describe={"school_code": "The federal assessment system's code"},
):
    archived_at: dt.datetime | None  # declared here to keep its place, last, in the published schema

    @strawberry.field(description="The municipality as reference data, when it is known")
    async def municipality_ref(self, info: Info) -> Municipality | None:
        return await Municipality.load(info, self.municipality_id)

    @strawberry.field(description="Every status period, oldest first")
    async def status_history(self, info: Info) -> list[StatusPeriod]:
        return [StatusPeriod.of(r) for r in await _owned(info, statuses.histories, self.id)]

    @strawberry.field(description="Statuses held on a date (today if not given), derived from the history")
    async def statuses(self, info: Info, on: dt.date | None = None) -> list[str]:
        rows = await _owned(info, statuses.histories, self.id)
        return [s.value for s in rules.statuses_on(statuses.periods(rows), _today(on))]

    @strawberry.field(description="Risk profiles, newest first")
    async def risk_profiles(self, info: Info) -> list[RiskProfile]:
        return [RiskProfile.of(r) for r in await _owned(info, statuses.profiles_of, self.id)]

    @strawberry.field(description="Memberships in networks; only those in force on `on` if given")
    async def memberships(self, info: Info, on: dt.date | None = None) -> list[Membership]:
        rows = await _owned(info, networks.memberships_by_organization, self.id)
        return [Membership.of(r) for r in rows if on is None or rules.holds_on(r.joined_on, r.left_on, on)]

    @strawberry.field(description="Resources the organization offers or has offered")
    async def resources(self, info: Info, include_withdrawn: bool = False) -> list[Resource]:
        rows = await _owned(info, resources.resources_by_owner, self.id)
        return [Resource.of(r) for r in rows if include_withdrawn or r.status == "offered"]


@strawberry.type(description="An educator's post at an organization; endedOn is the first day out")
class Employment(ModelType, model=m.Employment):
    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.organization_id)


@strawberry.federation.type(
    keys=["id"],
    policy=[[PERSONAL_DATA]],
    description="An educator (педагогический работник); personal data, seen only in the caller's scope",
)
class Educator(
    Entity, model=m.Educator, exclude=["search_text", "created_at", "updated_at", "erasure_reason"]
):
    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        """The educator, when the caller may see them (else None, as for an unknown id)."""
        if ident is None:
            return None
        visible = scopes.educators_visible_to(identity(info))
        row = await by_id(info, m.Educator, ident, where=visible, name="visible")
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def employments(self, info: Info) -> list[Employment]:
        return [Employment.of(r) for r in await _owned(info, educators.employments_of, self.id)]


@strawberry.federation.type(keys=["id"], description="An organization's participation in a network")
class Membership(
    Entity,
    model=m.Membership,
    describe={"role": MemberRole, "left_on": "The first day no longer a member"},
):
    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.organization_id)

    @strawberry.field
    async def network(self, info: Info) -> Network | None:
        return await Network.load(info, self.network_id)


@strawberry.federation.type(keys=["id"], description="A group of interaction (группа взаимодействия, РМО)")
class InteractionGroup(Entity, model=m.InteractionGroup, exclude=["created_at"]):
    async def _members(self, info: Info) -> list[m.InteractionGroupMember]:
        return await _owned(info, networks.group_members, self.id)

    @strawberry.field
    async def educators(self, info: Info) -> list[Educator]:
        members = await self._members(info)
        found = await gather(*(Educator.load(info, x.educator_id) for x in members if x.educator_id))
        return [e for e in found if e]

    @strawberry.field
    async def organizations(self, info: Info) -> list[Organization]:
        members = await self._members(info)
        found = await gather(
            *(Organization.load(info, x.organization_id) for x in members if x.organization_id)
        )
        return [o for o in found if o]


@strawberry.federation.type(keys=["id"], description="A network of interaction (сеть)")
class Network(
    Entity,
    model=m.Network,
    exclude=["search_text", "created_at"],
    describe={
        "level": NetworkLevel,
        "status": NetworkStatus,
        "version": "1 when created, one more with each correction (updateNetwork)",
        "updated_at": "When it was last corrected",
    },
):
    @strawberry.field(description="The education authority that governs the network")
    async def governing_body(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.governing_body_id)

    @strawberry.field
    async def coordinator(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.coordinator_id)

    async def _memberships(self, info: Info) -> list[m.Membership]:
        return await _owned(info, networks.memberships_by_network, self.id)

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
        return [InteractionGroup.of(r) for r in await _owned(info, networks.groups_by_network, self.id)]

    @strawberry.field(
        description="The resources the members offered in a period, by kind (every kind, even one with"
        " none), each with the requests made of it in this network for days of the period and the uses"
        " recorded on days of the period (положение, п. 5.2)"
    )
    async def resource_summary(
        self,
        info: Info,
        from_: Annotated[dt.date, strawberry.argument(name="from", description="The period's first day")],
        to: Annotated[dt.date, strawberry.argument(description="The period's last day, included")],
    ) -> list[ResourceKindSummary]:
        if to < from_:
            raise DomainError(
                "Последний день не может быть раньше первого", code="END_BEFORE_START", field="to"
            )
        key = (uuid.UUID(str(self.id)), from_, to)
        kinds = await grouped(info, resource_requests.network_resources, key)
        return [ResourceKindSummary.of(k) for k in kinds]


@strawberry.federation.type(keys=["id"], description="A resource shared with a network")
class Resource(
    Entity,
    model=m.Resource,
    exclude=["search_text", "created_at", "withdrawn_at"],
    describe={
        "kind": ResourceKind,
        "available_to": "The first day it is no longer available",
        "status": ResourceStatus,
    },
):
    @strawberry.field
    async def subjects(self, info: Info) -> list[str]:
        return await _owned(info, resources.subjects_of, self.id)

    @strawberry.field
    async def owner(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.owner_id)


@strawberry.type(description="A use of a resource under an accepted request")
class ResourceUse(ModelType, model=m.ResourceUse, exclude=["request_id", "resource_id", "recorded_at"]):
    @strawberry.field(description="The side that recorded it: the owner or the requester")
    async def recorded_by(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.recorded_by_id)


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=[[str(role)] for role in PARTICIPANTS],
    description="A request for a partner's resource for some days (обмен ресурсами); seen by the people"
    " of the owner and of the requester and by editors in scope of either",
)
class ResourceRequest(
    Entity,
    model=m.ResourceRequest,
    describe={
        "status": ResourceRequestStatus,
        "ends_on": "The last day of use, included",
        "version": "Counts the request's changes: 1 when requested",
        "decline_reason": "Why the owner declined",
        "cancelled_by_id": "The side that cancelled",
    },
):
    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        """The request, when the caller's scope covers its owner or requester (else None)."""
        if ident is None:
            return None
        visible = scopes.resource_requests_visible_to(identity(info))
        row = await by_id(info, m.ResourceRequest, ident, where=visible, name="visible")
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def resource(self, info: Info) -> Resource | None:
        return await Resource.load(info, self.resource_id)

    @strawberry.field(description="The organization that owns the resource")
    async def owner(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.owner_id)

    @strawberry.field(description="The organization that asked for it")
    async def requester(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.requester_id)

    @strawberry.field
    async def network(self, info: Info) -> Network | None:
        return await Network.load(info, self.network_id)

    @strawberry.field(description="Uses recorded under the request, by first day")
    async def uses(self, info: Info) -> list[ResourceUse]:
        return [ResourceUse.of(r) for r in await _owned(info, resource_requests.uses_of, self.id)]


@strawberry.type(description="A member's resource and what the network asked of it in the period")
class ResourceActivity:
    resource: Resource
    requests: int = strawberry.field(description="Requests made of it in the network for days of the period")
    accepted: int = strawberry.field(description="Of those, the ones accepted (and not cancelled)")
    uses: int = strawberry.field(description="Uses recorded of it in the network on days of the period")


@strawberry.type(description="The members' resources of one kind in a period")
class ResourceKindSummary:
    kind: str = strawberry.field(description=choices(ResourceKind))
    offered: int = strawberry.field(description="How many resources of the kind the members offered")
    requests: int
    accepted: int
    uses: int
    resources: list[ResourceActivity]

    @classmethod
    def of(cls, summary: resource_requests.KindSummary) -> ResourceKindSummary:
        return cls(
            kind=summary.kind,
            offered=len(summary.resources),
            requests=summary.requests,
            accepted=summary.accepted,
            uses=summary.uses,
            resources=[
                ResourceActivity(
                    resource=Resource.of(r.resource), requests=r.requests, accepted=r.accepted, uses=r.uses
                )
                for r in summary.resources
            ],
        )


@strawberry.type(description="An amendment to an agreement (дополнительное соглашение) and what it changed")
class AgreementAmendment(
    ModelType,
    model=m.AgreementAmendment,
    exclude=["agreement_id", "recorded_at"],
    describe={
        "version": "The agreement's version it made: 2 for the first amendment",
        "amended_on": "The day it was signed; it takes effect then",
        "subject_before": "The subject it replaced, if it changed the subject",
        "valid_to_before": "The end date before it (the first day out)",
        "valid_to_after": "The end date after it; none: open-ended",
        "changes_valid_to": "Whether it changed the end date",
    },
):
    added_party_ids: list[strawberry.ID] = strawberry.field(description="Parties it added")
    removed_party_ids: list[strawberry.ID] = strawberry.field(description="Parties it removed")

    @strawberry.field(description="Its files (the signed text), to the people of its parties' places")
    async def documents(self, info: Info) -> list[Document]:
        return await documents_field(info, "agreement_amendment", self.id)

    @classmethod
    def of(cls, row: m.AgreementAmendment, **given: Any) -> Self:
        return super().of(
            row,
            added_party_ids=[strawberry.ID(p) for p in row.added_party_ids],
            removed_party_ids=[strawberry.ID(p) for p in row.removed_party_ids],
            **given,
        )


@strawberry.federation.type(keys=["id"], description="An agreement on network interaction (договор)")
class Agreement(
    Entity,
    model=m.Agreement,
    exclude=["created_at"],
    describe={
        "status": AgreementStatus,
        "version": "1 when signed, one more with each amendment and with its termination",
    },
):
    @strawberry.field(description="The parties now (after its amendments)")
    async def parties(self, info: Info) -> list[Organization]:
        ids = await _owned(info, agreements.parties_of, self.id)
        found = await gather(*(Organization.load(info, i) for i in ids))
        return [o for o in found if o]

    @strawberry.field(description="Its amendments (дополнительные соглашения), oldest first")
    async def amendments(self, info: Info) -> list[AgreementAmendment]:
        return [AgreementAmendment.of(r) for r in await _owned(info, agreements.amendments_of, self.id)]

    @strawberry.field(
        description="Its files (the signed text, annexes), oldest first: to the people of the region,"
        " municipality or organization of one of its parties or of its network; none to others"
    )
    async def documents(self, info: Info) -> list[Document]:
        return await documents_field(info, "agreement", self.id)


@strawberry.federation.type(
    keys=["id"],
    description="A regulating document (положение, приказ), one edition of it; a superseded or"
    " withdrawn one stays readable",
)
class Regulation(
    Entity,
    model=m.Regulation,
    exclude=["created_at"],
    describe={
        "kind": RegulationKind,
        "first_edition_id": "The document's first edition: what all its editions share",
        "status": RegulationStatus,
        "edition": "1 for the first edition (редакция), one more with each new one",
        "supersedes_id": "The edition this one superseded",
        "superseded_by_id": "The edition that superseded this one",
        "withdrawn_on": "The first day it no longer holds, if withdrawn",
    },
):
    @strawberry.field
    async def issuer(self, info: Info) -> Organization | None:
        return await Organization.load(info, self.issuer_id)

    @strawberry.field(description="Every edition of the document, this one included, oldest first")
    async def editions(self, info: Info) -> list[Regulation]:
        rows = await _owned(info, agreements.editions_of, self.first_edition_id or self.id)
        return [Regulation.of(r) for r in rows]

    @strawberry.field(description="This edition's files (its text), oldest first: public, as the document is")
    async def documents(self, info: Info) -> list[Document]:
        return await documents_field(info, "regulation", self.id)


ENTITIES: list[type] = [
    Organization,
    Municipality,
    Educator,
    Network,
    Membership,
    InteractionGroup,
    Resource,
    ResourceRequest,
    Agreement,
    Regulation,
]
