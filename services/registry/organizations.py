"""Registering, updating, archiving and finding organizations; each change records its event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from setka_contracts.registry import (
    OrganizationArchived,
    OrganizationKind,
    OrganizationRegistered,
    OrganizationUpdated,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.sql import one_of
from sqlalchemy import Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, networks, reference, resources, rules
from .bulk import insert_while_building
from .models import Membership, Municipality, Organization, OrganizationStatus, Region
from .paging import Page, fetch_page

SOURCE = "/setka/registry"

NOMINATIVE = {"inn": "ИНН", "ogrn": "ОГРН", "school_code": "код школы"}


@dataclass(frozen=True)
class RegisterOrganization:
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None = None
    inn: str | None = None
    municipality_id: uuid.UUID | None = None
    ogrn: str | None = None
    school_code: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class UpdateOrganization:
    """Changed details only: ``None`` leaves a field as it is, ``""`` clears an optional one."""

    organization_id: uuid.UUID
    full_name: str | None = None
    short_name: str | None = None
    kind: str | None = None
    municipality_id: uuid.UUID | None = None
    inn: str | None = None
    ogrn: str | None = None
    school_code: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


async def _check_unique(
    session: AsyncSession,
    organization_id: uuid.UUID | None,
    *,
    inn: str | None,
    ogrn: str | None,
    code: str | None,
) -> None:
    for column, value, field, label in (
        (Organization.inn, inn, "inn", "ИНН"),
        (Organization.ogrn, ogrn, "ogrn", "ОГРН"),
        (Organization.school_code, code, "schoolCode", "кодом школы"),
    ):
        if not value:
            continue
        with session.no_autoflush:  # the changed row must not be written before it is checked
            other = await session.scalar(select(Organization.id).where(column == value))
        if other is not None and other != organization_id:
            raise DomainError(
                f"Организация с {label} {value} уже зарегистрирована", code="IDENTIFIER_TAKEN", field=field
            )


async def _flush_unique(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        # a concurrent registration of the same identifier won the race past the check
        raise DomainError(
            "Организация с тем же ИНН, ОГРН или кодом школы уже зарегистрирована", code="IDENTIFIER_TAKEN"
        ) from None


def _refresh_search(organization: Organization) -> None:
    organization.search_text = rules.search_key(
        organization.full_name,
        organization.short_name,
        organization.inn,
        organization.ogrn,
        organization.school_code,
    )


def _identifiers(
    command: RegisterOrganization,
) -> tuple[OrganizationKind, str, str | None, str | None, str | None]:
    """The registration's kind, region and identifiers, checked (no I/O)."""
    kind = rules.check_choice(command.kind, OrganizationKind, field="kind")
    region_code = rules.check_region_code(command.region_code)
    inn = rules.check_inn(command.inn) if command.inn else None
    ogrn = rules.check_ogrn(command.ogrn) if command.ogrn else None
    code = rules.check_school_code(command.school_code) if command.school_code else None
    return kind, region_code, inn, ogrn, code


def _new_organization(
    command: RegisterOrganization,
    identifiers: tuple[OrganizationKind, str, str | None, str | None, str | None],
    municipality: Municipality | None,
) -> dict[str, Any]:
    """The row a registration stores, every rule of its details applied (no I/O)."""
    kind, region_code, inn, ogrn, code = identifiers
    municipality_name = (
        municipality.name
        if municipality
        else rules.optional_text(command.municipality, field="municipality", limit=200)
    )
    full_name = rules.check_name(command.full_name, field="fullName", limit=500)
    short_name = rules.check_name(command.short_name, field="shortName", limit=200)
    return {
        "id": uuid.uuid4(),
        "full_name": full_name,
        "short_name": short_name,
        "kind": kind.value,
        "region_code": region_code,
        "municipality": municipality_name,
        "municipality_id": municipality.id if municipality else None,
        "inn": inn,
        "ogrn": ogrn,
        "school_code": code,
        "address": rules.optional_text(command.address, field="address", limit=500),
        "website": rules.check_link(command.website, field="website"),
        "email": rules.check_email(command.email),
        "phone": rules.check_phone(command.phone),
        "created_at": datetime.now(UTC),
        "archived_at": None,
        "updated_at": None,
        "search_text": rules.search_key(full_name, short_name, inn, ogrn, code),
    }


async def _region_names(session: AsyncSession, codes: set[str]) -> dict[str, str]:
    """The subjects' names in the reference data, by code: what downstream titles say."""
    rows = await session.execute(
        select(Region.code, Region.name).where(one_of(session, Region.code, sorted(codes)))
    )
    return {code: name for code, name in rows.all()}


def _registered(organization: Any, region_names: dict[str, str]) -> OrganizationRegistered:
    """The event of a registered organization (a row's values or the stored organization)."""
    value = organization.get if isinstance(organization, dict) else lambda name: getattr(organization, name)
    return OrganizationRegistered(
        organization_id=value("id"),
        full_name=value("full_name"),
        short_name=value("short_name"),
        kind=OrganizationKind(value("kind")),
        region_code=value("region_code"),
        municipality=value("municipality"),
        inn=value("inn"),
        registered_at=value("created_at"),
        municipality_id=value("municipality_id"),
        ogrn=value("ogrn"),
        school_code=value("school_code"),
        address=value("address"),
        website=value("website"),
        email=value("email"),
        region_name=region_names.get(value("region_code")),
    )


