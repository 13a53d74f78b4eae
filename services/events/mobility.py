"""Mobility (перемещение учащихся и учителей): people of one organization working at a partner's.

A record can be corrected (its counts, hours, dates, programme) and deleted when it was recorded
by mistake; each is a new version of it, published whole, so analytics replaces the figure it
keeps by version (a late or repeated older version changes nothing). Nothing is erased: a
deleted record stays, marked, and is no longer listed or counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from setka_contracts.events import MobilityCorrected, MobilityDeleted, MobilityRecorded
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from sqlalchemy.ext.asyncio import AsyncSession

from .common import SOURCE, check_text, is_member, known_network, known_organization, optional_text
from .models import Mobility, now

KINDS = ("students", "teachers")

CORRECTED = ("kind", "programme", "participants", "starts_on", "ends_on", "hours")
"""What a correction may change; who moved where (and in which network) is the record itself."""


@dataclass(frozen=True)
class RecordMobility:
    kind: str
    home_organization_id: uuid.UUID
    host_organization_id: uuid.UUID
    programme: str
    participants: int
    starts_on: date
    ends_on: date
    hours: float
    network_id: uuid.UUID | None = None


def _check_figures(kind: str, participants: int, starts_on: date, ends_on: date, hours: float) -> None:
    if kind not in KINDS:
        raise DomainError(
            "Вид — students (обучающиеся) или teachers (педагоги)", code="UNKNOWN_CHOICE", field="kind"
        )
    if participants < 1:
        raise DomainError("Нужен хотя бы один участник", code="NOT_POSITIVE", field="participants")
    if ends_on < starts_on:
        raise DomainError("Окончание не может быть раньше начала", code="END_BEFORE_START", field="endsOn")
    if hours <= 0:
        raise DomainError("Часов должно быть больше нуля", code="HOURS_NOT_POSITIVE", field="hours")


async def _check_members(
    session: AsyncSession,
    network_id: uuid.UUID | None,
    home_organization_id: uuid.UUID,
    host_organization_id: uuid.UUID,
    starts_on: date,
) -> None:
    """In a network's mobility both organizations are its members on the first day."""
    if network_id is None:
        return
    network = await known_network(session, network_id)
    for organization_id, field in (
        (home_organization_id, "homeOrganizationId"),
        (host_organization_id, "hostOrganizationId"),
    ):
        if not await is_member(session, network.id, organization_id, starts_on):
            raise DomainError(
                f"Организация не входит в сеть «{network.name}» на {day(starts_on)}",
                code="NOT_A_MEMBER",
                field=field,
            )


E = TypeVar("E", bound=MobilityRecorded)


def _event(kind: type[E], mobility: Mobility, **extra: Any) -> E:
    """The event ``kind`` carrying the whole record at its version."""
    return kind(
        mobility_id=mobility.id,
        kind=mobility.kind,
        home_organization_id=mobility.home_organization_id,
        host_organization_id=mobility.host_organization_id,
        network_id=mobility.network_id,
        programme=mobility.programme,
        participants=mobility.participants,
        starts_on=mobility.starts_on,
        ends_on=mobility.ends_on,
        hours=mobility.hours,
        version=mobility.version,
        **extra,
    )


async def record_mobility(session: AsyncSession, command: RecordMobility) -> Mobility:
    if command.home_organization_id == command.host_organization_id:
        raise DomainError(
            "Принимающая организация должна быть другой", code="HOST_IS_HOME", field="hostOrganizationId"
        )
    _check_figures(command.kind, command.participants, command.starts_on, command.ends_on, command.hours)
    await known_organization(session, command.home_organization_id, field="homeOrganizationId")
    await known_organization(session, command.host_organization_id, field="hostOrganizationId")
    await _check_members(
        session,
        command.network_id,
        command.home_organization_id,
        command.host_organization_id,
        command.starts_on,
    )
    mobility = Mobility(
        kind=command.kind,
        home_organization_id=command.home_organization_id,
        host_organization_id=command.host_organization_id,
        network_id=command.network_id,
        programme=check_text(command.programme, field="programme", limit=500),
        participants=command.participants,
        starts_on=command.starts_on,
        ends_on=command.ends_on,
        hours=command.hours,
        version=1,
    )
    session.add(mobility)
    await session.flush()
    await outbox.record(session, _event(MobilityRecorded, mobility), source=SOURCE)
    return mobility


async def get_mobility(session: AsyncSession, mobility_id: uuid.UUID) -> Mobility:
    """The record, locked for the change, unless it was deleted."""
    mobility = await session.get(Mobility, mobility_id, with_for_update=True)
    if mobility is None:
        raise DomainError("Такой записи о мобильности нет", code="MOBILITY_NOT_FOUND", field="mobilityId")
    if mobility.deleted_at is not None:
        raise DomainError(
            "Запись о мобильности удалена как ошибочная", code="MOBILITY_DELETED", field="mobilityId"
        )
    return mobility


@dataclass(frozen=True)
class CorrectMobility:
    """A correction of a recorded mobility: only the fields given change."""

    mobility_id: uuid.UUID
    kind: str | None = None
    programme: str | None = None
    participants: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    hours: float | None = None
    reason: str | None = None


async def correct_mobility(session: AsyncSession, command: CorrectMobility) -> Mobility:
    """Correct a record's figures, checked as when it was recorded (both organizations members of
    its network on its first day); records ``mobility.corrected`` with the next version, if
    anything changed (a correction that changes nothing is refused)."""
    mobility = await get_mobility(session, command.mobility_id)
    kind = mobility.kind if command.kind is None else command.kind
    participants = mobility.participants if command.participants is None else command.participants
    starts_on = mobility.starts_on if command.starts_on is None else command.starts_on
    ends_on = mobility.ends_on if command.ends_on is None else command.ends_on
    hours = mobility.hours if command.hours is None else command.hours
    programme = (
        mobility.programme
        if command.programme is None
        else check_text(command.programme, field="programme", limit=500)
    )
    _check_figures(kind, participants, starts_on, ends_on, hours)
    after: dict[str, object] = {
        "kind": kind,
        "programme": programme,
        "participants": participants,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "hours": hours,
    }
    changed = [name for name in CORRECTED if after[name] != getattr(mobility, name)]
    if not changed:
        raise DomainError("Исправление ничего не меняет", code="NOTHING_CHANGED")
    reason = optional_text(command.reason, field="reason", limit=1000)
    if "starts_on" in changed:
        await _check_members(
            session,
            mobility.network_id,
            mobility.home_organization_id,
            mobility.host_organization_id,
            starts_on,
        )
    for name in changed:
        setattr(mobility, name, after[name])
    mobility.version += 1
    mobility.updated_at = now()
    mobility.change_reason = reason
    await session.flush()
    await outbox.record(
        session,
        _event(MobilityCorrected, mobility, corrected_at=mobility.updated_at, reason=reason, changed=changed),
        source=SOURCE,
    )
    return mobility


async def delete_mobility(session: AsyncSession, mobility_id: uuid.UUID, reason: str) -> Mobility:
    """Delete a record made by mistake: it stays, marked, no longer listed nor counted; records
    ``mobility.deleted`` with the next version."""
    mobility = await get_mobility(session, mobility_id)
    text = check_text(reason, field="reason", limit=1000)
    mobility.version += 1
    mobility.deleted_at = mobility.updated_at = now()
    mobility.change_reason = text
    await session.flush()
    await outbox.record(
        session,
        _event(MobilityDeleted, mobility, deleted_at=mobility.deleted_at, reason=text),
        source=SOURCE,
    )
    return mobility
