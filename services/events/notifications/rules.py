"""Who is told what, for each event the notifier reads.

* a plan agreed or amended: the network's member organizations;
* an activity announced, changed (postponed, or corrected by a regional system once announced) or
  cancelled: the members of its network (without one, its host);
* a registration: the person who made it (the audit trail names them);
* an alert raised: the organization it concerns and its network's coordinator;
* a resource request accepted or declined: the organization that asked;
* a plan item falling due (:mod:`.schedule`): its responsible organization.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from setka_contracts import CloudEvent, topics
from setka_contracts.analytics import AlertRaised, AlertRule
from setka_contracts.audit import AuditRecorded
from setka_contracts.events import (
    ActivityAnnounced,
    ActivityCancelled,
    ActivityPostponed,
    ActivityStatus,
    ActivityUpdatedByRegion,
    ParticipantRegistered,
    PlanAgreed,
    PlanAmended,
)
from setka_contracts.registry import MemberRole, ResourceRequestAccepted, ResourceRequestDeclined
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Activity, KnownMembership, KnownNetwork, KnownOrganization, Plan, PlanItem
from .delivery import Recipient, notify
from .messages import Kind, Message, day_text, quoted
from .settings import NotificationSettings

ALERT_TEXTS: dict[AlertRule, str] = {
    AlertRule.no_network_activity: "школа давно не участвовала в мероприятиях сети",
    AlertRule.plan_item_overdue: "срок пункта плана прошёл, а он не выполнен",
    AlertRule.deficit_without_training: "после выявленного дефицита педагог не прошёл обучение",
    AlertRule.attendance_missing: "мероприятие проведено, а посещаемость не записана",
}


def source_of(event: CloudEvent) -> str:
    return f"{event.source}|{event.id}"


class Rules:
    """The notifier's handlers by topic, with the settings they word their messages with."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)

    def handlers(self) -> dict[str, dict[Any, Any]]:
        return {
            topics.EVENTS: {
                PlanAgreed: self.plan_agreed,
                PlanAmended: self.plan_amended,
                ActivityAnnounced: self.activity_announced,
                ActivityPostponed: self.activity_postponed,
                ActivityUpdatedByRegion: self.activity_updated,
                ActivityCancelled: self.activity_cancelled,
            },
            topics.AUDIT: {AuditRecorded: self.registration_made},
            topics.ANALYTICS: {AlertRaised: self.alert_raised},
            topics.REGISTRY: {
                ResourceRequestAccepted: self.request_answered,
                ResourceRequestDeclined: self.request_answered,
            },
        }

    # -- plans ---------------------------------------------------------------------------------

    async def plan_agreed(self, session: AsyncSession, data: PlanAgreed, event: CloudEvent) -> None:
        await self._plan(session, event, data.plan_id, Kind.plan_agreed, "согласован", "")

    async def plan_amended(self, session: AsyncSession, data: PlanAmended, event: CloudEvent) -> None:
        await self._plan(
            session,
            event,
            data.plan_id,
            Kind.plan_amended,
            f"изменён (версия {data.version})",
            f"\nПричина: {data.reason}",
        )

    async def _plan(
        self, session: AsyncSession, event: CloudEvent, plan_id: uuid.UUID, kind: Kind, what: str, more: str
    ) -> None:
        plan = await session.get(Plan, plan_id)
        if plan is None:
            return
        network = await session.get(KnownNetwork, plan.network_id)
        network_name = quoted(network.name if network else None, "вашей сети")
        message = Message(
            kind=kind,
            title=f"План {what}: {plan.title}",
            text=f"Совместный план «{plan.title}» сети {network_name} на {plan.year} год {what}.{more}",
            path=f"/plans/{plan.id}",
        )
        members = await members_of(session, plan.network_id)
        await notify(
            session,
            self.settings,
            source=source_of(event),
            message=message,
            recipients=[Recipient.organization(o) for o in members],
        )

    # -- activities ----------------------------------------------------------------------------

    async def activity_announced(
        self, session: AsyncSession, data: ActivityAnnounced, event: CloudEvent
    ) -> None:
        await self._activity(session, event, data.activity_id, Kind.activity_announced, "")

    async def activity_postponed(
        self, session: AsyncSession, data: ActivityPostponed, event: CloudEvent
    ) -> None:
        when = (
            f" Новое время: {self.moment(data.starts_at)}."
            if data.starts_at
            else " Новое время сообщат позже."
        )
        await self._activity(
            session, event, data.activity_id, Kind.activity_changed, f"Перенесено: {data.reason}.{when}"
        )

    async def activity_updated(
        self, session: AsyncSession, data: ActivityUpdatedByRegion, event: CloudEvent
    ) -> None:
        if data.status == ActivityStatus.announced:
            await self._activity(
                session, event, data.activity_id, Kind.activity_changed, "Изменились сведения о нём."
            )

    async def activity_cancelled(
        self, session: AsyncSession, data: ActivityCancelled, event: CloudEvent
    ) -> None:
        await self._activity(
            session, event, data.activity_id, Kind.activity_cancelled, f"Причина: {data.reason}."
        )

    async def _activity(
        self, session: AsyncSession, event: CloudEvent, activity_id: uuid.UUID, kind: Kind, more: str
    ) -> None:
        activity = await session.get(Activity, activity_id)
        if activity is None:
            return
        host = await session.get(KnownOrganization, activity.host_organization_id)
        network = await session.get(KnownNetwork, activity.network_id) if activity.network_id else None
        heading = {
            Kind.activity_announced: "Объявлено мероприятие",
            Kind.activity_changed: "Изменено мероприятие",
            Kind.activity_cancelled: "Отменено мероприятие",
        }[kind]
        lines = [
            f"{heading} «{activity.title}»: {self.moment(activity.starts_at)}, "
            f"проводит {quoted(host.short_name if host else None, 'организация сети')}"
            + (f", сеть «{network.name}»." if network else "."),
        ]
        if activity.location:
            lines.append(f"Место: {activity.location}.")
        if more:
            lines.append(more)
        message = Message(
            kind=kind,
            title=f"{heading}: {activity.title}",
            text="\n".join(lines),
            path=f"/activities/{activity.id}",
        )
        audience = (await members_of(session, activity.network_id) if activity.network_id else set()) or {
            activity.host_organization_id
        }
        await notify(
            session,
            self.settings,
            source=source_of(event),
            message=message,
            recipients=[Recipient.organization(o) for o in audience],
        )

    # -- registrations -------------------------------------------------------------------------

    async def registration_made(self, session: AsyncSession, data: AuditRecorded, event: CloudEvent) -> None:
        """The audit entry of a write that registered someone names who made it: they are told."""
        if data.service != "events" or not data.subject:
            return
        for caused in data.events:
            if caused.event_type != ParticipantRegistered.event_type:
                continue
            try:
                activity = await session.get(Activity, uuid.UUID(caused.key))
            except ValueError:
                continue
            if activity is None:
                continue
            message = Message(
                kind=Kind.registration_confirmed,
                title=f"Регистрация подтверждена: {activity.title}",
                text=f"Регистрация на мероприятие «{activity.title}» ({self.moment(activity.starts_at)}) "
                "принята.",
                path=f"/activities/{activity.id}",
            )
            await notify(
                session,
                self.settings,
                source=f"{event.source}|{caused.event_id}",
                message=message,
                recipients=[Recipient.person(data.subject)],
            )

    # -- alerts --------------------------------------------------------------------------------

    async def alert_raised(self, session: AsyncSession, data: AlertRaised, event: CloudEvent) -> None:
        if data.organization_id is None:
            return
        school = await session.get(KnownOrganization, data.organization_id)
        networks = (
            [data.network_id] if data.network_id else list(await networks_of(session, data.organization_id))
        )
        coordinators = await coordinators_of(session, networks)
        name = quoted(school.short_name if school else None, "школа")
        message = Message(
            kind=Kind.alert_raised,
            title=f"Сигнал: {school.short_name if school else 'школа'}",
            text=f"По организации {name}: {ALERT_TEXTS.get(data.rule, data.rule.value)}"
            + (f" (с {day_text(data.since_on)})" if data.since_on else "")
            + ". Посмотрите сигнал и решите, что делать.",
            path=f"/alerts/{data.alert_id}",
        )
        await notify(
            session,
            self.settings,
            source=source_of(event),
            message=message,
            recipients=[Recipient.organization(o) for o in [data.organization_id, *coordinators]],
        )

    # -- resource requests ---------------------------------------------------------------------

    async def request_answered(
        self,
        session: AsyncSession,
        data: ResourceRequestAccepted | ResourceRequestDeclined,
        event: CloudEvent,
    ) -> None:
        owner = await session.get(KnownOrganization, data.owner_id)
        owner_name = quoted(owner.short_name if owner else None, "владелец ресурса")
        if isinstance(data, ResourceRequestAccepted):
            title = "Запрос ресурса принят"
            days = f"{day_text(data.starts_on)}–{day_text(data.ends_on)}"
            text = f"{owner_name} принял(а) ваш запрос ресурса на {days}."
        else:
            title = "Запрос ресурса отклонён"
            text = f"{owner_name} отклонил(а) ваш запрос ресурса. Причина: {data.reason}."
        await notify(
            session,
            self.settings,
            source=source_of(event),
            message=Message(
                kind=Kind.resource_request_answered, title=title, text=text, path="/resource-requests"
            ),
            recipients=[Recipient.organization(data.requester_id)],
        )

    # -- plan items falling due ----------------------------------------------------------------

    async def item_due(self, session: AsyncSession, item: PlanItem, plan: Plan) -> None:
        if item.responsible_organization_id is None:
            return
        message = Message(
            kind=Kind.plan_item_due,
            title=f"Срок пункта плана: {item.title}",
            text=f"Пункт «{item.title}» плана «{plan.title}» нужно выполнить до {day_text(item.due_on)}. "
            "Ваша организация — ответственная.",
            path=f"/plans/{plan.id}#item-{item.id}",
        )
        await notify(
            session,
            self.settings,
            source=f"/setka/events/notifications/due|{item.id}",
            message=message,
            recipients=[Recipient.organization(item.responsible_organization_id)],
        )

    def moment(self, value: datetime) -> str:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(self.zone).strftime("%d.%m.%Y %H:%M")


