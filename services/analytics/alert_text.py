"""What an alert says, in Russian: what happened, to whom, and what to do about it.

:func:`compose` is the rule: it takes an alert and the names the read models know (the
organization's short name, the network's name, the plan item's and the activity's title, the
deficit's competency) and returns the title and the advice a coordinator reads.
:func:`describe` reads those names for many alerts at once, a query per kind of name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from setka_contracts.analytics import AlertRule
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import Activity, Alert, Deficit, Network, Organization, PlanItem

UNKNOWN_ORGANIZATION = "Организация, ещё не известная аналитике"
UNKNOWN_NETWORK = "сеть, ещё не известная аналитике"


@dataclass(frozen=True)
class AlertText:
    title: str
    """What happened and to whom, in one line."""
    advice: str
    """Why it matters and what to do."""


@dataclass(frozen=True)
class ActivityFacts:
    title: str | None
    held_on: date | None


@dataclass
class Names:
    """What the read models call the things alerts are about, by id."""

    organizations: dict[uuid.UUID, str] = field(default_factory=dict)
    networks: dict[uuid.UUID, str] = field(default_factory=dict)
    plan_items: dict[uuid.UUID, str] = field(default_factory=dict)
    tasks: set[uuid.UUID] = field(default_factory=set)
    """The plan items that are tasks (done when marked done, not by an activity)."""
    activities: dict[uuid.UUID, ActivityFacts] = field(default_factory=dict)
    competencies: dict[uuid.UUID, str] = field(default_factory=dict)

    def organization(self, ident: uuid.UUID | None) -> str | None:
        return self.organizations.get(ident) if ident else None

    def network(self, ident: uuid.UUID | None) -> str | None:
        return self.networks.get(ident) if ident else None


def plural(count: int, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after ``count``: 1 день, 2 дня, 5 дней (11–14 дней)."""
    if count % 10 == 1 and count % 100 != 11:
        return one
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return few
    return many


def days(count: int) -> str:
    return f"{count} {plural(count, 'день', 'дня', 'дней')}"


def school_days(count: int) -> str:
    return f"{count} {plural(count, 'учебный день', 'учебных дня', 'учебных дней')}"