async def register_organization(session: AsyncSession, command: RegisterOrganization) -> Organization:
    """Store a new organization and its ``organization.registered`` event in one transaction."""
    identifiers = _identifiers(command)
    _, region_code, inn, ogrn, code = identifiers
    await _check_unique(session, None, inn=inn, ogrn=ogrn, code=code)
    municipality = await reference.find_municipality(
        session,
        region_code=region_code,
        name=command.municipality,
        municipality_id=command.municipality_id,
    )
    organization = Organization(**_new_organization(command, identifiers, municipality))
    session.add(organization)
    await _flush_unique(session)
    names = await _region_names(session, {organization.region_code})
    await outbox.record(session, _registered(organization, names), source=SOURCE)
    return organization


async def register_organizations(
    session: AsyncSession, commands: Sequence[RegisterOrganization], *, unheld: bool = False
) -> list[dict[str, Any]]:
    """Register many organizations with the rules of :func:`register_organization`, reading and
    writing in bulk (an import's chunk). The first command a rule refuses raises its
    :class:`DomainError` and nothing is written: the caller then registers them one by one.
    ``unheld``: the caller has read in this transaction that no organization, archived or not,
    holds any of the commands' ИНН and school codes (they are not read again; the unique indexes
    still stand behind it)."""
    if not commands:
        return []
    checked = [_identifiers(command) for command in commands]
    wanted = {
        "inn": {ids[2] for ids in checked if ids[2]},
        "ogrn": {ids[3] for ids in checked if ids[3]},
        "school_code": {ids[4] for ids in checked if ids[4]},
    }
    labels = {"inn": ("ИНН", "inn"), "ogrn": ("ОГРН", "ogrn"), "school_code": ("кодом школы", "schoolCode")}
    for name, values in wanted.items():
        column = getattr(Organization, name)
        if values and not (unheld and name != "ogrn"):
            taken = await session.scalar(
                select(column).where(one_of(session, column, sorted(values))).limit(1)
            )
            if taken is not None:
                label, field = labels[name]
                raise DomainError(
                    f"Организация с {label} {taken} уже зарегистрирована",
                    code="IDENTIFIER_TAKEN",
                    field=field,
                )
    for position, name in ((2, "inn"), (3, "ogrn"), (4, "school_code")):
        values = [ids[position] for ids in checked if ids[position]]
        if len(values) != len(set(values)):
            label, field = labels[name]
            raise DomainError(
                f"У двух организаций одной загрузки совпадает {NOMINATIVE[name]}",
                code="DUPLICATE_IN_BATCH",
                field=field,
            )
    municipalities = await reference.municipalities_named(
        session, {(ids[1], command.municipality) for command, ids in zip(commands, checked, strict=True)}
    )
    organizations = []
    for command, ids in zip(commands, checked, strict=True):
        if command.municipality_id is not None:
            municipality = await reference.find_municipality(
                session, region_code=ids[1], name=None, municipality_id=command.municipality_id
            )
        else:
            municipality = municipalities.get(reference.municipality_key(ids[1], command.municipality or ""))
        organizations.append(_new_organization(command, ids, municipality))
    names = await _region_names(session, {o["region_code"] for o in organizations})
    events = await insert_while_building(
        session, [(Organization.__table__, organizations)], (_registered(o, names) for o in organizations)
    )
    await outbox.record_many(session, events, source=SOURCE)
    return organizations


def _changed_text(value: str | None, current: str | None) -> tuple[bool, str | None]:
    if value is None:
        return False, current
    return True, value.strip() or None


