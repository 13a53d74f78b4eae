"""Requests for partners' resources (обмен ресурсами, положение о сетевом взаимодействии, п. 4.3):
a member of a network asks a partner of the same network for its offered resource for some days;
the owner accepts or declines; either side cancels an accepted booking before it starts; the owner
or the requester records its use.

Days of a request and of a use are both included (``starts_on``–``ends_on``), as people book days;
a resource's availability keeps the registry's half-open ``[available_from, available_to)``.

A resource with a limited capacity (``capacity`` set) serves one booking at a time: a request whose
days overlap an accepted booking of it is refused, and so is accepting one. A resource without a
capacity (materials, a programme) may be booked by many at once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from setka_contracts.registry import (
    ResourceKind,
    ResourceRequestAccepted,
    ResourceRequestCancelled,
    ResourceRequestDeclined,
    ResourceRequested,
    ResourceRequestStatus,
    ResourceStatus,
    ResourceUsed,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Membership, Network, Organization, Resource, ResourceRequest, ResourceUse
from .networks import memberships_in
from .paging import Page, fetch_page
from .resources import SOURCE

Status = ResourceRequestStatus


# -- commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestResource:
    resource_id: uuid.UUID
    requester_id: uuid.UUID
    """The organization asking: a member of the network other than the owner."""
    network_id: uuid.UUID
    """The network both organizations are members of, within which the resource is shared."""
    starts_on: date
    ends_on: date
    """The last day of use, included."""
    purpose: str


@dataclass(frozen=True)
class RecordResourceUse:
    request_id: uuid.UUID
    recorded_by_id: uuid.UUID
    """The side recording it: the owner or the requester."""
    used_from: date
    note: str
    used_to: date | None = None
    """The last day of use, included; the first day if not given."""
    figure: float | None = None
    """A number the note explains: how many took part, hours, copies."""


def _now() -> datetime:
    return datetime.now(UTC)


async def _request(session: AsyncSession, ident: uuid.UUID, *, lock: bool = False) -> ResourceRequest:
    query = select(ResourceRequest).where(ResourceRequest.id == lookups.as_uuid(ident, field="requestId"))
    row = (await session.scalars(query.with_for_update() if lock else query)).first()
    if row is None:
        raise DomainError("Такого запроса ресурса нет", code="RESOURCE_REQUEST_NOT_FOUND", field="requestId")
    return row


async def _resource(session: AsyncSession, ident: uuid.UUID) -> Resource:
    """The resource, locked until the transaction ends: two bookings of it are decided one by one."""
    query = select(Resource).where(Resource.id == lookups.as_uuid(ident, field="resourceId"))
    row = (await session.scalars(query.with_for_update())).first()
    if row is None:
        raise DomainError("Такого ресурса нет", code="RESOURCE_NOT_FOUND", field="resourceId")
    return row


def _check_days(resource: Resource, starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise DomainError(
            "Последний день не может быть раньше первого", code="END_BEFORE_START", field="endsOn"
        )
    if resource.available_from is not None and starts_on < resource.available_from:
        raise DomainError(
            f"Ресурс доступен с {day(resource.available_from)}",
            code="RESOURCE_NOT_AVAILABLE",
            field="startsOn",
        )
    if resource.available_to is not None and ends_on >= resource.available_to:
        raise DomainError(
            f"Ресурс доступен до {day(resource.available_to)} (не включая этот день)",
            code="RESOURCE_NOT_AVAILABLE",
            field="endsOn",
        )


async def _check_free(
    session: AsyncSession,
    resource: Resource,
    starts_on: date,
    ends_on: date,
    *,
    field: str,
    other_than: uuid.UUID,
) -> None:
    """A resource of limited capacity has no other accepted booking on any of these days."""
    if resource.capacity is None:
        return
    clash = await session.scalar(
        select(ResourceRequest.starts_on)
        .where(
            ResourceRequest.resource_id == resource.id,
            ResourceRequest.status == Status.accepted.value,
            ResourceRequest.id != other_than,
            ResourceRequest.starts_on <= ends_on,
            ResourceRequest.ends_on >= starts_on,
        )
        .order_by(ResourceRequest.starts_on)
        .limit(1)
    )
    if clash is not None:
        raise DomainError(
            f"Ресурс (вместимость {resource.capacity}) уже занят в некоторые из этих дней"
            f" (бронь с {day(clash)})",
            code="RESOURCE_BOOKED",
            field=field,
        )


async def _member_on(session: AsyncSession, network: Network, organization: Organization, on: date) -> bool:
    return any(
        rules.holds_on(m.joined_on, m.left_on, on)
        for m in await memberships_in(session, network.id, organization.id)
    )


def _common(request: ResourceRequest) -> dict[str, object]:
    return {
        "request_id": request.id,
        "version": request.version,
        "resource_id": request.resource_id,
        "owner_id": request.owner_id,
        "requester_id": request.requester_id,
        "network_id": request.network_id,
    }


async def request_resource(session: AsyncSession, command: RequestResource) -> ResourceRequest:
    resource = await _resource(session, command.resource_id)
    if resource.status != ResourceStatus.offered:
        raise DomainError("Ресурс отозван", code="RESOURCE_WITHDRAWN", field="resourceId")
    requester = await lookups.organization(session, command.requester_id, field="requesterId")
    if requester.id == resource.owner_id:
        raise DomainError(
            "Организация не запрашивает собственный ресурс", code="OWN_RESOURCE", field="requesterId"
        )
    owner = await lookups.organization(session, resource.owner_id, field="resourceId")
    network = await lookups.network(session, command.network_id)
    if network.status != "active":
        raise DomainError("Сеть закрыта", code="NETWORK_CLOSED", field="networkId")
    purpose = rules.check_name(command.purpose, field="purpose", limit=2000)
    _check_days(resource, command.starts_on, command.ends_on)
    for organization, field in ((requester, "requesterId"), (owner, "resourceId")):
        if not await _member_on(session, network, organization, command.starts_on):
            raise DomainError(
                f"{organization.short_name} не входит в сеть «{network.name}» на {day(command.starts_on)}",
                code="NOT_A_MEMBER",
                field=field,
            )
    ident = uuid.uuid4()
    await _check_free(
        session, resource, command.starts_on, command.ends_on, field="startsOn", other_than=ident
    )
    request = ResourceRequest(
        id=ident,
        resource_id=resource.id,
        owner_id=owner.id,
        requester_id=requester.id,
        network_id=network.id,
        starts_on=command.starts_on,
        ends_on=command.ends_on,
        purpose=purpose,
        status=Status.requested.value,
        version=1,
        requested_at=_now(),
    )
    session.add(request)
    await session.flush()
    await outbox.record(
        session,
        ResourceRequested(
            **_common(request),
            resource_kind=ResourceKind(resource.kind),
            starts_on=request.starts_on,
            ends_on=request.ends_on,
            purpose=request.purpose,
            requested_at=request.requested_at,
        ),
        source=SOURCE,
    )
    return request


REQUEST_STATUS_NAMES: dict[str, str] = {
    Status.requested: "запрошен",
    Status.accepted: "принят",
    Status.declined: "отклонён",
    Status.cancelled: "отменён",
}
REQUEST_ACTIONS = {
    "accepted": "принять",
    "declined": "отклонить",
    "cancelled": "отменить",
    "used": "использовать",
}


def _must_be(request: ResourceRequest, *statuses: Status, doing: str) -> None:
    if request.status not in statuses:
        raise DomainError(
            f"Запрос в состоянии «{REQUEST_STATUS_NAMES[request.status]}» нельзя {REQUEST_ACTIONS[doing]}",
            code="RESOURCE_REQUEST_TRANSITION",
            field="requestId",
        )


async def accept_request(session: AsyncSession, request_id: uuid.UUID) -> ResourceRequest:
    request = await _request(session, request_id)
    resource = await _resource(session, request.resource_id)
    request = await _request(session, request_id, lock=True)
    _must_be(request, Status.requested, doing="accepted")
    if resource.status != ResourceStatus.offered:
        raise DomainError("Ресурс отозван", code="RESOURCE_WITHDRAWN", field="requestId")
    await _check_free(
        session, resource, request.starts_on, request.ends_on, field="requestId", other_than=request.id
    )
    request.status = Status.accepted.value
    request.decided_at = _now()
    request.version += 1
    await session.flush()
    await outbox.record(
        session,
        ResourceRequestAccepted(
            **_common(request),
            starts_on=request.starts_on,
            ends_on=request.ends_on,
            accepted_at=request.decided_at,
        ),
        source=SOURCE,
    )
    return request


async def decline_request(session: AsyncSession, request_id: uuid.UUID, reason: str) -> ResourceRequest:
    request = await _request(session, request_id, lock=True)
    _must_be(request, Status.requested, doing="declined")
    request.decline_reason = rules.check_name(reason, field="reason", limit=2000)
    request.status = Status.declined.value
    request.decided_at = _now()
    request.version += 1
    await session.flush()
    await outbox.record(
        session,
        ResourceRequestDeclined(
            **_common(request), reason=request.decline_reason, declined_at=request.decided_at
        ),
        source=SOURCE,
    )
    return request


def _side(request: ResourceRequest, organization_id: uuid.UUID, *, field: str) -> uuid.UUID:
    ident = lookups.as_uuid(organization_id, field=field)
    if ident not in (request.owner_id, request.requester_id):
        raise DomainError(
            "Это может сделать только владелец ресурса или запросившая организация",
            code="NOT_A_SIDE_OF_REQUEST",
            field=field,
        )
    return ident


async def cancel_request(
    session: AsyncSession,
    request_id: uuid.UUID,
    by_organization_id: uuid.UUID,
    reason: str | None = None,
    *,
    today: date | None = None,
) -> ResourceRequest:
    """Either side cancels an accepted booking before its first day; the requester may also take
    back a request not yet answered."""
    request = await _request(session, request_id, lock=True)
    by = _side(request, by_organization_id, field="byOrganizationId")
    _must_be(request, Status.requested, Status.accepted, doing="cancelled")
    if request.status == Status.requested and by != request.requester_id:
        raise DomainError(
            "Владелец отвечает на запрос, принимая или отклоняя его",
            code="OWNER_ANSWERS_REQUEST",
            field="byOrganizationId",
        )
    if request.status == Status.accepted and (today or date.today()) >= request.starts_on:
        raise DomainError(
            f"Бронь началась {day(request.starts_on)}: отменить её можно было только до этого",
            code="BOOKING_STARTED",
            field="requestId",
        )
    request.cancel_reason = rules.optional_text(reason, field="reason", limit=2000)
    request.cancelled_by_id = by
    request.status = Status.cancelled.value
    request.cancelled_at = _now()
    request.version += 1
    await session.flush()
    await outbox.record(
        session,
        ResourceRequestCancelled(
            **_common(request),
            cancelled_by_id=by,
            reason=request.cancel_reason,
            cancelled_at=request.cancelled_at,
        ),
        source=SOURCE,
    )
    return request


async def record_use(
    session: AsyncSession, command: RecordResourceUse, *, today: date | None = None
) -> ResourceUse:
    request = await _request(session, command.request_id, lock=True)
    by = _side(request, command.recorded_by_id, field="recordedById")
    _must_be(request, Status.accepted, doing="used")
    used_to = command.used_to or command.used_from
    if used_to < command.used_from:
        raise DomainError(
            "Последний день не может быть раньше первого", code="END_BEFORE_START", field="usedTo"
        )
    if command.used_from < request.starts_on or used_to > request.ends_on:
        raise DomainError(
            f"Дни использования должны быть в пределах брони: {day(request.starts_on)}"
            f" — {day(request.ends_on)}",
            code="USE_OUTSIDE_BOOKING",
            field="usedFrom" if command.used_from < request.starts_on else "usedTo",
        )
    if command.used_from > (today or date.today()):
        raise DomainError(
            "Использование отмечают, когда оно уже началось", code="USE_NOT_BEGUN", field="usedFrom"
        )
    if command.figure is not None and command.figure < 0:
        raise DomainError("Не может быть отрицательным", code="NEGATIVE", field="figure")
    resource = await session.get(Resource, request.resource_id)
    assert resource is not None  # a request's resource is never deleted
    use = ResourceUse(
        request_id=request.id,
        resource_id=request.resource_id,
        used_from=command.used_from,
        used_to=used_to,
        note=rules.check_name(command.note, field="note", limit=1000),
        figure=command.figure,
        recorded_by_id=by,
        recorded_at=_now(),
    )
    session.add(use)
    request.version += 1
    await session.flush()
    await outbox.record(
        session,
        ResourceUsed(
            **_common(request),
            use_id=use.id,
            resource_kind=ResourceKind(resource.kind),
            used_from=use.used_from,
            used_to=use.used_to,
            note=use.note,
            figure=use.figure,
            recorded_by_id=by,
            recorded_at=use.recorded_at,
        ),
        source=SOURCE,
    )
    return use


# -- reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilter:
    resource_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    """Requests of this organization, as the owner or as the requester."""
    network_id: uuid.UUID | None = None
    status: str | None = None


async def list_requests(
    session: AsyncSession,
    criteria: RequestFilter,
    *,
    within: ColumnElement[bool],
    first: int,
    after: str | None,
) -> Page[ResourceRequest]:
    query = select(ResourceRequest).where(within)
    if criteria.resource_id:
        query = query.where(ResourceRequest.resource_id == criteria.resource_id)
    if criteria.organization_id:
        query = query.where(
            or_(
                ResourceRequest.owner_id == criteria.organization_id,
                ResourceRequest.requester_id == criteria.organization_id,
            )
        )
    if criteria.network_id:
        query = query.where(ResourceRequest.network_id == criteria.network_id)
    if criteria.status:
        query = query.where(ResourceRequest.status == criteria.status)
    order = [ResourceRequest.starts_on, ResourceRequest.id]
    return await fetch_page(session, query, order=order, first=first, after=after)  # type: ignore[list-item]


async def uses_of(
    session: AsyncSession, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ResourceUse]]:
    rows = await session.scalars(
        select(ResourceUse)
        .where(ResourceUse.request_id.in_(request_ids))
        .order_by(ResourceUse.used_from, ResourceUse.id)
    )
    result: dict[uuid.UUID, list[ResourceUse]] = defaultdict(list)
    for row in rows.all():
        result[row.request_id].append(row)
    return result


# -- a network's resources (положение, п. 5.2: анализ и обобщение информации о ресурсах сети) -------


@dataclass(frozen=True)
class ResourceActivity:
    """One member's resource and what the network asked of it in a period."""

    resource: Resource
    requests: int
    accepted: int
    uses: int


