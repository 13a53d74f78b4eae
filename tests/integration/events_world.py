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
from setka_runtime.db import Database
from sqlalchemy.ext.asyncio import AsyncSession

from services.events import registry_copy
from tests.conftest import DatabaseFactory

NOW = datetime.now(UTC)


@dataclass
class World:
    """A network with a member host, an outsider, a member who left, and an educator of the host."""

    db: Database
    network: uuid.UUID
    host: uuid.UUID
    outsider: uuid.UUID
    former: uuid.UUID
    educator: uuid.UUID


def _event(data: Any) -> CloudEvent:
    return CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))


async def _apply(session: AsyncSession, handler: Any, data: Any) -> None:
    await handler(session, data, _event(data))


async def make_world(databases: DatabaseFactory, label: str) -> AsyncIterator[World]:
    db = Database(databases.create(label, migrate="events"))
    network, host, outsider, former, educator = (uuid.uuid4() for _ in range(5))
    async with db.session() as session, session.begin():
        for org, name in ((host, "Центр"), (outsider, "Чужая"), (former, "Бывшая")):
            await _apply(
                session,
                registry_copy.organization_registered,
                OrganizationRegistered(
                    organization_id=org,
                    full_name=name,
                    short_name=name,
                    kind="school",
                    region_code="39",
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
                region_code="39",
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
    yield World(db=db, network=network, host=host, outsider=outsider, former=former, educator=educator)
    await db.dispose()