async def update_organization(session: AsyncSession, command: UpdateOrganization) -> Organization:
    """Change an active organization's details; records ``organization.updated`` if anything changed."""
    organization = await lookups.organization(session, command.organization_id, field="id")
    before = _details(organization)
    if command.full_name is not None:
        organization.full_name = rules.check_name(command.full_name, field="fullName", limit=500)
    if command.short_name is not None:
        organization.short_name = rules.check_name(command.short_name, field="shortName", limit=200)
    if command.kind is not None:
        organization.kind = rules.check_choice(command.kind, OrganizationKind, field="kind").value
    if command.municipality_id is not None:
        municipality = await reference.find_municipality(
            session, region_code=organization.region_code, name=None, municipality_id=command.municipality_id
        )
        assert municipality is not None
        organization.municipality_id = municipality.id
        organization.municipality = municipality.name
    changed, inn = _changed_text(command.inn, organization.inn)
    if changed:
        organization.inn = rules.check_inn(inn) if inn else None
    changed, ogrn = _changed_text(command.ogrn, organization.ogrn)
    if changed:
        organization.ogrn = rules.check_ogrn(ogrn) if ogrn else None
    changed, code = _changed_text(command.school_code, organization.school_code)
    if changed:
        organization.school_code = rules.check_school_code(code) if code else None
    if command.address is not None:
        organization.address = rules.optional_text(command.address, field="address", limit=500)
    if command.website is not None:
        organization.website = rules.check_link(command.website, field="website")
    if command.email is not None:
        organization.email = rules.check_email(command.email)
    if command.phone is not None:
        organization.phone = rules.check_phone(command.phone)
    if _details(organization) == before:
        return organization
    await _check_unique(
        session, organization.id, inn=organization.inn, ogrn=organization.ogrn, code=organization.school_code
    )
    organization.updated_at = datetime.now(UTC)
    _refresh_search(organization)
    await _flush_unique(session)
    await outbox.record(
        session,
        OrganizationUpdated(
            organization_id=organization.id,
            full_name=organization.full_name,
            short_name=organization.short_name,
            kind=OrganizationKind(organization.kind),
            region_code=organization.region_code,
            municipality=organization.municipality,
            municipality_id=organization.municipality_id,
            inn=organization.inn,
            ogrn=organization.ogrn,
            school_code=organization.school_code,
            address=organization.address,
            website=organization.website,
            email=organization.email,
            updated_at=organization.updated_at,
            region_name=(await _region_names(session, {organization.region_code})).get(
                organization.region_code
            ),
        ),
        source=SOURCE,
    )
    return organization


def _details(organization: Organization) -> tuple[object, ...]:
    return (
        organization.full_name,
        organization.short_name,
        organization.kind,
        organization.municipality_id,
        organization.inn,
        organization.ogrn,
        organization.school_code,
        organization.address,
        organization.website,
        organization.email,
        organization.phone,
    )


async def archive_organization(
    session: AsyncSession, organization_id: uuid.UUID, *, reason: str | None = None, on: date | None = None
) -> Organization:
    """Archive an organization: it leaves its networks and withdraws its resources that day.

    The row stays (history refers to it); its events carry ИНН, ОГРН and the code.
    """
    organization = await lookups.organization(session, organization_id, field="id")
    day = on or date.today()
    await networks.end_memberships_of(session, organization, day)
    await resources.withdraw_all_of(session, organization)
    organization.archived_at = datetime.now(UTC)
    await session.flush()
    await outbox.record(
        session,
        OrganizationArchived(
            organization_id=organization.id,
            inn=organization.inn,
            ogrn=organization.ogrn,
            school_code=organization.school_code,
            region_code=organization.region_code,
            reason=rules.optional_text(reason, field="reason", limit=500),
            archived_at=organization.archived_at,
        ),
        source=SOURCE,
    )
    return organization


@dataclass(frozen=True)
class OrganizationFilter:
    region_code: str | None = None
    municipality_id: uuid.UUID | None = None
    kind: str | None = None
    status: str | None = None
    network_id: uuid.UUID | None = None
    role: str | None = None
    on: date | None = None
    """The date ``status``, ``network_id`` and ``role`` refer to; today if not given."""
    search: str | None = None
    """Words that must all occur in the names, ИНН, ОГРН or code (case and «ё» do not matter)."""
    include_archived: bool = False


def filtered(query: Select[tuple[Organization]], criteria: OrganizationFilter) -> Select[tuple[Organization]]:
    on = criteria.on or date.today()
    if not criteria.include_archived:
        query = query.where(Organization.archived_at.is_(None))
    if criteria.region_code:
        query = query.where(Organization.region_code == criteria.region_code)
    if criteria.municipality_id:
        query = query.where(Organization.municipality_id == criteria.municipality_id)
    if criteria.kind:
        query = query.where(Organization.kind == criteria.kind)
    if criteria.status:
        query = query.where(
            exists().where(
                OrganizationStatus.organization_id == Organization.id,
                OrganizationStatus.status == criteria.status,
                OrganizationStatus.entered_on <= on,
                (OrganizationStatus.left_on.is_(None)) | (OrganizationStatus.left_on > on),
            )
        )
    if criteria.network_id or criteria.role:
        membership = [
            Membership.organization_id == Organization.id,
            Membership.joined_on <= on,
            (Membership.left_on.is_(None)) | (Membership.left_on > on),
        ]
        if criteria.network_id:
            membership.append(Membership.network_id == criteria.network_id)
        if criteria.role:
            membership.append(Membership.role == criteria.role)
        query = query.where(exists().where(*membership))
    query = rules.matching(query, Organization.search_text, criteria.search)
    return query


async def list_organizations(
    session: AsyncSession, criteria: OrganizationFilter, *, first: int, after: str | None
) -> Page[Organization]:
    """A page of organizations ordered by full name."""
    return await fetch_page(
        session,
        filtered(select(Organization), criteria),
        order=[Organization.full_name, Organization.id],
        first=first,
        after=after,
    )


async def organizations_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Organization]:
    rows = (await session.scalars(select(Organization).where(Organization.id.in_(ids)))).all()
    return list(rows)
