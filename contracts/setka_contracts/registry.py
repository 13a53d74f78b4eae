"""Events of the registry service: who takes part in network interaction.

Every event is keyed by its aggregate's id (an organization, an educator, a network, a
resource, an agreement, a regulation, an interaction group), so one aggregate's events stay in
order; every edition of a regulating document is keyed by its first edition's id. Events that end
something (archived, left, withdrawn, terminated) carry the natural keys (ИНН, ОГРН, the
assessment-system code) so that a downstream copy keyed by them can apply them.

Corrections. A network, an agreement and a regulating document count their versions: a network's
``version`` goes up with each ``network.updated``, an agreement's with each amendment (and its
termination), a document's ``edition`` with each new edition. A consumer keeps the state of the
highest version it has seen, so a late or repeated event never undoes a later correction.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from . import topics
from .base import EventData
from .documents import DocumentAttachedData


class OrganizationKind(StrEnum):
    school = "school"
    kindergarten = "kindergarten"
    additional_education = "additional_education"
    college = "college"
    methodological_service = "methodological_service"
    education_authority = "education_authority"
    development_institute = "development_institute"


class SchoolStatus(StrEnum):
    """Dated statuses of a school: ШНОР, ШФНСУ, stable results (the only base for a centre)."""

    low_results = "low_results"
    adverse_social_conditions = "adverse_social_conditions"
    stable_results = "stable_results"


class StatusChange(StrEnum):
    entered = "entered"
    left = "left"


class RiskFactor(StrEnum):
    """The risk factors of the federal project «500+» (рисковый профиль школы)."""

    low_equipment_level = "low_equipment_level"
    teacher_shortage = "teacher_shortage"
    insufficient_subject_methodological_competence = "insufficient_subject_methodological_competence"
    low_instruction_adaptivity = "low_instruction_adaptivity"
    no_in_school_professional_development = "no_in_school_professional_development"
    language_cultural_barriers = "language_cultural_barriers"
    poor_learning_climate = "poor_learning_climate"
    high_share_of_students_at_risk_of_failure = "high_share_of_students_at_risk_of_failure"
    low_parental_involvement = "low_parental_involvement"
    low_learning_motivation = "low_learning_motivation"
    high_share_of_students_with_special_needs = "high_share_of_students_with_special_needs"


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class QualificationCategory(StrEnum):
    """Квалификационная категория педагогического работника."""

    none = "none"
    first = "first"
    highest = "highest"
    methodologist = "methodologist"
    mentor = "mentor"


class NetworkLevel(StrEnum):
    municipal = "municipal"
    inter_municipal = "inter_municipal"
    regional = "regional"


class NetworkStatus(StrEnum):
    active = "active"
    closed = "closed"


class MemberRole(StrEnum):
    """Роль участника сети: центр, партнёр, сопровождаемая школа, методическое сопровождение, координатор."""

    centre = "centre"
    partner = "partner"
    supported = "supported"
    methodological_support = "methodological_support"
    coordinator = "coordinator"


class AgreementStatus(StrEnum):
    signed = "signed"
    terminated = "terminated"


class RegulationStatus(StrEnum):
    """A regulating document in force, superseded by a new edition (still readable), or withdrawn."""

    in_force = "in_force"
    superseded = "superseded"
    withdrawn = "withdrawn"


class RegulationKind(StrEnum):
    """Положение, приказ, распоряжение, план, договор-образец."""

    provision = "provision"
    order = "order"
    instruction = "instruction"
    plan = "plan"
    model_agreement = "model_agreement"


class ResourceKind(StrEnum):
    """Кадровые, методические, материально-технические ресурсы."""

    staff = "staff"
    methodological = "methodological"
    material = "material"


class ResourceStatus(StrEnum):
    offered = "offered"
    withdrawn = "withdrawn"


class ResourceRequestStatus(StrEnum):
    """A request for a partner's resource: asked, then accepted or declined; an accepted one may be
    cancelled by either side before it starts."""

    requested = "requested"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"


class OrganizationRegistered(EventData):
    """An educational organization (образовательная организация) joined the registry."""

    event_type = "setka.registry.organization.registered.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID = Field(description="Our id of the organization")
    full_name: str = Field(description="Full official name")
    short_name: str = Field(description="Short name as used in documents")
    kind: OrganizationKind
    region_code: str = Field(description="Code of the subject of the Russian Federation, e.g. '39'")
    municipality: str | None = Field(default=None, description="Municipality name")
    inn: str | None = Field(default=None, description="ИНН, 10 digits")
    registered_at: datetime
    municipality_id: uuid.UUID | None = Field(default=None, description="Our id of the municipality")
    ogrn: str | None = Field(default=None, description="ОГРН, 13 digits")
    school_code: str | None = Field(default=None, description="Code in the federal assessment system")
    address: str | None = None
    website: str | None = None
    email: str | None = Field(default=None, description="The organization's official e-mail address")
    region_name: str | None = Field(
        default=None,
        description="The subject's name in the registry's reference data, e.g. 'Калининградская область'",
    )


class OrganizationUpdated(EventData):
    """The organization's details changed; the data is the whole new state of those details."""

    event_type = "setka.registry.organization.updated.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID
    full_name: str
    short_name: str
    kind: OrganizationKind
    region_code: str
    municipality: str | None = None
    municipality_id: uuid.UUID | None = None
    inn: str | None = None
    ogrn: str | None = None
    school_code: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = Field(default=None, description="The organization's official e-mail address")
    updated_at: datetime
    region_name: str | None = Field(
        default=None,
        description="The subject's name in the registry's reference data, e.g. 'Калининградская область'",
    )


