"""The registry's tables: who takes part in network interaction.

Dated periods (statuses, memberships, employments) are half-open: ``[from, to)``, where the
end date is the first day the fact no longer holds and ``None`` means it still holds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from setka_runtime.documents import DocumentFields
from setka_runtime.tables import no_items
from sqlalchemy import JSON, CheckConstraint, DateTime, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class RegistryModel(SQLModel, registry=registry()):
    """Base of the registry's tables; their metadata is the registry's alone."""


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> uuid.UUID:
    return uuid.uuid4()


class Region(RegistryModel, table=True):
    """A subject of the Russian Federation (субъект РФ): reference data."""

    code: str = Field(primary_key=True, max_length=3)
    name: str = Field(max_length=200)


class Municipality(RegistryModel, table=True):
    """A municipality (муниципальное образование, район): reference data."""

    __table_args__ = (UniqueConstraint("region_code", "name", name="uq_municipality_region_name"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    region_code: str = Field(foreign_key="region.code", max_length=3, index=True)
    name: str = Field(max_length=200)
    oktmo: str | None = Field(default=None, max_length=11)


class Organization(RegistryModel, table=True):
    """An educational organization (образовательная организация); archived, never deleted."""

    __table_args__ = (
        Index("uq_organization_ogrn", "ogrn", unique=True),
        Index("uq_organization_school_code", "school_code", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    full_name: str = Field(max_length=500, index=True)
    short_name: str = Field(max_length=200)
    kind: str = Field(max_length=40, index=True)
    region_code: str = Field(max_length=3, index=True)
    municipality: str | None = Field(default=None, max_length=200)
    inn: str | None = Field(default=None, max_length=10, unique=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    archived_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id", index=True)
    ogrn: str | None = Field(default=None, max_length=13)
    school_code: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=500)
    website: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    search_text: str = Field(default="", max_length=1000)
    """Names and identifiers case-folded in Python: one search for PostgreSQL and SQLite alike."""
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class OrganizationStatus(RegistryModel, table=True):
    """A period during which a school held a status (in the ШНОР/ШФНСУ list, or stable)."""

    __tablename__ = "organization_status"
    __table_args__ = (Index("ix_organization_status_lookup", "organization_id", "status", "entered_on"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id")
    status: str = Field(max_length=40)
    entered_on: date
    left_on: date | None = None
    basis: str | None = Field(default=None, max_length=300)
    recorded_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class RiskProfile(RegistryModel, table=True):
    """A school's risk profile (рисковый профиль) as assessed on one date."""

    __tablename__ = "risk_profile"
    __table_args__ = (UniqueConstraint("organization_id", "assessed_on", name="uq_risk_profile_date"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    assessed_on: date
    recorded_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class RiskFactorLevel(RegistryModel, table=True):
    """The level of one risk factor in one profile; rows, so factors can be filtered on."""

    __tablename__ = "risk_factor_level"
    __table_args__ = (Index("ix_risk_factor_level_factor", "factor", "level"),)

    profile_id: uuid.UUID = Field(foreign_key="risk_profile.id", primary_key=True, ondelete="CASCADE")
    factor: str = Field(max_length=80, primary_key=True)
    level: str = Field(max_length=10)


class Educator(RegistryModel, table=True):
    """A pedagogical worker: only what network interaction needs (no birth date; of the СНИЛС only
    its keyed hash, by which facts of regional systems find the educator)."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    last_name: str = Field(max_length=100, index=True)
    first_name: str = Field(max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    qualification_category: str = Field(default="none", max_length=20)
    subjects: list[str] = Field(default_factory=no_items, sa_type=JSON)
    snils_hash: str | None = Field(default=None, max_length=64, index=True)
    search_text: str = Field(default="", max_length=400)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    erased_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When the personal data was erased (152-ФЗ): the row stays, without a name, for facts to join."""
    erasure_cause: str | None = Field(default=None, max_length=20)
    erasure_reason: str | None = Field(default=None, max_length=500)


class Employment(RegistryModel, table=True):
    """An educator's post at an organization; one person may hold posts at several."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    educator_id: uuid.UUID = Field(foreign_key="educator.id", index=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    position: str = Field(max_length=200)
    started_on: date | None = None
    ended_on: date | None = None


class Network(RegistryModel, table=True):
    """A network of interaction (сеть) under its governing body (высший орган управления)."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    name: str = Field(max_length=500, index=True)
    level: str = Field(max_length=20, index=True)
    region_code: str = Field(max_length=3, index=True)
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id")
    governing_body_id: uuid.UUID = Field(foreign_key="organization.id")
    coordinator_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id")
    started_on: date
    ended_on: date | None = None
    status: str = Field(default="active", max_length=20)
    search_text: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """1 when created, one more with each correction (``network.updated``)."""
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Membership(RegistryModel, table=True):
    """An organization's participation in a network in one role (участник сети)."""

    __table_args__ = (Index("ix_membership_network_organization", "network_id", "organization_id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    network_id: uuid.UUID = Field(foreign_key="network.id")
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    role: str = Field(max_length=40)
    joined_on: date
    left_on: date | None = None


class Agreement(RegistryModel, table=True):
    """A network interaction agreement (договор о сетевом взаимодействии)."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    number: str = Field(max_length=100)
    signed_on: date
    subject: str = Field(max_length=2000)
    valid_from: date
    valid_to: date | None = None
    status: str = Field(default="signed", max_length=20)
    terminated_on: date | None = None
    network_id: uuid.UUID | None = Field(default=None, foreign_key="network.id", index=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """1 when signed, one more with each amendment and with its termination."""


class AgreementAmendment(RegistryModel, table=True):
    """An amendment to an agreement (дополнительное соглашение): what it changed, kept for good."""

    __tablename__ = "agreement_amendment"
    __table_args__ = (UniqueConstraint("agreement_id", "version", name="uq_agreement_amendment_version"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    version: int
    """The agreement's version this amendment made (2 for the first)."""
    number: str = Field(max_length=100)
    amended_on: date
    basis: str | None = Field(default=None, max_length=1000)
    added_party_ids: list[str] = Field(default_factory=no_items, sa_type=JSON)
    removed_party_ids: list[str] = Field(default_factory=no_items, sa_type=JSON)
    subject_before: str | None = Field(default=None, max_length=2000)
    """The subject it replaced, if it changed it."""
    valid_to_before: date | None = None
    valid_to_after: date | None = None
    changes_valid_to: bool = Field(default=False)
    """Whether it changed the end date (``valid_to_after`` None: open-ended from then)."""
    recorded_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class AgreementParty(RegistryModel, table=True):
    __tablename__ = "agreement_party"

    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", primary_key=True, ondelete="CASCADE")
    organization_id: uuid.UUID = Field(foreign_key="organization.id", primary_key=True, index=True)


class Regulation(RegistryModel, table=True):
    """A regulating document (положение, приказ) of a network or an authority."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(max_length=30)
    number: str = Field(max_length=100)
    issued_on: date
    issuer_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    title: str = Field(max_length=1000)
    link: str | None = Field(default=None, max_length=1000)
    network_id: uuid.UUID | None = Field(default=None, foreign_key="network.id", index=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    status: str = Field(default="in_force", max_length=20, sa_column_kwargs={"server_default": "in_force"})
    edition: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    first_edition_id: uuid.UUID | None = Field(default=None, index=True)
    """The document's first edition (this one's own id for a first edition)."""
    supersedes_id: uuid.UUID | None = None
    """The edition this one superseded."""
    superseded_by_id: uuid.UUID | None = None
    """The edition that superseded this one (then ``status`` is superseded)."""
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = Field(default=None, max_length=1000)


class Resource(RegistryModel, table=True):
    """A resource an organization shares with the network: staff, methodological or material."""

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    owner_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    title: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    capacity: int | None = None
    available_from: date | None = None
    available_to: date | None = None
    status: str = Field(default="offered", max_length=20)
    search_text: str = Field(default="", max_length=600)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    withdrawn_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ResourceSubject(RegistryModel, table=True):
    __tablename__ = "resource_subject"

    resource_id: uuid.UUID = Field(foreign_key="resource.id", primary_key=True, ondelete="CASCADE")
    subject: str = Field(max_length=100, primary_key=True, index=True)


class ResourceRequest(RegistryModel, table=True):
    """A member's request for a partner's resource for some days (обмен ресурсами в сети):
    ``starts_on``–``ends_on`` both included, as people book days. ``version`` counts its changes
    (1 when requested), carried by each of its events."""

    __tablename__ = "resource_request"
    __table_args__ = (
        Index("ix_resource_request_booking", "resource_id", "status", "starts_on"),
        CheckConstraint("ends_on >= starts_on", name="ck_resource_request_days"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    resource_id: uuid.UUID = Field(foreign_key="resource.id")
    owner_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    requester_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    network_id: uuid.UUID = Field(foreign_key="network.id", index=True)
    starts_on: date
    ends_on: date
    purpose: str = Field(max_length=2000)
    status: str = Field(default="requested", max_length=20)
    version: int = 1
    requested_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    decline_reason: str | None = Field(default=None, max_length=2000)
    cancelled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    cancelled_by_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id")
    cancel_reason: str | None = Field(default=None, max_length=2000)


class ResourceUse(RegistryModel, table=True):
    """A use of a resource under an accepted request: its days (both included), a short note and
    a figure the note explains."""

    __tablename__ = "resource_use"
    __table_args__ = (CheckConstraint("used_to >= used_from", name="ck_resource_use_days"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="resource_request.id", index=True)
    resource_id: uuid.UUID = Field(foreign_key="resource.id", index=True)
    used_from: date
    used_to: date
    note: str = Field(max_length=1000)
    figure: float | None = None
    recorded_by_id: uuid.UUID = Field(foreign_key="organization.id")
    recorded_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class InteractionGroup(RegistryModel, table=True):
    """A group of interaction (группа взаимодействия, районное методическое объединение)."""

    __tablename__ = "interaction_group"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    network_id: uuid.UUID = Field(foreign_key="network.id", index=True)
    name: str = Field(max_length=300)
    purpose: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class InteractionGroupMember(RegistryModel, table=True):
    """One member of a group: an educator or an organization, never both."""

    __tablename__ = "interaction_group_member"
    __table_args__ = (
        UniqueConstraint("group_id", "educator_id", name="uq_group_educator"),
        UniqueConstraint("group_id", "organization_id", name="uq_group_organization"),
        CheckConstraint(
            "(educator_id IS NULL) <> (organization_id IS NULL)", name="ck_group_member_one_kind"
        ),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    group_id: uuid.UUID = Field(foreign_key="interaction_group.id", index=True, ondelete="CASCADE")
    educator_id: uuid.UUID | None = Field(default=None, foreign_key="educator.id")
    organization_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id")


metadata = RegistryModel.metadata


class Document(DocumentFields, RegistryModel, table=True):
    """A file attached to an agreement, one of its amendments, or an edition of a regulating
    document (its bytes are in the document store, :mod:`setka_runtime.documents`)."""
