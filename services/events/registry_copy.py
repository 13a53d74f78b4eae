"""Keeps the local copy of the registry from its events (natural upserts by id).

Only what the events service's rules need: organizations (with ИНН, ОГРН and the federal school
code, to resolve inbound facts), educators with the keyed hash of their СНИЛС (never the number),
networks, memberships with their dates, educators and where they work — no personal data — and
the network of each interaction group (a plan item carried out by a group is the network's). The
frequent events (organizations, memberships, educators) are applied a run at a time: the last
state of each id in the run is written with one statement.
"""

from __future__ import annotations

from typing import Any

from setka_contracts import CloudEvent
from setka_contracts.registry import (
    EducatorRegistered,
    EducatorUpdated,
    InteractionGroupChanged,
    InteractionGroupFormed,
    MemberJoined,
    MemberLeft,
    NetworkClosed,
    NetworkCreated,
    NetworkUpdated,
    OrganizationArchived,
    OrganizationRegistered,
    OrganizationUpdated,
)
from setka_runtime.consumer import Item, batch, one_at_a_time
from setka_runtime.sql import dialect_insert, upsert
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    KnownEducator,
    KnownEmployment,
    KnownInteractionGroup,
    KnownMembership,
    KnownNetwork,
    KnownOrganization,
)


async def organization_archived(session: AsyncSession, data: OrganizationArchived, event: CloudEvent) -> None:
    await session.execute(
        update(KnownOrganization)
        .where(KnownOrganization.id == data.organization_id)
        .values(archived_at=data.archived_at, updated_at=event.time)
    )


NETWORK_STATE = (
    "name",
    "level",
    "region_code",
    "municipality_id",
    "started_on",
    "ended_on",
    "updated_at",
    "version",
    "coordinator_id",
)


async def network_created(
    session: AsyncSession, data: NetworkCreated | NetworkUpdated, event: CloudEvent
) -> None:
    """The network's state at its version. The copy keeps the latest version it has: a creation or
    a correction sent again, or late, changes nothing (a renamed network stays renamed)."""
    table = KnownNetwork.__table__
    statement = dialect_insert(session, table).values(
        id=data.network_id,
        name=data.name,
        level=data.level.value,
        region_code=data.region_code,
        municipality_id=data.municipality_id,
        started_on=data.started_on,
        ended_on=data.ended_on,
        updated_at=event.time,
        version=data.version,
        coordinator_id=data.coordinator_id,
    )
    kept, given = table.c.version, statement.excluded.version
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={name: statement.excluded[name] for name in NETWORK_STATE},
            where=kept < given if isinstance(data, NetworkUpdated) else kept <= given,
        )
    )


async def network_closed(session: AsyncSession, data: NetworkClosed, event: CloudEvent) -> None:
    await session.execute(
        update(KnownNetwork)
        .where(KnownNetwork.id == data.network_id)
        .values(
            ended_on=data.ended_on,
            updated_at=event.time,
            version=data.version if data.version is not None else KnownNetwork.version,
        )
    )
    await session.execute(
        update(KnownMembership)
        .where(KnownMembership.network_id == data.network_id, KnownMembership.left_on.is_(None))
        .values(left_on=data.ended_on, updated_at=event.time)
    )


async def interaction_group_changed(
    session: AsyncSession, data: InteractionGroupFormed | InteractionGroupChanged, event: CloudEvent
) -> None:
    """A group and its network (formed, or its members changed: the network is the same)."""
    await session.execute(
        upsert(
            session,
            KnownInteractionGroup.__table__,
            index=["id"],
            values={"id": data.group_id, "network_id": data.network_id, "updated_at": event.time},
        )
    )


async def _upsert_many(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert or replace rows by id: one compiled statement for the whole run."""
    if not rows:
        return
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={name: statement.excluded[name] for name in rows[0] if name != "id"}
    )
    await session.execute(statement, rows)


def _last_by(items: list[Item], key: Any) -> list[Item]:
    """The last item of each id, in order of first appearance: a run's later events win."""
    last: dict[Any, Item] = {}
    for item in items:
        last[key(item.data)] = item
    return list(last.values())


@batch
async def organizations_registered(session: AsyncSession, items: list[Item]) -> None:
    await _upsert_many(
        session,
        KnownOrganization.__table__,
        [
            {
                "id": item.data.organization_id,
                "short_name": item.data.short_name,
                "kind": item.data.kind.value,
                "region_code": item.data.region_code,
                "municipality": item.data.municipality,
                "municipality_id": item.data.municipality_id,
                "inn": item.data.inn,
                "ogrn": item.data.ogrn,
                "school_code": item.data.school_code,
                "email": item.data.email,
                "updated_at": item.event.time,
            }
            for item in _last_by(items, lambda data: data.organization_id)
        ],
    )


@batch
async def members_joined(session: AsyncSession, items: list[Item]) -> None:
    await _upsert_many(
        session,
        KnownMembership.__table__,
        [
            {
                "id": item.data.membership_id,
                "network_id": item.data.network_id,
                "organization_id": item.data.organization_id,
                "role": item.data.role.value,
                "joined_on": item.data.joined_on,
                "left_on": item.data.left_on if isinstance(item.data, MemberLeft) else None,
                "updated_at": item.event.time,
            }
            for item in _last_by(items, lambda data: data.membership_id)
        ],
    )


@batch
async def educators_registered(session: AsyncSession, items: list[Item]) -> None:
    """Each educator's employments are the whole new state: replace the ones we had."""
    last = _last_by(items, lambda data: data.educator_id)
    latest = [item.data for item in last]
    await _upsert_many(
        session,
        KnownEducator.__table__,
        [
            {
                "id": item.data.educator_id,
                "subjects": list(item.data.subjects),
                "snils_hash": item.data.snils_hash,
                "updated_at": item.event.time,
            }
            for item in last
        ],
    )
    ids = [data.educator_id for data in latest]
    for start in range(0, len(ids), 1000):
        await session.execute(
            delete(KnownEmployment).where(KnownEmployment.educator_id.in_(ids[start : start + 1000]))
        )
    await _upsert_many(
        session,
        KnownEmployment.__table__,
        [
            {
                "id": employment.employment_id,
                "educator_id": data.educator_id,
                "organization_id": employment.organization_id,
                "started_on": employment.started_on,
                "ended_on": employment.ended_on,
            }
            for data in latest
            for employment in data.employments
        ],
    )


organization_registered = one_at_a_time(organizations_registered)
member_joined = one_at_a_time(members_joined)
educator_registered = one_at_a_time(educators_registered)

HANDLERS: dict[Any, Any] = {
    OrganizationRegistered: organizations_registered,
    OrganizationUpdated: organizations_registered,
    OrganizationArchived: organization_archived,
    NetworkCreated: network_created,
    NetworkUpdated: network_created,
    NetworkClosed: network_closed,
    MemberJoined: members_joined,
    MemberLeft: members_joined,
    EducatorRegistered: educators_registered,
    EducatorUpdated: educators_registered,
    InteractionGroupFormed: interaction_group_changed,
    InteractionGroupChanged: interaction_group_changed,
}