class OrganizationArchived(EventData):
    """The organization left the registry (kept, never deleted); natural keys for downstream copies."""

    event_type = "setka.registry.organization.archived.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID
    inn: str | None = None
    ogrn: str | None = None
    school_code: str | None = None
    region_code: str
    reason: str | None = None
    archived_at: datetime


class OrganizationStatusChanged(EventData):
    """A school entered or left a status list (ШНОР, ШФНСУ, stable results) on a date."""

    event_type = "setka.registry.organization.status_changed.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID
    inn: str | None = None
    school_code: str | None = None
    status: SchoolStatus
    change: StatusChange
    effective_on: date = Field(description="Date of entering, or the first day no longer in the status")
    basis: str | None = Field(default=None, description="The document the change rests on")
    current_statuses: list[SchoolStatus] = Field(description="Statuses held today after the change")


class RiskProfileAssessed(EventData):
    """A school's risk profile on an assessment date; a later one for the same date replaces it."""

    event_type = "setka.registry.risk_profile.assessed.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID
    profile_id: uuid.UUID
    inn: str | None = None
    school_code: str | None = None
    assessed_on: date
    factors: dict[RiskFactor, RiskLevel]


class EducatorEmployment(BaseModel):
    """Where an educator works: a part of the educator events, not an event of its own."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    employment_id: uuid.UUID
    organization_id: uuid.UUID
    position: str
    started_on: date | None = None
    ended_on: date | None = Field(default=None, description="The first day no longer employed")


PERSONAL_FIELDS: frozenset[str] = frozenset(
    {"last_name", "first_name", "middle_name", "full_name", "external_id"}
)
"""Fields of an educator's data that identify the person: what an erasure removes wherever an
event's payload is kept (outboxes, waiting rooms)."""

ERASED_NAME = "Данные удалены"
"""What stands for the name of an educator whose personal data was erased (152-ФЗ)."""


class _EducatorFacts(EventData):
    """What every educator event carries: the id, the qualification and the posts, no name."""

    topic = topics.REGISTRY
    key_field = "educator_id"

    educator_id: uuid.UUID
    qualification_category: QualificationCategory
    subjects: list[str] = Field(default_factory=list)
    employments: list[EducatorEmployment] = Field(default_factory=list)
    snils_hash: str | None = Field(
        default=None,
        description="HMAC-SHA256 (hex) of the educator's СНИЛС under the installation's SNILS_HMAC_KEY: "
        "how a fact naming the educator by СНИЛС finds them. The number itself is never published",
    )


class EducatorRegistered(_EducatorFacts):
    """A pedagogical worker (педагогический работник) joined the registry. Since v2 the event
    carries no personal data: the name stays in the registry (the federated ``Educator``), so the
    topic, kept for ever, never holds what an erasure must remove."""

    event_type = "setka.registry.educator.registered.v2"


class EducatorUpdated(_EducatorFacts):
    """The educator's qualification or posts changed; the data is the whole new state (v2: no name)."""

    event_type = "setka.registry.educator.updated.v2"


class _EducatorStateV1(_EducatorFacts):
    """An educator as v1 carried it, name included. No longer published; consumers still read
    it from history (topics are kept for ever)."""

    external_id: str | None = None
    last_name: str
    first_name: str
    middle_name: str | None = None


class EducatorRegisteredV1(_EducatorStateV1):
    """v1 of ``educator.registered`` (with the name): read from history only."""

    event_type = "setka.registry.educator.registered.v1"


class EducatorUpdatedV1(_EducatorStateV1):
    """v1 of ``educator.updated`` (with the name): read from history only."""

    event_type = "setka.registry.educator.updated.v1"