def day(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else "—"


def _since(alert: Alert) -> date | None:
    since = (alert.details or {}).get("since_on")
    return date.fromisoformat(since) if since else None


def _threshold(alert: Alert) -> int:
    return int((alert.details or {}).get("threshold_days") or 0)


def compose(alert: Alert, names: Names) -> AlertText:
    """The title and the advice of an alert (see the module's docstring)."""
    organization = names.organization(alert.organization_id) or UNKNOWN_ORGANIZATION
    network = names.network(alert.network_id)
    in_network = f"Сеть: {network}. " if network else ""
    since, threshold = _since(alert), _threshold(alert)
    rule = AlertRule(alert.rule)
    if rule is AlertRule.no_network_activity:
        return AlertText(
            title=f"{organization} не участвует в мероприятиях сети с {day(since)}",
            advice=f"Сеть: {network or UNKNOWN_NETWORK}. Последнее участие школы или её вступление в сеть —"
            f" {day(since)}; с тех пор прошло не меньше {school_days(threshold)} без мероприятий"
            " (каникулы не считаются). Свяжитесь с руководством школы, пригласите её педагогов на"
            " ближайшие мероприятия сети (семинар, консультацию, взаимопосещение уроков) и при"
            " необходимости закрепите за школой наставника из школы-центра.",
        )
    if rule is AlertRule.plan_item_overdue:
        item = names.plan_items.get(alert.subject_id)
        what = f"пункт плана «{item}»" if item else "пункт плана"
        if alert.organization_id:
            title = f"{organization}: просрочен {what} (срок — {day(since)})"
            who = f"Ответственная организация — {organization}. "
        else:
            title = f"Просрочен {what} (срок — {day(since)})"
            who = "Ответственная организация не назначена: назначьте её. "
        if alert.subject_id in names.tasks:
            return AlertText(
                title=title,
                advice=f"{in_network}Срок прошёл {day(since)}, а задача не отмечена выполненной. {who}"
                "Выполните её и отметьте выполненной в плане (с примечанием или ссылкой на документ)"
                " или согласуйте с координатором сети изменение плана.",
            )
        return AlertText(
            title=title,
            advice=f"{in_network}Срок прошёл {day(since)}, а мероприятие по пункту не проведено. {who}"
            "Проведите мероприятие и отметьте его проведённым или согласуйте с координатором сети"
            " перенос срока.",
        )
    if rule is AlertRule.deficit_without_training:
        competency = names.competencies.get(alert.subject_id)
        what = f"профессиональный дефицит «{competency}»" if competency else "профессиональный дефицит"
        return AlertText(
            title=f"{organization}: {what} педагога без повышения квалификации",
            advice=f"Дефицит выявлен {day(since)}; за {days(threshold)} после этого педагог не прошёл курс"
            " повышения квалификации и не посетил сетевое мероприятие, в названии которых есть эта"
            " компетенция, — в анализе эффективности дефицит не проработан в срок. Запишите педагога"
            " на курс или стажировку по этой компетенции (ИРО, школа-центр сети) и проследите, чтобы"
            " прохождение курса попало в региональную систему; сигнал остаётся как напоминание о"
            " просрочке, его можно взять в работу и отметить.",
        )
    facts = names.activities.get(alert.subject_id)
    held = (facts.held_on if facts else None) or since
    what = f"мероприятия «{facts.title}»" if facts and facts.title else "мероприятия"
    return AlertText(
        title=f"{organization}: не отмечена посещаемость {what}, проведённого {day(held)}",
        advice=f"{in_network}Мероприятие проведено {day(held)}; прошло больше {days(threshold)}, а ни один"
        " участник не отмечен. Отметьте участников и их часы на странице мероприятия: без этого"
        " участие школ не попадёт в анализ эффективности.",
    )


async def _named(
    session: AsyncSession, id_column: Any, name_column: Any, ids: Iterable[Any]
) -> dict[Any, Any]:
    wanted = sorted({ident for ident in ids if ident is not None}, key=str)
    if not wanted:
        return {}
    rows = await session.execute(select(id_column, name_column).where(id_column.in_(wanted)))
    return {ident: name for ident, name in rows if name}


async def names_of(session: AsyncSession, alerts: Sequence[Alert]) -> Names:
    """The names the alerts' texts need, one query for each kind that any alert needs."""

    def subjects(rule: AlertRule) -> list[uuid.UUID]:
        return [alert.subject_id for alert in alerts if alert.rule == rule.value]

    organizations = [a.organization_id for a in alerts] + [a.assignee_organization_id for a in alerts]
    activities = subjects(AlertRule.attendance_missing)
    found: dict[uuid.UUID, ActivityFacts] = {}
    if activities:
        rows = await session.execute(
            select(Activity.id, Activity.title, Activity.held_on).where(col(Activity.id).in_(activities))
        )
        found = {ident: ActivityFacts(title, held_on) for ident, title, held_on in rows}
    overdue = subjects(AlertRule.plan_item_overdue)
    tasks: set[uuid.UUID] = set()
    if overdue:
        query = select(PlanItem.id).where(col(PlanItem.id).in_(overdue), PlanItem.kind == "task")
        tasks = set(await session.scalars(query))
    return Names(
        organizations=await _named(
            session, col(Organization.id), col(Organization.short_name), organizations
        ),
        networks=await _named(session, col(Network.id), col(Network.name), (a.network_id for a in alerts)),
        plan_items=await _named(session, col(PlanItem.id), col(PlanItem.title), overdue),
        tasks=tasks,
        activities=found,
        competencies=await _named(
            session, col(Deficit.id), col(Deficit.competency), subjects(AlertRule.deficit_without_training)
        ),
    )
