"""Mutations: one per command; a refused command returns a ValidationError, never a stack trace."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, transaction
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import agreements, educators, networks, resources, statuses
from .. import organizations as orgs
from .types import (
    Agreement,
    Educator,
    Employment,
    InteractionGroup,
    Membership,
    Network,
    Organization,
    Regulation,
    Resource,
    RiskProfile,
    StatusPeriod,
)

R = TypeVar("R")


def _result(name: str, entity: type) -> Any:
    return Annotated[entity | ValidationError, strawberry.union(name)]


RegisterOrganizationResult = _result("RegisterOrganizationResult", Organization)
OrganizationResult = _result("OrganizationResult", Organization)
StatusPeriodResult = _result("StatusPeriodResult", StatusPeriod)
RiskProfileResult = _result("RiskProfileResult", RiskProfile)
EducatorResult = _result("EducatorResult", Educator)
EmploymentResult = _result("EmploymentResult", Employment)
NetworkResult = _result("NetworkResult", Network)
MembershipResult = _result("MembershipResult", Membership)
InteractionGroupResult = _result("InteractionGroupResult", InteractionGroup)
ResourceResult = _result("ResourceResult", Resource)
AgreementResult = _result("AgreementResult", Agreement)
RegulationResult = _result("RegulationResult", Regulation)


async def _run(
    info: Info, command: Callable[[AsyncSession], Awaitable[R]], present: Callable[[R], Any]
) -> Any:
    """Run a command in one transaction (state and outbox event together) or report why not."""
    try:
        async with transaction(info) as session:
            row = await command(session)
    except DomainError as error:
        return ValidationError.of(error)
    return present(row)


def _uuid(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("not a valid id", field=field) from None


def _uuids(values: list[strawberry.ID], field: str) -> list[uuid.UUID]:
    return [u for u in (_uuid(v, field) for v in values) if u is not None]


def _required(value: strawberry.ID, field: str) -> uuid.UUID:
    ident = _uuid(value, field)
    assert ident is not None
    return ident


@strawberry.input
class RegisterOrganizationInput:
    full_name: str
    short_name: str
    kind: str = strawberry.field(
        description="school, kindergarten, additional_education, college, "
        "methodological_service, education_authority or development_institute"
    )
    region_code: str
    municipality: str | None = strawberry.field(default=None, description="Municipality name")
    inn: str | None = None
    municipality_id: strawberry.ID | None = None
    ogrn: str | None = None
    school_code: str | None = strawberry.field(default=None, description="e.g. sch390101")
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.input(description="Only the fields given change; an empty string clears an optional one")
class UpdateOrganizationInput:
    id: strawberry.ID
    full_name: str | None = None
    short_name: str | None = None
    kind: str | None = None
    municipality_id: strawberry.ID | None = None
    inn: str | None = None
    ogrn: str | None = None
    school_code: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.input
class EnterStatusInput:
    organization_id: strawberry.ID
    status: str = strawberry.field(description="low_results, adverse_social_conditions or stable_results")
    entered_on: dt.date
    left_on: dt.date | None = None
    basis: str | None = strawberry.field(default=None, description="The order it rests on")


@strawberry.input
class LeaveStatusInput:
    organization_id: strawberry.ID
    status: str
    left_on: dt.date = strawberry.field(description="The first day the school no longer holds it")
    basis: str | None = None


@strawberry.input
class RiskFactorLevelInput:
    factor: str
    level: str = strawberry.field(description="low, medium or high")


@strawberry.input
class AssessRiskProfileInput:
    organization_id: strawberry.ID
    assessed_on: dt.date
    factors: list[RiskFactorLevelInput]


@strawberry.input
class PostInput:
    organization_id: strawberry.ID
    position: str
    started_on: dt.date | None = None


@strawberry.input
class RegisterEducatorInput:
    last_name: str
    first_name: str
    middle_name: str | None = None
    qualification_category: str = strawberry.field(
        default="none", description="none, first, highest, methodologist or mentor"
    )
    subjects: list[str] = strawberry.field(default_factory=list)
    posts: list[PostInput] = strawberry.field(default_factory=list)
    external_id: str | None = None


@strawberry.input
class UpdateEducatorInput:
    id: strawberry.ID
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    qualification_category: str | None = None
    subjects: list[str] | None = None


@strawberry.input
class CreateNetworkInput:
    name: str
    level: str = strawberry.field(description="municipal, inter_municipal or regional")
    region_code: str
    governing_body_id: strawberry.ID
    started_on: dt.date
    municipality_id: strawberry.ID | None = None
    coordinator_id: strawberry.ID | None = None
    ended_on: dt.date | None = None


@strawberry.input
class JoinNetworkInput:
    network_id: strawberry.ID
    organization_id: strawberry.ID
    role: str = strawberry.field(
        description="centre, partner, supported, methodological_support or coordinator"
    )
    joined_on: dt.date
    left_on: dt.date | None = None


@strawberry.input
class FormInteractionGroupInput:
    network_id: strawberry.ID
    name: str
    purpose: str
    educator_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    organization_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class ChangeInteractionGroupInput:
    group_id: strawberry.ID
    add_educator_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    add_organization_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    remove_educator_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    remove_organization_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class OfferResourceInput:
    owner_id: strawberry.ID
    kind: str = strawberry.field(description="staff, methodological or material")
    title: str
    description: str | None = None
    subjects: list[str] = strawberry.field(default_factory=list)
    capacity: int | None = None
    available_from: dt.date | None = None
    available_to: dt.date | None = None


@strawberry.input
class SignAgreementInput:
    number: str
    signed_on: dt.date
    subject: str
    party_ids: list[strawberry.ID]
    valid_from: dt.date
    valid_to: dt.date | None = None
    network_id: strawberry.ID | None = None


@strawberry.input
class IssueRegulationInput:
    kind: str = strawberry.field(description="provision, order, instruction, plan or model_agreement")
    number: str
    issued_on: dt.date
    issuer_id: strawberry.ID
    title: str
    link: str | None = None
    network_id: strawberry.ID | None = None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register an organization; emits organization.registered")
    async def register_organization(
        self, info: Info, input: RegisterOrganizationInput
    ) -> RegisterOrganizationResult:
        async def command(session: AsyncSession) -> Any:
            return await orgs.register_organization(
                session,
                orgs.RegisterOrganization(
                    full_name=input.full_name,
                    short_name=input.short_name,
                    kind=input.kind,
                    region_code=input.region_code,
                    municipality=input.municipality,
                    inn=input.inn,
                    municipality_id=_uuid(input.municipality_id, "municipalityId"),
                    ogrn=input.ogrn,
                    school_code=input.school_code,
                    address=input.address,
                    website=input.website,
                    email=input.email,
                    phone=input.phone,
                ),
            )

        return await _run(info, command, Organization.of)

    @strawberry.mutation(description="Change an organization's details; emits organization.updated")
    async def update_organization(self, info: Info, input: UpdateOrganizationInput) -> OrganizationResult:
        async def command(session: AsyncSession) -> Any:
            return await orgs.update_organization(
                session,
                orgs.UpdateOrganization(
                    organization_id=_required(input.id, "id"),
                    full_name=input.full_name,
                    short_name=input.short_name,
                    kind=input.kind,
                    municipality_id=_uuid(input.municipality_id, "municipalityId"),
                    inn=input.inn,
                    ogrn=input.ogrn,
                    school_code=input.school_code,
                    address=input.address,
                    website=input.website,
                    email=input.email,
                    phone=input.phone,
                ),
            )

        return await _run(info, command, Organization.of)

    @strawberry.mutation(
        description="Archive an organization (never deleted): it leaves its networks and withdraws "
        "its resources; emits organization.archived"
    )
    async def archive_organization(
        self, info: Info, id: strawberry.ID, reason: str | None = None, on: dt.date | None = None
    ) -> OrganizationResult:
        async def command(session: AsyncSession) -> Any:
            return await orgs.archive_organization(session, _required(id, "id"), reason=reason, on=on)

        return await _run(info, command, Organization.of)

    @strawberry.mutation(description="A school enters a status list; emits organization.status_changed")
    async def enter_status(self, info: Info, input: EnterStatusInput) -> StatusPeriodResult:
        async def command(session: AsyncSession) -> Any:
            return await statuses.enter_status(
                session,
                statuses.EnterStatus(
                    organization_id=_required(input.organization_id, "organizationId"),
                    status=input.status,
                    entered_on=input.entered_on,
                    left_on=input.left_on,
                    basis=input.basis,
                ),
            )

        return await _run(info, command, StatusPeriod.of)

    @strawberry.mutation(description="A school leaves a status list; emits organization.status_changed")
    async def leave_status(self, info: Info, input: LeaveStatusInput) -> StatusPeriodResult:
        async def command(session: AsyncSession) -> Any:
            return await statuses.leave_status(
                session,
                statuses.LeaveStatus(
                    organization_id=_required(input.organization_id, "organizationId"),
                    status=input.status,
                    left_on=input.left_on,
                    basis=input.basis,
                ),
            )

        return await _run(info, command, StatusPeriod.of)

    @strawberry.mutation(description="Record a school's risk profile; emits risk_profile.assessed")
    async def assess_risk_profile(self, info: Info, input: AssessRiskProfileInput) -> RiskProfileResult:
        async def command(session: AsyncSession) -> Any:
            factors: dict[str, str] = {}
            for item in input.factors:
                if item.factor in factors:
                    raise DomainError(f"the factor {item.factor} is given twice", field="factors")
                factors[item.factor] = item.level
            return await statuses.assess_risk_profile(
                session,
                statuses.AssessRiskProfile(
                    organization_id=_required(input.organization_id, "organizationId"),
                    assessed_on=input.assessed_on,
                    factors=factors,
                ),
            )

        return await _run(info, command, RiskProfile.of)

    @strawberry.mutation(description="Register an educator with their posts; emits educator.registered")
    async def register_educator(self, info: Info, input: RegisterEducatorInput) -> EducatorResult:
        async def command(session: AsyncSession) -> Any:
            return await educators.register_educator(
                session,
                educators.RegisterEducator(
                    last_name=input.last_name,
                    first_name=input.first_name,
                    middle_name=input.middle_name,
                    qualification_category=input.qualification_category,
                    subjects=input.subjects,
                    posts=[
                        educators.Post(
                            organization_id=_required(p.organization_id, "organizationId"),
                            position=p.position,
                            started_on=p.started_on,
                        )
                        for p in input.posts
                    ],
                    external_id=input.external_id,
                ),
            )

        return await _run(info, command, Educator.of)

    @strawberry.mutation(description="Change an educator's details; emits educator.updated")
    async def update_educator(self, info: Info, input: UpdateEducatorInput) -> EducatorResult:
        async def command(session: AsyncSession) -> Any:
            return await educators.update_educator(
                session,
                educators.UpdateEducator(
                    educator_id=_required(input.id, "id"),
                    last_name=input.last_name,
                    first_name=input.first_name,
                    middle_name=input.middle_name,
                    qualification_category=input.qualification_category,
                    subjects=input.subjects,
                ),
            )

        return await _run(info, command, Educator.of)

    @strawberry.mutation(description="The educator takes a post (also a second one); emits educator.updated")
    async def employ_educator(
        self, info: Info, educator_id: strawberry.ID, post: PostInput
    ) -> EmploymentResult:
        async def command(session: AsyncSession) -> Any:
            return await educators.employ(
                session,
                _required(educator_id, "educatorId"),
                educators.Post(
                    organization_id=_required(post.organization_id, "organizationId"),
                    position=post.position,
                    started_on=post.started_on,
                ),
            )

        return await _run(info, command, Employment.of)

    @strawberry.mutation(description="End a post (endedOn: the first day out); emits educator.updated")
    async def end_employment(
        self, info: Info, employment_id: strawberry.ID, ended_on: dt.date
    ) -> EmploymentResult:
        async def command(session: AsyncSession) -> Any:
            return await educators.end_employment(session, _required(employment_id, "employmentId"), ended_on)

        return await _run(info, command, Employment.of)

    @strawberry.mutation(description="Set up a network under an education authority; emits network.created")
    async def create_network(self, info: Info, input: CreateNetworkInput) -> NetworkResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.create_network(
                session,
                networks.CreateNetwork(
                    name=input.name,
                    level=input.level,
                    region_code=input.region_code,
                    governing_body_id=_required(input.governing_body_id, "governingBodyId"),
                    started_on=input.started_on,
                    municipality_id=_uuid(input.municipality_id, "municipalityId"),
                    coordinator_id=_uuid(input.coordinator_id, "coordinatorId"),
                    ended_on=input.ended_on,
                ),
            )

        return await _run(info, command, Network.of)

    @strawberry.mutation(description="Close a network; its open memberships end; emits network.closed")
    async def close_network(self, info: Info, network_id: strawberry.ID, ended_on: dt.date) -> NetworkResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.close_network(session, _required(network_id, "networkId"), ended_on)

        return await _run(info, command, Network.of)

    @strawberry.mutation(
        description="An organization joins a network; emits membership.joined (and centre_designated)"
    )
    async def join_network(self, info: Info, input: JoinNetworkInput) -> MembershipResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.join_network(
                session,
                networks.JoinNetwork(
                    network_id=_required(input.network_id, "networkId"),
                    organization_id=_required(input.organization_id, "organizationId"),
                    role=input.role,
                    joined_on=input.joined_on,
                    left_on=input.left_on,
                ),
            )

        return await _run(info, command, Membership.of)

    @strawberry.mutation(description="End a membership (leftOn: the first day out); emits membership.left")
    async def leave_network(
        self, info: Info, membership_id: strawberry.ID, left_on: dt.date
    ) -> MembershipResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.leave_network(session, _required(membership_id, "membershipId"), left_on)

        return await _run(info, command, Membership.of)

    @strawberry.mutation(
        description="Make a stable-results school the network's centre from a date; emits centre_designated"
    )
    async def designate_centre(
        self, info: Info, network_id: strawberry.ID, organization_id: strawberry.ID, on: dt.date
    ) -> MembershipResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.designate_centre(
                session, _required(network_id, "networkId"), _required(organization_id, "organizationId"), on
            )

        return await _run(info, command, Membership.of)

    @strawberry.mutation(description="Form an interaction group; emits interaction_group.formed")
    async def form_interaction_group(
        self, info: Info, input: FormInteractionGroupInput
    ) -> InteractionGroupResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.form_interaction_group(
                session,
                networks.FormInteractionGroup(
                    network_id=_required(input.network_id, "networkId"),
                    name=input.name,
                    purpose=input.purpose,
                    educator_ids=_uuids(input.educator_ids, "educatorIds"),
                    organization_ids=_uuids(input.organization_ids, "organizationIds"),
                ),
            )

        return await _run(info, command, InteractionGroup.of)

    @strawberry.mutation(description="Add or remove group members; emits interaction_group.changed")
    async def change_interaction_group(
        self, info: Info, input: ChangeInteractionGroupInput
    ) -> InteractionGroupResult:
        async def command(session: AsyncSession) -> Any:
            return await networks.change_group_members(
                session,
                networks.ChangeGroupMembers(
                    group_id=_required(input.group_id, "groupId"),
                    add_educator_ids=_uuids(input.add_educator_ids, "addEducatorIds"),
                    add_organization_ids=_uuids(input.add_organization_ids, "addOrganizationIds"),
                    remove_educator_ids=_uuids(input.remove_educator_ids, "removeEducatorIds"),
                    remove_organization_ids=_uuids(input.remove_organization_ids, "removeOrganizationIds"),
                ),
            )

        return await _run(info, command, InteractionGroup.of)

    @strawberry.mutation(description="Offer a resource to the network; emits resource.offered")
    async def offer_resource(self, info: Info, input: OfferResourceInput) -> ResourceResult:
        async def command(session: AsyncSession) -> Any:
            return await resources.offer_resource(
                session,
                resources.OfferResource(
                    owner_id=_required(input.owner_id, "ownerId"),
                    kind=input.kind,
                    title=input.title,
                    description=input.description,
                    subjects=input.subjects,
                    capacity=input.capacity,
                    available_from=input.available_from,
                    available_to=input.available_to,
                ),
            )

        return await _run(info, command, Resource.of)

    @strawberry.mutation(description="Withdraw a resource; emits resource.withdrawn")
    async def withdraw_resource(self, info: Info, resource_id: strawberry.ID) -> ResourceResult:
        async def command(session: AsyncSession) -> Any:
            return await resources.withdraw_resource(session, _required(resource_id, "resourceId"))

        return await _run(info, command, Resource.of)

    @strawberry.mutation(
        description="Record a signed agreement (two or more parties); emits agreement.signed"
    )
    async def sign_agreement(self, info: Info, input: SignAgreementInput) -> AgreementResult:
        async def command(session: AsyncSession) -> Any:
            return await agreements.sign_agreement(
                session,
                agreements.SignAgreement(
                    number=input.number,
                    signed_on=input.signed_on,
                    subject=input.subject,
                    party_ids=_uuids(input.party_ids, "partyIds"),
                    valid_from=input.valid_from,
                    valid_to=input.valid_to,
                    network_id=_uuid(input.network_id, "networkId"),
                ),
            )

        return await _run(info, command, Agreement.of)

    @strawberry.mutation(
        description="End an agreement early (on: the first day out); emits agreement.terminated"
    )
    async def terminate_agreement(
        self, info: Info, agreement_id: strawberry.ID, on: dt.date
    ) -> AgreementResult:
        async def command(session: AsyncSession) -> Any:
            return await agreements.terminate_agreement(session, _required(agreement_id, "agreementId"), on)

        return await _run(info, command, Agreement.of)

    @strawberry.mutation(description="Record a regulating document; emits regulation.issued")
    async def issue_regulation(self, info: Info, input: IssueRegulationInput) -> RegulationResult:
        async def command(session: AsyncSession) -> Any:
            return await agreements.issue_regulation(
                session,
                agreements.IssueRegulation(
                    kind=input.kind,
                    number=input.number,
                    issued_on=input.issued_on,
                    issuer_id=_required(input.issuer_id, "issuerId"),
                    title=input.title,
                    link=input.link,
                    network_id=_uuid(input.network_id, "networkId"),
                ),
            )

        return await _run(info, command, Regulation.of)
