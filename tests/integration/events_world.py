"""A small world in the events service's local registry copy, shared by the events tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from setka_contracts import CloudEvent
from setka_contracts.registry import (
    EducatorEmployment,
    EducatorRegistered,
    MemberJoined,
    MemberLeft,
    NetworkCreated,
    OrganizationRegistered,
)
from setka_runtime.consumer import apply
from setka_runtime.db import Database
from sqlalchemy.ext.asyncio import AsyncSession

from services.events import registry_copy
from tests.conftest import DatabaseFactory

NOW = datetime.now(UTC)


@dataclass
class World:
    """A network of one municipality with a member host, an outsider of another municipality, a
    member who left, and an educator of the host; all in region 39."""

    db: Database
    network: uuid.UUID
    host: uuid.UUID
    outsider: uuid.UUID
    former: uuid.UUID
    educator: uuid.UUID
    municipality: uuid.UUID
    """Of the network, the host and the former member."""
    other_municipality: uuid.UUID
    """Of the outsider."""


REGION = "39"


def _event(data: Any) -> CloudEvent:
    return CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))


async def _apply(session: AsyncSession, handler: Any, data: Any) -> None:
    await handler(session, data, _event(data))


async def registry_says(db: Database, *facts: Any) -> None:
    """Apply registry events to the service's local copy, in order, as its consumer would."""
    async with db.session() as session, session.begin():
        for data in facts:
            await apply(registry_copy.HANDLERS[type(data)], session, data, _event(data))


async def make_world(databases: DatabaseFactory, label: str) -> AsyncIterator[World]:
    db = Database(databases.create(label, migrate="events"))
    network, host, outsider, former, educator, municipality, other = (uuid.uuid4() for _ in range(7))
    async with db.session() as session, session.begin():
        for org, name, where in (
            (host, "Центр", municipality),
            (outsider, "Чужая", other),
            (former, "Бывшая", municipality),
        ):
            await _apply(
                session,
                registry_copy.organization_registered,
                OrganizationRegistered(
                    organization_id=org,
                    full_name=name,
                    short_name=name,
                    kind="school",
                    region_code=REGION,
                    municipality_id=where,
                    registered_at=NOW,
                ),
            )
        await _apply(
            session,
            registry_copy.network_created,
            NetworkCreated(
                network_id=network,
                name="Сеть (тест)",
                level="municipal",
                region_code=REGION,
                municipality_id=municipality,
                governing_body_id=outsider,
                started_on=date(2020, 1, 1),
            ),
        )
        for org in (host, former):
            await _apply(
                session,
                registry_copy.member_joined,
                MemberJoined(
                    network_id=network,
                    membership_id=uuid.uuid4(),
                    organization_id=org,
                    role="partner",
                    joined_on=date(2020, 1, 1),
                ),
            )
        left = MemberLeft(
            network_id=network,
            membership_id=uuid.uuid4(),
            organization_id=former,
            role="supported",
            joined_on=date(2019, 1, 1),
            left_on=date(2020, 1, 1),
        )
        # «former» left its first membership; its second one starts the same day, so it is a member
        await _apply(session, registry_copy.member_joined, left)
        await _apply(
            session,
            registry_copy.educator_registered,
            EducatorRegistered(
                educator_id=educator,
                last_name="Иванова",
                first_name="Анна",
                qualification_category="first",
                employments=[
                    EducatorEmployment(employment_id=uuid.uuid4(), organization_id=host, position="учитель")
                ],
            ),
        )
    yield World(
        db=db,
        network=network,
        host=host,
        outsider=outsider,
        former=former,
        educator=educator,
        municipality=municipality,
        other_municipality=other,
    )
    await db.dispose()