@dataclass(frozen=True)
class KindSummary:
    kind: str
    resources: list[ResourceActivity]

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.resources)

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.resources)

    @property
    def uses(self) -> int:
        return sum(r.uses for r in self.resources)


NetworkPeriod = tuple[uuid.UUID, date, date]
"""A network and a period: its first and last day, both included."""


async def network_resources(
    session: AsyncSession, keys: Sequence[NetworkPeriod]
) -> dict[NetworkPeriod, list[KindSummary]]:
    """For each (network, first day, last day): the resources of its members in the period, not
    withdrawn before it (a request may be recorded after its days), by kind, each with the
    requests made of it within the network whose days fall in the period (all, and those
    accepted), and the uses recorded of it within the network on days of the period. Three
    queries for every key at once."""
    networks = {n for n, _, _ in keys}
    start = min(s for _, s, _ in keys)
    last = max(e for _, _, e in keys)
    members = (
        await session.execute(
            select(
                Membership.network_id, Membership.organization_id, Membership.joined_on, Membership.left_on
            ).where(Membership.network_id.in_(networks))
        )
    ).all()
    owners = {m.organization_id for m in members}
    resources = (
        (
            await session.scalars(
                select(Resource).where(Resource.owner_id.in_(owners)).order_by(Resource.title)
            )
        ).all()
        if owners
        else []
    )
    ids = [r.id for r in resources]
    asked = (
        (
            await session.execute(
                select(
                    ResourceRequest.network_id,
                    ResourceRequest.resource_id,
                    ResourceRequest.starts_on,
                    ResourceRequest.ends_on,
                    ResourceRequest.status,
                ).where(
                    ResourceRequest.resource_id.in_(ids),
                    ResourceRequest.network_id.in_(networks),
                    ResourceRequest.starts_on <= last,
                    ResourceRequest.ends_on >= start,
                )
            )
        ).all()
        if ids
        else []
    )
    used = (
        (
            await session.execute(
                select(
                    ResourceRequest.network_id,
                    ResourceUse.resource_id,
                    ResourceUse.used_from,
                    ResourceUse.used_to,
                )
                .join(ResourceRequest, ResourceRequest.id == ResourceUse.request_id)
                .where(
                    ResourceUse.resource_id.in_(ids),
                    ResourceRequest.network_id.in_(networks),
                    and_(ResourceUse.used_from <= last, ResourceUse.used_to >= start),
                )
            )
        ).all()
        if ids
        else []
    )
    result: dict[NetworkPeriod, list[KindSummary]] = {}
    for key in keys:
        network_id, first_day, last_day = key
        end = date.fromordinal(last_day.toordinal() + 1)
        member_ids = {
            m.organization_id
            for m in members
            if m.network_id == network_id and rules.overlaps(m.joined_on, m.left_on, first_day, end)
        }
        by_kind: dict[str, list[ResourceActivity]] = defaultdict(list)
        for resource in resources:
            if resource.owner_id not in member_ids:
                continue
            if resource.withdrawn_at is not None and resource.withdrawn_at.date() < first_day:
                continue
            mine = [
                a
                for a in asked
                if a.network_id == network_id
                and a.resource_id == resource.id
                and a.starts_on <= last_day
                and a.ends_on >= first_day
            ]
            uses = sum(
                1
                for u in used
                if u.network_id == network_id
                and u.resource_id == resource.id
                and u.used_from <= last_day
                and u.used_to >= first_day
            )
            by_kind[resource.kind].append(
                ResourceActivity(
                    resource=resource,
                    requests=len(mine),
                    accepted=sum(1 for a in mine if a.status == Status.accepted.value),
                    uses=uses,
                )
            )
        result[key] = [KindSummary(kind=k.value, resources=by_kind[k.value]) for k in ResourceKind]
    return result