async def members_of(session: AsyncSession, network_id: uuid.UUID, on: date | None = None) -> set[uuid.UUID]:
    """The organizations that are members of the network on the day (today)."""
    day = on or datetime.now(UTC).date()
    rows = await session.scalars(
        select(KnownMembership.organization_id).where(
            KnownMembership.network_id == network_id,
            KnownMembership.joined_on <= day,
            or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > day),  # type: ignore[union-attr]
        )
    )
    return set(rows.all())


async def networks_of(session: AsyncSession, organization_id: uuid.UUID) -> set[uuid.UUID]:
    day = datetime.now(UTC).date()
    rows = await session.scalars(
        select(KnownMembership.network_id).where(
            KnownMembership.organization_id == organization_id,
            or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > day),  # type: ignore[union-attr]
        )
    )
    return set(rows.all())


async def coordinators_of(session: AsyncSession, networks: list[uuid.UUID]) -> set[uuid.UUID]:
    """The networks' coordinating organizations, and their members in the coordinator's role."""
    if not networks:
        return set()
    found = set(
        (
            await session.scalars(
                select(KnownNetwork.coordinator_id).where(
                    KnownNetwork.id.in_(networks),  # type: ignore[attr-defined]
                    KnownNetwork.coordinator_id.is_not(None),  # type: ignore[union-attr]
                )
            )
        ).all()
    )
    day = datetime.now(UTC).date()
    found |= set(
        (
            await session.scalars(
                select(KnownMembership.organization_id).where(
                    KnownMembership.network_id.in_(networks),  # type: ignore[attr-defined]
                    KnownMembership.role == MemberRole.coordinator.value,
                    or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > day),  # type: ignore[union-attr]
                )
            )
        ).all()
    )
    return {o for o in found if o is not None}
