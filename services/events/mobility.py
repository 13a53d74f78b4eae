"""Mobility (перемещение учащихся и учителей): people of one organization working at a partner's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from setka_contracts.events import MobilityRecorded
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy.ext.asyncio import AsyncSession

from .common import SOURCE, check_text, is_member, known_network, known_organization
from .models import Mobility

KINDS = ("students", "teachers")


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


async def record_mobility(session: AsyncSession, command: RecordMobility) -> Mobility:
    if command.kind not in KINDS:
        raise DomainError("kind is students or teachers", field="kind")
    if command.home_organization_id == command.host_organization_id:
        raise DomainError("the host must be another organization", field="hostOrganizationId")
    if command.participants < 1:
        raise DomainError("at least one participant", field="participants")
    if command.ends_on < command.starts_on:
        raise DomainError("ends before it starts", field="endsOn")
    if command.hours <= 0:
        raise DomainError("hours must be positive", field="hours")
    await known_organization(session, command.home_organization_id, field="homeOrganizationId")
    await known_organization(session, command.host_organization_id, field="hostOrganizationId")
    if command.network_id is not None:
        network = await known_network(session, command.network_id)
        for organization_id, field in (
            (command.home_organization_id, "homeOrganizationId"),
            (command.host_organization_id, "hostOrganizationId"),
        ):
            if not await is_member(session, network.id, organization_id, command.starts_on):
                raise DomainError(f"not a member of «{network.name}» on {command.starts_on}", field=field)
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
    )
    session.add(mobility)
    await session.flush()
    await outbox.record(
        session,
        MobilityRecorded(
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
        ),
        source=SOURCE,
    )
    return mobility
