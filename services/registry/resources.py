"""Resources organizations share with a network: staff, methodological, material."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from setka_contracts.registry import ResourceKind, ResourceOffered, ResourceStatus, ResourceWithdrawn
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Organization, Resource, ResourceSubject
from .paging import Page, fetch_page

SOURCE = "/setka/registry"


@dataclass(frozen=True)
class OfferResource:
    owner_id: uuid.UUID
    kind: str
    title: str
    description: str | None = None
    subjects: list[str] = field(default_factory=list)
    capacity: int | None = None
    """How many people (or groups) it can serve at once, if it is limited."""
    available_from: date | None = None
    available_to: date | None = None
    """The first day it is no longer available."""


async def offer_resource(session: AsyncSession, command: OfferResource) -> Resource:
    owner = await lookups.organization(session, command.owner_id, field="ownerId")
    kind = rules.check_choice(command.kind, ResourceKind, field="kind")
    title = rules.check_name(command.title, field="title", limit=500)
    description = rules.optional_text(command.description, field="description", limit=4000)
    subjects = rules.normalize_subjects(command.subjects)
    rules.check_positive(command.capacity, field="capacity")
    rules.check_period(command.available_from, command.available_to, field="availableTo")
    resource = Resource(
        kind=kind.value,
        owner_id=owner.id,
        title=title,
        description=description,
        capacity=command.capacity,
        available_from=command.available_from,
        available_to=command.available_to,
        status=ResourceStatus.offered.value,
        search_text=rules.search_key(title, *subjects)[:600],
    )
    session.add(resource)
    await session.flush()
    session.add_all(ResourceSubject(resource_id=resource.id, subject=s) for s in subjects)
    await session.flush()
    await outbox.record(
        session,
        ResourceOffered(
            resource_id=resource.id,
            kind=kind,
            owner_id=owner.id,
            owner_inn=owner.inn,
            title=resource.title,
            description=resource.description,
            subjects=subjects,
            capacity=resource.capacity,
            available_from=resource.available_from,
            available_to=resource.available_to,
        ),
        source=SOURCE,
    )
    return resource


async def _withdraw(session: AsyncSession, resource: Resource, owner: Organization) -> None:
    resource.status = ResourceStatus.withdrawn.value
    resource.withdrawn_at = datetime.now(UTC)
    await session.flush()
    await outbox.record(
        session,
        ResourceWithdrawn(
            resource_id=resource.id,
            owner_id=owner.id,
            owner_inn=owner.inn,
            title=resource.title,
            withdrawn_at=resource.withdrawn_at,
        ),
        source=SOURCE,
    )


async def withdraw_resource(session: AsyncSession, resource_id: uuid.UUID) -> Resource:
    resource = await session.get(Resource, lookups.as_uuid(resource_id, field="resourceId"))
    if resource is None:
        raise DomainError("Такого ресурса нет", code="RESOURCE_NOT_FOUND", field="resourceId")
    if resource.status == ResourceStatus.withdrawn:
        raise DomainError("Ресурс уже отозван", code="RESOURCE_WITHDRAWN", field="resourceId")
    owner = await lookups.organization(session, resource.owner_id, active=False)
    await _withdraw(session, resource, owner)
    return resource


async def withdraw_all_of(session: AsyncSession, owner: Organization) -> None:
    """An archived organization's offered resources are withdrawn with it."""
    rows = await session.scalars(
        select(Resource).where(Resource.owner_id == owner.id, Resource.status == ResourceStatus.offered.value)
    )
    for resource in list(rows.all()):
        await _withdraw(session, resource, owner)


@dataclass(frozen=True)
class ResourceFilter:
    kind: str | None = None
    subject: str | None = None
    owner_id: uuid.UUID | None = None
    region_code: str | None = None
    status: str | None = "offered"
    available_on: date | None = None
    search: str | None = None


async def list_resources(
    session: AsyncSession, criteria: ResourceFilter, *, first: int, after: str | None
) -> Page[Resource]:
    query = select(Resource)
    if criteria.kind:
        query = query.where(Resource.kind == criteria.kind)
    if criteria.status:
        query = query.where(Resource.status == criteria.status)
    if criteria.owner_id:
        query = query.where(Resource.owner_id == criteria.owner_id)
    if criteria.region_code:
        query = query.where(
            exists().where(
                Organization.id == Resource.owner_id, Organization.region_code == criteria.region_code
            )
        )
    if criteria.subject:
        subjects = rules.normalize_subjects([criteria.subject])
        query = query.where(
            exists().where(ResourceSubject.resource_id == Resource.id, ResourceSubject.subject.in_(subjects))
        )
    if criteria.available_on:
        on = criteria.available_on
        query = query.where(
            (Resource.available_from.is_(None)) | (Resource.available_from <= on),
            (Resource.available_to.is_(None)) | (Resource.available_to > on),
        )
    query = rules.matching(query, Resource.search_text, criteria.search)
    return await fetch_page(session, query, order=[Resource.title, Resource.id], first=first, after=after)


async def subjects_of(session: AsyncSession, resource_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(ResourceSubject.resource_id, ResourceSubject.subject)
        .where(ResourceSubject.resource_id.in_(resource_ids))
        .order_by(ResourceSubject.subject)
    )
    result: dict[uuid.UUID, list[str]] = defaultdict(list)
    for resource_id, subject in rows.all():
        result[resource_id].append(subject)
    return result


async def resources_by_owner(
    session: AsyncSession, owner_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Resource]]:
    rows = await session.scalars(
        select(Resource).where(Resource.owner_id.in_(owner_ids)).order_by(Resource.title, Resource.id)
    )
    result: dict[uuid.UUID, list[Resource]] = defaultdict(list)
    for row in rows.all():
        result[row.owner_id].append(row)
    return result
