"""Mutations: one per command; a refused command returns a ValidationError, never a stack trace."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from setka_contracts.registry import (
    MemberRole,
    NetworkLevel,
    OrganizationKind,
    QualificationCategory,
    RegulationKind,
    ResourceKind,
    RiskLevel,
    SchoolStatus,
)
from setka_runtime.access import EDITORS, PARTICIPANTS, Role, Target
from setka_runtime.documents import Document, attach_command, owner_enum
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, identity, require_id, run_command
from setka_runtime.graphql_derive import CommandInput, ModelType
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import agreements, educators, erasure, networks, resource_requests, resources, scopes, statuses
from .. import documents as registry_documents
from .. import models as m
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
    ResourceRequest,
    ResourceUse,
    RiskProfile,
    StatusPeriod,
)


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
ResourceRequestResult = _result("ResourceRequestResult", ResourceRequest)
ResourceUseResult = _result("ResourceUseResult", ResourceUse)
AgreementResult = _result("AgreementResult", Agreement)
RegulationResult = _result("RegulationResult", Regulation)
AttachRegistryDocumentResult = _result("AttachRegistryDocumentResult", Document)

RegistryDocumentOwner = owner_enum(
    "RegistryDocumentOwner",
    registry_documents.OWNERS,
    "What a registry document is attached to: an agreement, an amendment of one, an edition of a"
    " regulating document",
)


@strawberry.input(description="A file to attach; its type is read from its content")
class AttachRegistryDocumentInput:
    owner_kind: RegistryDocumentOwner  # type: ignore[valid-type]
    owner_id: strawberry.ID
    file_name: str = strawberry.field(description="The file's name; its extension must match its content")
    content_base64: str = strawberry.field(
        description="The file's bytes in base64: pdf, docx, xlsx, odt, ods, doc, xls, png, jpeg or UTF-8"
        " txt, at most DOCUMENTS_MAX_BYTES (20 MB) decoded"
    )
    title: str | None = strawberry.field(default=None, description="What it is («Текст договора»)")


@strawberry.input
class RegisterOrganizationInput(
    CommandInput,
    command=orgs.RegisterOrganization,
    describe={"kind": OrganizationKind, "municipality": "Municipality name", "school_code": "e.g. sch390101"},
):
    pass


@strawberry.input(description="Only the fields given change; an empty string clears an optional one")
class UpdateOrganizationInput(
    CommandInput, command=orgs.UpdateOrganization, rename={"organization_id": "id"}
):
    pass


@strawberry.input
class EnterStatusInput(
    CommandInput,
    command=statuses.EnterStatus,
    describe={"status": SchoolStatus, "basis": "The order it rests on"},
):
    pass


@strawberry.input
class LeaveStatusInput(
    CommandInput,
    command=statuses.LeaveStatus,
    describe={"left_on": "The first day the school no longer holds it"},
):
    pass


@strawberry.input
class RiskFactorLevelInput(
    ModelType, model=m.RiskFactorLevel, exclude=["profile_id"], describe={"level": RiskLevel}
):
    pass


@strawberry.input
class AssessRiskProfileInput(CommandInput, command=statuses.AssessRiskProfile):
    factors: list[RiskFactorLevelInput]

    def to_command(self, **given: Any) -> statuses.AssessRiskProfile:
        factors: dict[str, str] = {}
        for item in self.factors:
            if item.factor in factors:
                raise DomainError(
                    f"Фактор {item.factor} указан дважды", code="RISK_FACTOR_REPEATED", field="factors"
                )
            factors[item.factor] = item.level
        return super().to_command(factors=factors, **given)


@strawberry.input
class PostInput(CommandInput, command=educators.Post):
    pass


@strawberry.input
class RegisterEducatorInput(
    CommandInput,
    command=educators.RegisterEducator,
    describe={"qualification_category": QualificationCategory},
):
    pass


@strawberry.input
class UpdateEducatorInput(
    CommandInput,
    command=educators.UpdateEducator,
    rename={"educator_id": "id"},
    describe={
        "snils": "СНИЛС, checked by its check digits and kept only as its keyed hash (the number never); "
        "an empty one removes it"
    },
):
    pass


@strawberry.input
class CreateNetworkInput(CommandInput, command=networks.CreateNetwork, describe={"level": NetworkLevel}):
    pass


@strawberry.input(
    description="A correction of a network: only the fields given change (its region and dates stay)"
)
class UpdateNetworkInput(
    CommandInput,
    command=networks.UpdateNetwork,
    rename={"network_id": "id"},
    describe={
        "level": NetworkLevel,
        "municipality_id": "A municipal network's municipality (another level has none)",
        "remove_coordinator": "The network has no coordinator organization from now on",
    },
):
    pass


@strawberry.input
class JoinNetworkInput(CommandInput, command=networks.JoinNetwork, describe={"role": MemberRole}):
    pass


@strawberry.input
class FormInteractionGroupInput(CommandInput, command=networks.FormInteractionGroup):
    pass


@strawberry.input
class ChangeInteractionGroupInput(CommandInput, command=networks.ChangeGroupMembers):
    pass


@strawberry.input
class OfferResourceInput(CommandInput, command=resources.OfferResource, describe={"kind": ResourceKind}):
    pass


@strawberry.input(description="A member asks a partner of the same network for its resource for some days")
class RequestResourceInput(
    CommandInput,
    command=resource_requests.RequestResource,
    describe={
        "requester_id": "The organization asking: a member of the network other than the owner",
        "network_id": "The network both are members of on the first day",
        "ends_on": "The last day of use, included",
    },
):
    pass


@strawberry.input(description="A use of a resource under an accepted request")
class RecordResourceUseInput(
    CommandInput,
    command=resource_requests.RecordResourceUse,
    describe={
        "recorded_by_id": "The side recording it: the owner or the requester",
        "used_to": "The last day of use, included; the first day if not given",
        "note": "What was done, briefly",
        "figure": "A number the note explains: how many took part, hours, copies",
    },
):
    pass


@strawberry.input
class SignAgreementInput(CommandInput, command=agreements.SignAgreement):
    pass


@strawberry.input(description="An amendment (дополнительное соглашение) and what it changes")
class AmendAgreementInput(
    CommandInput,
    command=agreements.AmendAgreement,
    describe={
        "number": "The amendment's own number, e.g. ДС-1",
        "amended_on": "The day it was signed; it takes effect then",
        "basis": "What it rests on",
        "valid_to": "The new end date (the first day the agreement no longer holds)",
        "open_ended": "The agreement holds with no end date from now on",
        "subject": "The new subject, if it changes",
    },
):
    pass


@strawberry.input(description="A new edition (новая редакция) of the regulating document in force")
class ReviseRegulationInput(
    CommandInput,
    command=agreements.ReviseRegulation,
    describe={
        "regulation_id": "The edition in force, which the new one supersedes",
        "number": "The number of the order that approves the new edition",
        "issued_on": "Its date",
        "title": "The new title, if it changes",
        "link": "The new edition's document link",
    },
):
    pass


@strawberry.input
class IssueRegulationInput(
    CommandInput, command=agreements.IssueRegulation, describe={"kind": RegulationKind}
):
    pass


def _mutation(description: str, roles: tuple[Role, ...]) -> Any:
    """A mutation that declares who may run it: ``@requiresScopes``, one alternative per role
    (where, within their scope, each mutation's ``run_command`` checks)."""
    return strawberry.federation.mutation(
        description=description, requires_scopes=[[str(role)] for role in roles]
    )


STRUCTURE = "changing an organization's kind or municipality"
NETWORK_MOVE = "moving a network to another municipality or level"


@strawberry.type
class Mutation:
    @_mutation("Register an organization; emits organization.registered", EDITORS)
    async def register_organization(
        self, info: Info, input: RegisterOrganizationInput
    ) -> RegisterOrganizationResult:
        return await run_command(
            info,
            Organization.of,
            lambda s: orgs.register_organization(s, input.to_command()),
            scope=lambda s: scopes.place(s, input.region_code, input.municipality_id, input.municipality),
            roles=EDITORS,
        )

    @_mutation(
        "Change an organization's details (a school's representative: their own school's, but not its"
        " kind or municipality); emits organization.updated",
        PARTICIPANTS,
    )
    async def update_organization(self, info: Info, input: UpdateOrganizationInput) -> OrganizationResult:
        async def scope(session: AsyncSession) -> Target:
            command = input.to_command()
            change = await scopes.organization_change(
                session, command.organization_id, kind=command.kind, municipality_id=command.municipality_id
            )
            if change is not None:
                identity(info).require(change, EDITORS, what=STRUCTURE)
            return await scopes.organization(session, command.organization_id)

        return await run_command(
            info,
            Organization.of,
            lambda s: orgs.update_organization(s, input.to_command()),
            scope=scope,
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Archive an organization (never deleted): it leaves its networks and withdraws its resources;"
        " emits organization.archived",
        EDITORS,
    )
    async def archive_organization(
        self, info: Info, id: strawberry.ID, reason: str | None = None, on: dt.date | None = None
    ) -> OrganizationResult:
        return await run_command(
            info,
            Organization.of,
            lambda s: orgs.archive_organization(s, require_id(id, "id"), reason=reason, on=on),
            scope=lambda s: scopes.organization(s, id),
            roles=EDITORS,
        )

    @_mutation("A school enters a status list; emits organization.status_changed", EDITORS)
    async def enter_status(self, info: Info, input: EnterStatusInput) -> StatusPeriodResult:
        return await run_command(
            info,
            StatusPeriod.of,
            lambda s: statuses.enter_status(s, input.to_command()),
            scope=lambda s: scopes.organization(s, input.organization_id),
            roles=EDITORS,
        )

    @_mutation("A school leaves a status list; emits organization.status_changed", EDITORS)
    async def leave_status(self, info: Info, input: LeaveStatusInput) -> StatusPeriodResult:
        return await run_command(
            info,
            StatusPeriod.of,
            lambda s: statuses.leave_status(s, input.to_command()),
            scope=lambda s: scopes.organization(s, input.organization_id),
            roles=EDITORS,
        )

    @_mutation("Record a school's risk profile; emits risk_profile.assessed", EDITORS)
    async def assess_risk_profile(self, info: Info, input: AssessRiskProfileInput) -> RiskProfileResult:
        return await run_command(
            info,
            RiskProfile.of,
            lambda s: statuses.assess_risk_profile(s, input.to_command()),
            scope=lambda s: scopes.organization(s, input.organization_id),
            roles=EDITORS,
        )

    @_mutation("Register an educator with their posts; emits educator.registered", PARTICIPANTS)
    async def register_educator(self, info: Info, input: RegisterEducatorInput) -> EducatorResult:
        return await run_command(
            info,
            Educator.of,
            lambda s: educators.register_educator(
                s, input.to_command(), snils_key=info.context.get("snils_key")
            ),
            scope=lambda s: scopes.organizations(s, [post.organization_id for post in input.posts]),
            roles=PARTICIPANTS,
        )

    @_mutation("Change an educator's details; emits educator.updated", PARTICIPANTS)
    async def update_educator(self, info: Info, input: UpdateEducatorInput) -> EducatorResult:
        return await run_command(
            info,
            Educator.of,
            lambda s: educators.update_educator(
                s, input.to_command(), snils_key=info.context.get("snils_key")
            ),
            scope=lambda s: scopes.educator(s, input.id),
            roles=PARTICIPANTS,
        )

    @_mutation("The educator takes a post (also a second one); emits educator.updated", PARTICIPANTS)
    async def employ_educator(
        self, info: Info, educator_id: strawberry.ID, post: PostInput
    ) -> EmploymentResult:
        return await run_command(
            info,
            Employment.of,
            lambda s: educators.employ(s, require_id(educator_id, "educatorId"), post.to_command()),
            scope=lambda s: scopes.educator(s, educator_id, post.organization_id),
            roles=PARTICIPANTS,
        )

    @_mutation("End a post (endedOn: the first day out); emits educator.updated", PARTICIPANTS)
    async def end_employment(
        self, info: Info, employment_id: strawberry.ID, ended_on: dt.date
    ) -> EmploymentResult:
        return await run_command(
            info,
            Employment.of,
            lambda s: educators.end_employment(s, require_id(employment_id, "employmentId"), ended_on),
            scope=lambda s: scopes.employment(s, employment_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Erase an educator's personal data (152-ФЗ): the name goes, the id and posts stay so facts "
        "still count; emits educator.erased",
        (Role.regional_admin,),
    )
    async def erase_educator(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> EducatorResult:
        result = await run_command(
            info,
            lambda erased: erased,
            lambda s: educators.erase_educator(s, require_id(id, "id"), reason=reason),
            scope=lambda s: scopes.educator(s, id),
            roles=(Role.regional_admin,),
        )
        if isinstance(result, ValidationError):
            return result
        caller = identity(info)
        erasure.purge_in_background(
            info.context["db"],
            info.context["kafka"],
            result,
            erasure.Actor(caller.subject or "", caller=caller),
        )
        return Educator.of(result.educator)

    @_mutation("Set up a network under an education authority; emits network.created", EDITORS)
    async def create_network(self, info: Info, input: CreateNetworkInput) -> NetworkResult:
        return await run_command(
            info,
            Network.of,
            lambda s: networks.create_network(s, input.to_command()),
            scope=lambda s: scopes.place(s, input.region_code, input.municipality_id),
            roles=EDITORS,
        )

    @_mutation("Close a network; its open memberships end; emits network.closed", EDITORS)
    async def close_network(self, info: Info, network_id: strawberry.ID, ended_on: dt.date) -> NetworkResult:
        return await run_command(
            info,
            Network.of,
            lambda s: networks.close_network(s, require_id(network_id, "networkId"), ended_on),
            scope=lambda s: scopes.network(s, network_id),
            roles=EDITORS,
        )

    @_mutation(
        "Correct a network: its name, level, municipality, governing body or coordinator (moving it to"
        " another municipality or level needs the editors of both places); emits network.updated",
        EDITORS,
    )
    async def update_network(self, info: Info, input: UpdateNetworkInput) -> NetworkResult:
        async def scope(session: AsyncSession) -> Target:
            move = await scopes.network_move(
                session, input.id, level=input.level, municipality_id=input.municipality_id
            )
            if move is not None:
                identity(info).require(move, EDITORS, what=NETWORK_MOVE)
            return await scopes.network(session, input.id)

        return await run_command(
            info,
            Network.of,
            lambda s: networks.update_network(s, input.to_command()),
            scope=scope,
            roles=EDITORS,
        )

    @_mutation("An organization joins a network; emits membership.joined (and centre_designated)", EDITORS)
    async def join_network(self, info: Info, input: JoinNetworkInput) -> MembershipResult:
        return await run_command(
            info,
            Membership.of,
            lambda s: networks.join_network(s, input.to_command()),
            scope=lambda s: scopes.network(s, input.network_id, input.organization_id),
            roles=EDITORS,
        )

    @_mutation("End a membership (leftOn: the first day out); emits membership.left", EDITORS)
    async def leave_network(
        self, info: Info, membership_id: strawberry.ID, left_on: dt.date
    ) -> MembershipResult:
        return await run_command(
            info,
            Membership.of,
            lambda s: networks.leave_network(s, require_id(membership_id, "membershipId"), left_on),
            scope=lambda s: scopes.membership(s, membership_id),
            roles=EDITORS,
        )

    @_mutation(
        "Make a stable-results school the network's centre from a date; emits centre_designated", EDITORS
    )
    async def designate_centre(
        self, info: Info, network_id: strawberry.ID, organization_id: strawberry.ID, on: dt.date
    ) -> MembershipResult:
        return await run_command(
            info,
            Membership.of,
            lambda s: networks.designate_centre(
                s, require_id(network_id, "networkId"), require_id(organization_id, "organizationId"), on
            ),
            scope=lambda s: scopes.network(s, network_id, organization_id),
            roles=EDITORS,
        )

    @_mutation("Form an interaction group; emits interaction_group.formed", EDITORS)
    async def form_interaction_group(
        self, info: Info, input: FormInteractionGroupInput
    ) -> InteractionGroupResult:
        return await run_command(
            info,
            InteractionGroup.of,
            lambda s: networks.form_interaction_group(s, input.to_command()),
            scope=lambda s: scopes.network(s, input.network_id),
            roles=EDITORS,
        )

    @_mutation("Add or remove group members; emits interaction_group.changed", EDITORS)
    async def change_interaction_group(
        self, info: Info, input: ChangeInteractionGroupInput
    ) -> InteractionGroupResult:
        return await run_command(
            info,
            InteractionGroup.of,
            lambda s: networks.change_group_members(s, input.to_command()),
            scope=lambda s: scopes.interaction_group(s, input.group_id),
            roles=EDITORS,
        )

    @_mutation("Offer a resource to the network; emits resource.offered", PARTICIPANTS)
    async def offer_resource(self, info: Info, input: OfferResourceInput) -> ResourceResult:
        return await run_command(
            info,
            Resource.of,
            lambda s: resources.offer_resource(s, input.to_command()),
            scope=lambda s: scopes.organization(s, input.owner_id),
            roles=PARTICIPANTS,
        )

    @_mutation("Withdraw a resource; emits resource.withdrawn", PARTICIPANTS)
    async def withdraw_resource(self, info: Info, resource_id: strawberry.ID) -> ResourceResult:
        return await run_command(
            info,
            Resource.of,
            lambda s: resources.withdraw_resource(s, require_id(resource_id, "resourceId")),
            scope=lambda s: scopes.resource(s, resource_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Ask for a partner's offered resource for days within its availability, with a purpose (the"
        " requester's people or editors in its scope); emits resource.requested",
        PARTICIPANTS,
    )
    async def request_resource(self, info: Info, input: RequestResourceInput) -> ResourceRequestResult:
        return await run_command(
            info,
            ResourceRequest.of,
            lambda s: resource_requests.request_resource(s, input.to_command()),
            scope=lambda s: scopes.organization(s, input.requester_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Accept a request (the owner's people or editors in its scope); a resource of limited capacity"
        " is refused for days it is already booked; emits resource.request_accepted",
        PARTICIPANTS,
    )
    async def accept_resource_request(self, info: Info, request_id: strawberry.ID) -> ResourceRequestResult:
        return await run_command(
            info,
            ResourceRequest.of,
            lambda s: resource_requests.accept_request(s, require_id(request_id, "requestId")),
            scope=lambda s: scopes.resource_request_owner(s, request_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Decline a request with the reason (the owner's people or editors in its scope); emits"
        " resource.request_declined",
        PARTICIPANTS,
    )
    async def decline_resource_request(
        self, info: Info, request_id: strawberry.ID, reason: str
    ) -> ResourceRequestResult:
        return await run_command(
            info,
            ResourceRequest.of,
            lambda s: resource_requests.decline_request(s, require_id(request_id, "requestId"), reason),
            scope=lambda s: scopes.resource_request_owner(s, request_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Cancel an accepted booking before its first day, on behalf of either side (byOrganizationId:"
        " the owner or the requester), or take back an unanswered request (the requester); emits"
        " resource.request_cancelled",
        PARTICIPANTS,
    )
    async def cancel_resource_request(
        self,
        info: Info,
        request_id: strawberry.ID,
        by_organization_id: strawberry.ID,
        reason: str | None = None,
    ) -> ResourceRequestResult:
        return await run_command(
            info,
            ResourceRequest.of,
            lambda s: resource_requests.cancel_request(
                s,
                require_id(request_id, "requestId"),
                require_id(by_organization_id, "byOrganizationId"),
                reason,
            ),
            scope=lambda s: scopes.resource_request_side(s, request_id, by_organization_id),
            roles=PARTICIPANTS,
        )

    @_mutation(
        "Record a use under an accepted request, on days of the booking that have begun (the owner or"
        " the requester, named by recordedById); emits resource.used",
        PARTICIPANTS,
    )
    async def record_resource_use(self, info: Info, input: RecordResourceUseInput) -> ResourceUseResult:
        return await run_command(
            info,
            ResourceUse.of,
            lambda s: resource_requests.record_use(s, input.to_command()),
            scope=lambda s: scopes.resource_request_side(s, input.request_id, input.recorded_by_id),
            roles=PARTICIPANTS,
        )

    @_mutation("Record a signed agreement (two or more parties); emits agreement.signed", EDITORS)
    async def sign_agreement(self, info: Info, input: SignAgreementInput) -> AgreementResult:
        return await run_command(
            info,
            Agreement.of,
            lambda s: agreements.sign_agreement(s, input.to_command()),
            scope=lambda s: scopes.documents(s, input.party_ids, input.network_id),
            roles=EDITORS,
        )

    @_mutation("End an agreement early (on: the first day out); emits agreement.terminated", EDITORS)
    async def terminate_agreement(
        self, info: Info, agreement_id: strawberry.ID, on: dt.date
    ) -> AgreementResult:
        return await run_command(
            info,
            Agreement.of,
            lambda s: agreements.terminate_agreement(s, require_id(agreement_id, "agreementId"), on),
            scope=lambda s: scopes.agreement(s, agreement_id),
            roles=EDITORS,
        )

    @_mutation(
        "Amend an agreement in force (дополнительное соглашение: parties added or removed, end date,"
        " subject); its version goes up; emits agreement.amended",
        EDITORS,
    )
    async def amend_agreement(self, info: Info, input: AmendAgreementInput) -> AgreementResult:
        return await run_command(
            info,
            Agreement.of,
            lambda s: agreements.amend_agreement(s, input.to_command()),
            scope=lambda s: scopes.agreement(s, input.agreement_id, *input.add_party_ids),
            roles=EDITORS,
        )

    @_mutation("Record a regulating document; emits regulation.issued", EDITORS)
    async def issue_regulation(self, info: Info, input: IssueRegulationInput) -> RegulationResult:
        return await run_command(
            info,
            Regulation.of,
            lambda s: agreements.issue_regulation(s, input.to_command()),
            scope=lambda s: scopes.documents(s, [input.issuer_id], input.network_id),
            roles=EDITORS,
        )

    @_mutation(
        "A new edition of the regulating document in force: it supersedes that one, which stays"
        " readable; emits regulation.revised",
        EDITORS,
    )
    async def revise_regulation(self, info: Info, input: ReviseRegulationInput) -> RegulationResult:
        return await run_command(
            info,
            Regulation.of,
            lambda s: agreements.revise_regulation(s, input.to_command()),
            scope=lambda s: scopes.regulation(s, input.regulation_id),
            roles=EDITORS,
        )

    @_mutation(
        "The regulating document in force is withdrawn (утратил силу; on: the first day out), and stays"
        " readable; emits regulation.withdrawn",
        EDITORS,
    )
    async def withdraw_regulation(
        self, info: Info, regulation_id: strawberry.ID, on: dt.date, reason: str
    ) -> RegulationResult:
        return await run_command(
            info,
            Regulation.of,
            lambda s: agreements.withdraw_regulation(
                s, require_id(regulation_id, "regulationId"), on, reason
            ),
            scope=lambda s: scopes.regulation(s, regulation_id),
            roles=EDITORS,
        )

    @_mutation(
        "Attach a file to an agreement, an amendment or an edition of a regulating document (the"
        " editors who may amend or revise it); emits document.attached",
        EDITORS,
    )
    async def attach_registry_document(
        self, info: Info, input: AttachRegistryDocumentInput
    ) -> AttachRegistryDocumentResult:
        return await attach_command(
            info,
            owner_kind=input.owner_kind,
            owner_id=input.owner_id,
            file_name=input.file_name,
            content_base64=input.content_base64,
            title=input.title,
            roles=EDITORS,
        )
