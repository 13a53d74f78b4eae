"""Registering and finding organizations; each change records its event in the outbox."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from setka_contracts.registry import OrganizationKind, OrganizationRegistered
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import rules
from .models import Organization

SOURCE = "/setka/registry"
MAX_PAGE = 100


@dataclass(frozen=True)
class RegisterOrganization:
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None = None
    inn: str | None = None


async def register_organization(session: AsyncSession, command: RegisterOrganization) -> Organization:
    """Store a new organization and its ``organization.registered`` event in one transaction."""
    try:
        kind = OrganizationKind(command.kind)
    except ValueError:
        allowed = ", ".join(k.value for k in OrganizationKind)
        raise DomainError(f"unknown kind; one of: {allowed}", field="kind") from None
    inn = rules.check_inn(command.inn) if command.inn else None
    if inn and await session.scalar(select(Organization.id).where(Organization.inn == inn)):
        raise DomainError(f"an organization with ИНН {inn} is already registered", field="inn")
    organization = Organization(
        full_name=rules.check_name(command.full_name, field="fullName", limit=500),
        short_name=rules.check_name(command.short_name, field="shortName", limit=200),
        kind=kind.value,
        region_code=rules.check_region_code(command.region_code),
        municipality=command.municipality.strip() if command.municipality else None,
        inn=inn,
    )
    session.add(organization)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        # a concurrent registration of the same ИНН won the race past the check above
        raise DomainError(f"an organization with ИНН {inn} is already registered", field="inn") from None
    await outbox.record(
        session,
        OrganizationRegistered(
            organization_id=organization.id,
            full_name=organization.full_name,
            short_name=organization.short_name,
            kind=kind,
            region_code=organization.region_code,
            municipality=organization.municipality,
            inn=organization.inn,
            registered_at=organization.created_at,
        ),
        source=SOURCE,
    )
    return organization


def encode_cursor(organization: Organization) -> str:
    return base64.urlsafe_b64encode(f"{organization.full_name}\x00{organization.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        name, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("\x00")
        return name, uuid.UUID(ident)
    except ValueError as exc:
        raise DomainError("invalid cursor", field="after") from exc


async def list_organizations(
    session: AsyncSession, *, region_code: str | None, first: int, after: str | None
) -> tuple[list[Organization], bool]:
    """A page of organizations ordered by name; returns the page and whether more follow."""
    limit = max(1, min(first, MAX_PAGE))
    query = select(Organization).where(Organization.archived_at.is_(None))
    if region_code:
        query = query.where(Organization.region_code == region_code)
    if after:
        name, ident = decode_cursor(after)
        query = query.where(tuple_(Organization.full_name, Organization.id) > (name, ident))
    query = query.order_by(Organization.full_name, Organization.id).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], len(rows) > limit


async def organizations_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Organization]:
    rows = (await session.scalars(select(Organization).where(Organization.id.in_(ids)))).all()
    return list(rows)