class EducatorErased(EventData):
    """The educator's personal data was erased (152-ФЗ): on request or when the retention after
    the last employment ended ran out. The id stays, so facts about them still count; every
    service removes whatever personal field of theirs it holds (outboxes, waiting rooms, copies)."""

    event_type = "setka.registry.educator.erased.v1"
    topic = topics.REGISTRY
    key_field = "educator_id"

    educator_id: uuid.UUID
    erased_at: datetime = Field(description="When the registry erased it (UTC)")
    cause: str = Field(description="request (on request) or retention (the retention period ran out)")


class NetworkCreated(EventData):
    """A network (сеть) was set up under its governing body."""

    event_type = "setka.registry.network.created.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    name: str
    level: NetworkLevel
    region_code: str
    municipality_id: uuid.UUID | None = None
    governing_body_id: uuid.UUID
    coordinator_id: uuid.UUID | None = None
    started_on: date
    ended_on: date | None = None
    version: int = Field(default=1, description="The network's version: 1 when created")


class NetworkUpdated(EventData):
    """The network's details were corrected (renamed, another coordinator or governing body, another
    municipality or level); the data is the whole new state. A copy applies it only if ``version``
    is higher than the one it holds."""

    event_type = "setka.registry.network.updated.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    version: int = Field(description="The network's version after the change: 2 after the first one")
    name: str
    level: NetworkLevel
    region_code: str
    municipality_id: uuid.UUID | None = None
    governing_body_id: uuid.UUID
    coordinator_id: uuid.UUID | None = None
    started_on: date
    ended_on: date | None = None
    changed: list[str] = Field(
        default_factory=list, description="What changed: names of the fields above, e.g. name, coordinator_id"
    )
    updated_at: datetime


class NetworkClosed(EventData):
    """The network ended on a date; memberships still open were ended with it."""

    event_type = "setka.registry.network.closed.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    name: str
    ended_on: date
    version: int | None = Field(default=None, description="The network's version after it was closed")


class MemberJoined(EventData):
    """An organization joined a network in a role (участник сети)."""

    event_type = "setka.registry.membership.joined.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    membership_id: uuid.UUID
    organization_id: uuid.UUID
    inn: str | None = None
    school_code: str | None = None
    role: MemberRole
    joined_on: date


class MemberLeft(EventData):
    """An organization left a network; natural keys let a copy find the membership."""

    event_type = "setka.registry.membership.left.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    membership_id: uuid.UUID
    organization_id: uuid.UUID
    inn: str | None = None
    school_code: str | None = None
    role: MemberRole
    joined_on: date
    left_on: date = Field(description="The first day the organization is no longer a member")


class CentreDesignated(EventData):
    """A stable-results school became a centre of the network (центр сетевого взаимодействия)."""

    event_type = "setka.registry.network.centre_designated.v1"
    topic = topics.REGISTRY
    key_field = "network_id"

    network_id: uuid.UUID
    membership_id: uuid.UUID
    organization_id: uuid.UUID
    inn: str | None = None
    designated_on: date


class InteractionGroupFormed(EventData):
    """A group of interaction (группа взаимодействия, РМО) was formed in a network."""

    event_type = "setka.registry.interaction_group.formed.v1"
    topic = topics.REGISTRY
    key_field = "group_id"

    group_id: uuid.UUID
    network_id: uuid.UUID
    name: str
    purpose: str
    educator_ids: list[uuid.UUID] = Field(default_factory=list)
    organization_ids: list[uuid.UUID] = Field(default_factory=list)


class InteractionGroupChanged(EventData):
    """Members of an interaction group changed; the data is the whole new member list."""

    event_type = "setka.registry.interaction_group.changed.v1"
    topic = topics.REGISTRY
    key_field = "group_id"

    group_id: uuid.UUID
    network_id: uuid.UUID
    educator_ids: list[uuid.UUID] = Field(default_factory=list)
    organization_ids: list[uuid.UUID] = Field(default_factory=list)


class ResourceOffered(EventData):
    """An organization offered a resource to the network (кадровый, методический, материальный)."""

    event_type = "setka.registry.resource.offered.v1"
    topic = topics.REGISTRY
    key_field = "resource_id"

    resource_id: uuid.UUID
    kind: ResourceKind
    owner_id: uuid.UUID
    owner_inn: str | None = None
    title: str
    description: str | None = None
    subjects: list[str] = Field(default_factory=list)
    capacity: int | None = None
    available_from: date | None = None
    available_to: date | None = None


