"""Helpers the events service's rules share: lookups in the local registry copy, text checks."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import TypeVar

from setka_contracts.events import ActivityStatus, PlanStatus
from setka_runtime.errors import DomainError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    KnownEducator,
    KnownEmployment,
    KnownInteractionGroup,
    KnownMembership,
    KnownNetwork,
    KnownOrganization,
)

SOURCE = "/setka/events"

E = TypeVar("E", bound=StrEnum)

PLAN_STATUS_NAMES: dict[str, str] = {
    PlanStatus.draft: "черновик",
    PlanStatus.agreed: "согласован",
    PlanStatus.in_progress: "выполняется",
    PlanStatus.closed: "закрыт",
}
ACTIVITY_STATUS_NAMES: dict[str, str] = {
    ActivityStatus.planned: "запланировано",
    ActivityStatus.announced: "объявлено",
    ActivityStatus.postponed: "перенесено",
    ActivityStatus.cancelled: "отменено",
    ActivityStatus.held: "проведено",
    ActivityStatus.reported: "есть отчёт",
}
"""Statuses as the workspace names them, for messages."""


def check_text(value: str, *, field: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise DomainError("Заполните это поле", code="EMPTY", field=field)
    if len(text) > limit:
        raise DomainError(f"Не длиннее {limit} знаков", code="TOO_LONG", field=field)
    return text


def optional_text(value: str | None, *, field: str, limit: int) -> str | None:
    return check_text(value, field=field, limit=limit) if value and value.strip() else None


def check_paragraphs(value: str, *, field: str, limit: int) -> str:
    """A long text people write in paragraphs (minutes): its lines kept, spaces at their ends and
    runs of blank lines dropped."""
    lines = [line.rstrip() for line in value.strip().splitlines()]
    text = "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))
    if not text:
        raise DomainError("Заполните это поле", code="EMPTY", field=field)
    if len(text) > limit:
        raise DomainError(f"Не длиннее {limit} знаков", code="TOO_LONG", field=field)
    return text


def check_link(value: str | None, *, field: str, message: str) -> str | None:
    """A web link (``https://…`` or ``http://…``, no spaces), or None when none is given;
    ``message`` says what the link is for."""
    link = (value or "").strip()
    if not link:
        return None
    if not link.startswith(("https://", "http://")) or len(link) > 1000 or any(c.isspace() for c in link):
        raise DomainError(message, code="LINK_FORMAT", field=field)
    return link


def check_choice(enum: type[E], value: str, *, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(item.value for item in enum)
        raise DomainError(
            f"Неизвестное значение «{value}»; выберите одно из: {allowed}", code="UNKNOWN_CHOICE", field=field
        ) from None


async def known_organization(
    session: AsyncSession, organization_id: uuid.UUID, *, field: str
) -> KnownOrganization:
    organization = await session.get(KnownOrganization, organization_id)
    if organization is None:
        raise DomainError("Такой организации нет в реестре", code="ORGANIZATION_NOT_FOUND", field=field)
    if organization.archived_at is not None:
        raise DomainError(
            f"Организация {organization.short_name} выбыла из реестра",
            code="ORGANIZATION_ARCHIVED",
            field=field,
        )
    return organization


async def known_network(
    session: AsyncSession, network_id: uuid.UUID, *, field: str = "networkId"
) -> KnownNetwork:
    network = await session.get(KnownNetwork, network_id)
    if network is None:
        raise DomainError("Такой сети нет в реестре", code="NETWORK_NOT_FOUND", field=field)
    return network


async def known_group(
    session: AsyncSession,
    network_id: uuid.UUID,
    group_id: uuid.UUID | None,
    *,
    field: str = "interactionGroupId",
) -> uuid.UUID | None:
    """An interaction group (группа взаимодействия, РМО) named for something of a network must be
    one of that network's."""
    if group_id is None:
        return None
    group = await session.get(KnownInteractionGroup, group_id)
    if group is None:
        raise DomainError("Такой группы взаимодействия нет в реестре", code="GROUP_NOT_FOUND", field=field)
    if group.network_id != network_id:
        raise DomainError(
            "Группа взаимодействия относится к другой сети", code="GROUP_OF_ANOTHER_NETWORK", field=field
        )
    return group_id


async def known_educator(
    session: AsyncSession, educator_id: uuid.UUID, *, organization_id: uuid.UUID | None, field: str
) -> KnownEducator:
    educator = await session.get(KnownEducator, educator_id)
    if educator is None:
        raise DomainError("Такого педагога нет в реестре", code="EDUCATOR_NOT_FOUND", field=field)
    if organization_id is not None and not await works_at(session, educator_id, organization_id):
        raise DomainError("Педагог не работает в этой организации", code="EDUCATOR_NOT_EMPLOYED", field=field)
    return educator


async def works_at(session: AsyncSession, educator_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the educator is (or was) employed by the organization."""
    found = await session.scalar(
        select(KnownEmployment.id).where(
            KnownEmployment.educator_id == educator_id, KnownEmployment.organization_id == organization_id
        )
    )
    return found is not None


async def is_member(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID, on: date
) -> bool:
    """Whether the organization was a member of the network on that date (участник сети)."""
    found = await session.scalar(
        select(KnownMembership.id).where(
            KnownMembership.network_id == network_id,
            KnownMembership.organization_id == organization_id,
            KnownMembership.joined_on <= on,
            or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > on),
        )
    )
    return found is not None