class ResourceWithdrawn(EventData):
    """The owner withdrew a resource; the owner's ИНН lets a copy keyed by it apply this."""

    event_type = "setka.registry.resource.withdrawn.v1"
    topic = topics.REGISTRY
    key_field = "resource_id"

    resource_id: uuid.UUID
    owner_id: uuid.UUID
    owner_inn: str | None = None
    title: str
    withdrawn_at: datetime


class _ResourceRequestEvent(EventData):
    """What every event of a resource request carries: keyed by the request, one request's events
    stay in order; ``version`` counts the request's changes (1 when requested), so a copy can tell
    a late or repeated event from a newer one."""

    topic = topics.REGISTRY
    key_field = "request_id"

    request_id: uuid.UUID
    version: int = Field(ge=1, description="The request's change number: 1 when requested, +1 each change")
    resource_id: uuid.UUID
    owner_id: uuid.UUID = Field(description="The organization that owns the resource")
    requester_id: uuid.UUID = Field(description="The organization that asked for it")
    network_id: uuid.UUID = Field(description="The network within which the resource is shared")


class ResourceRequested(_ResourceRequestEvent):
    """A member of a network asked a partner for its offered resource for some days, with a purpose
    (обмен ресурсами, положение о сетевом взаимодействии, п. 4.3)."""

    event_type = "setka.registry.resource.requested.v1"

    resource_kind: ResourceKind
    starts_on: date = Field(description="The first day of use")
    ends_on: date = Field(description="The last day of use, included")
    purpose: str
    requested_at: datetime


class ResourceRequestAccepted(_ResourceRequestEvent):
    """The owner accepted the request: the resource is booked for those days."""

    event_type = "setka.registry.resource.request_accepted.v1"

    starts_on: date
    ends_on: date
    accepted_at: datetime


class ResourceRequestDeclined(_ResourceRequestEvent):
    """The owner declined the request, with the reason."""

    event_type = "setka.registry.resource.request_declined.v1"

    reason: str
    declined_at: datetime


class ResourceRequestCancelled(_ResourceRequestEvent):
    """Either side cancelled an accepted request before its first day: the booking is freed."""

    event_type = "setka.registry.resource.request_cancelled.v1"

    cancelled_by_id: uuid.UUID = Field(description="The side that cancelled: the owner or the requester")
    reason: str | None = None
    cancelled_at: datetime


class ResourceUsed(_ResourceRequestEvent):
    """The resource was used under an accepted request: on which days, with a short note and a
    figure (how many took part, hours, copies — whatever the note says it counts)."""

    event_type = "setka.registry.resource.used.v1"

    use_id: uuid.UUID
    resource_kind: ResourceKind
    used_from: date
    used_to: date = Field(description="The last day of use, included (the same as usedFrom for one day)")
    note: str
    figure: float | None = Field(default=None, description="A number the note explains (people, hours, ...)")
    recorded_by_id: uuid.UUID = Field(description="The side that recorded it: the owner or the requester")
    recorded_at: datetime


class AgreementSigned(EventData):
    """A network interaction agreement (договор о сетевом взаимодействии) was signed."""

    event_type = "setka.registry.agreement.signed.v1"
    topic = topics.REGISTRY
    key_field = "agreement_id"

    agreement_id: uuid.UUID
    number: str
    signed_on: date
    subject: str
    party_ids: list[uuid.UUID]
    party_inns: list[str | None]
    network_id: uuid.UUID | None = None
    valid_from: date
    valid_to: date | None = None
    version: int = Field(default=1, description="The agreement's version: 1 when signed")


class AgreementAmended(EventData):
    """An amendment (дополнительное соглашение) changed an agreement: parties added or removed,
    another end date or subject. The data carries the amendment and the agreement's whole new
    state; number and date of the agreement are its natural key."""

    event_type = "setka.registry.agreement.amended.v1"
    topic = topics.REGISTRY
    key_field = "agreement_id"

    agreement_id: uuid.UUID
    version: int = Field(description="The agreement's version after the amendment: 2 after the first")
    amendment_id: uuid.UUID
    amendment_number: str = Field(description="The amendment's own number, e.g. «ДС-1»")
    amended_on: date = Field(description="The day the amendment was signed; it takes effect then")
    basis: str | None = Field(default=None, description="What the amendment rests on")
    added_party_ids: list[uuid.UUID] = Field(default_factory=list)
    removed_party_ids: list[uuid.UUID] = Field(default_factory=list)
    number: str = Field(description="The agreement's number")
    signed_on: date = Field(description="The day the agreement was signed")
    subject: str
    party_ids: list[uuid.UUID] = Field(description="The parties after the amendment")
    party_inns: list[str | None]
    network_id: uuid.UUID | None = None
    valid_from: date
    valid_to: date | None = Field(default=None, description="After the amendment; the first day out")


class AgreementTerminated(EventData):
    """An agreement ended before its term; number and date are its natural key."""

    event_type = "setka.registry.agreement.terminated.v1"
    topic = topics.REGISTRY
    key_field = "agreement_id"

    agreement_id: uuid.UUID
    number: str
    signed_on: date
    terminated_on: date
    version: int | None = Field(default=None, description="The agreement's version after it ended")


class RegulationIssued(EventData):
    """A regulating document (положение, приказ) was recorded."""

    event_type = "setka.registry.regulation.issued.v1"
    topic = topics.REGISTRY
    key_field = "regulation_id"

    regulation_id: uuid.UUID
    kind: RegulationKind
    number: str
    issued_on: date
    issuer_id: uuid.UUID
    title: str
    link: str | None = None
    network_id: uuid.UUID | None = None
    edition: int = Field(default=1, description="1: the first edition (a new one is regulation.revised)")


class RegulationRevised(EventData):
    """A new edition (новая редакция) of a regulating document supersedes the one in force, which
    stays readable as superseded. Keyed by the document's first edition, as all its editions are."""

    event_type = "setka.registry.regulation.revised.v1"
    topic = topics.REGISTRY
    key_field = "first_edition_id"

    regulation_id: uuid.UUID = Field(description="The new edition's id")
    first_edition_id: uuid.UUID = Field(description="The document's first edition: the key of all of them")
    supersedes_id: uuid.UUID = Field(description="The edition it supersedes")
    edition: int = Field(description="2 for the first new edition")
    kind: RegulationKind
    number: str
    issued_on: date
    issuer_id: uuid.UUID
    title: str
    link: str | None = None
    network_id: uuid.UUID | None = None


class RegulationWithdrawn(EventData):
    """A regulating document in force was withdrawn (утратил силу) from a date."""

    event_type = "setka.registry.regulation.withdrawn.v1"
    topic = topics.REGISTRY
    key_field = "first_edition_id"

    regulation_id: uuid.UUID = Field(description="The edition that was in force")
    first_edition_id: uuid.UUID
    edition: int
    kind: RegulationKind
    number: str
    issued_on: date
    withdrawn_on: date = Field(description="The first day it no longer holds")
    reason: str


class ImportKind(StrEnum):
    organizations = "organizations"
    educators = "educators"
    memberships = "memberships"
    municipalities = "municipalities"


class FileImported(EventData):
    """A file of rows (организации, педагоги, участие в сетях, муниципальные образования) was
    imported through the API: how many rows were read, applied and refused. Each applied row also
    emitted its own event (organization.registered, member.joined, …); this one is what the audit
    trail names for the import as a whole. No row's content is here."""

    event_type = "setka.registry.file.imported.v1"
    topic = topics.REGISTRY
    key_field = "import_id"

    import_id: uuid.UUID = Field(description="Our id of this import")
    kind: ImportKind = Field(description="What the rows were")
    region_code: str | None = Field(
        default=None, description="The region the rows were limited to; none: every region"
    )
    rows_read: int = Field(description="Data rows read from the file")
    created: int
    updated: int
    unchanged: int
    rejected: int = Field(description="Rows refused, each reported with its line number")
    imported_at: datetime


class RegistryDocumentAttached(DocumentAttachedData):
    """A file was attached to an agreement, an amendment of one, or an edition of a regulating
    document (owner_kind agreement, agreement_amendment or regulation)."""

    event_type = "setka.registry.document.attached.v1"
    topic = topics.REGISTRY


EVENTS: tuple[type[EventData], ...] = (
    OrganizationRegistered,
    OrganizationUpdated,
    OrganizationArchived,
    OrganizationStatusChanged,
    RiskProfileAssessed,
    EducatorRegistered,
    EducatorUpdated,
    EducatorRegisteredV1,
    EducatorUpdatedV1,
    EducatorErased,
    NetworkCreated,
    NetworkUpdated,
    NetworkClosed,
    MemberJoined,
    MemberLeft,
    CentreDesignated,
    InteractionGroupFormed,
    InteractionGroupChanged,
    ResourceOffered,
    ResourceWithdrawn,
    ResourceRequested,
    ResourceRequestAccepted,
    ResourceRequestDeclined,
    ResourceRequestCancelled,
    ResourceUsed,
    AgreementSigned,
    AgreementAmended,
    AgreementTerminated,
    RegulationIssued,
    RegulationRevised,
    RegulationWithdrawn,
    FileImported,
    RegistryDocumentAttached,
)
"""Every event type the registry publishes, for the catalog."""
