"""What people do with an alert (работа с сигналами): acknowledge it, assign it to an organization
or a person, comment on it, snooze it until a day. Each is a plain function over the alert's row
in the caller's transaction: it checks the rule, records who did it and when, and adds its event
to the outbox (keyed like the alert's own events, by the subject), or raises a DomainError.

An alert's status follows from its row: resolved once its rule no longer holds; else snoozed
until its day; else acknowledged once someone took it on; else open. A snoozed alert is not listed
among those that need attention until its day comes.

Who may do it is the caller's scope over the alert's school (:func:`target`): a regional admin
of its region, a municipal coordinator of its municipality, the school's own representative —
the callers whose reach :func:`~services.analytics.advice_schema.advised` gives without the
read-only roles (experts and viewers read alerts, they do not work them).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from setka_contracts.analytics import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertRule,
    AlertSnoozed,
)
from setka_runtime import outbox
from setka_runtime.access import Target
from setka_runtime.errors import DomainError
from setka_runtime.graphql import to_uuid
from setka_runtime.moments import aware
from setka_runtime.russian import day, moment
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import Alert, AlertComment, Network, Organization

MAX_SNOOZE_DAYS = 366
"""The furthest day an alert may be snoozed to: a school year ahead."""
MAX_COMMENT = 2000
MAX_SUBJECT = 200


class AlertStatus(StrEnum):
    open = "open"
    """Nobody has taken it on yet."""
    acknowledged = "acknowledged"
    """Someone took it on; it is still open."""
    snoozed = "snoozed"
    """Put aside until a day; not listed as open before it."""
    resolved = "resolved"
    """Its rule no longer holds."""


def status_of(alert: Alert, today: date) -> AlertStatus:
    if alert.resolved_at is not None:
        return AlertStatus.resolved
    if alert.snoozed_until is not None and alert.snoozed_until > today:
        return AlertStatus.snoozed
    if alert.acknowledged_at is not None:
        return AlertStatus.acknowledged
    return AlertStatus.open


def needing_attention(today: date) -> ColumnElement[bool]:
    """Alerts that are open or acknowledged today: not resolved, not snoozed past today."""
    snoozed = col(Alert.snoozed_until)
    return and_(col(Alert.resolved_at).is_(None), or_(snoozed.is_(None), snoozed <= today))


def in_status(status: AlertStatus, today: date) -> ColumnElement[bool]:
    """The SQL condition of :func:`status_of` being ``status`` today."""
    if status is AlertStatus.resolved:
        return col(Alert.resolved_at).is_not(None)
    if status is AlertStatus.snoozed:
        return and_(col(Alert.resolved_at).is_(None), col(Alert.snoozed_until) > today)
    acknowledged = col(Alert.acknowledged_at)
    return and_(
        needing_attention(today),
        acknowledged.is_not(None) if status is AlertStatus.acknowledged else acknowledged.is_(None),
    )


# -- where a write lands --------------------------------------------------------------------------


async def target(session: AsyncSession, alert_id: object) -> Target:
    """The scope of a write about an alert: its school (the organization concerned: region,
    municipality, the organization itself) or, for an alert of a network with no organization,
    the network's region and municipality. An unknown alert, or one whose places analytics does
    not know, is nowhere: only an admin of every region acts on it (and is told it is unknown)."""
    key = to_uuid(alert_id)
    row = (
        None
        if key is None
        else (
            await session.execute(select(Alert.organization_id, Alert.network_id).where(col(Alert.id) == key))
        ).first()
    )
    if row is None:
        return Target()
    organization, network = row
    if organization is not None:
        place = (
            await session.execute(
                select(Organization.region_code, Organization.municipality_id).where(
                    col(Organization.id) == organization
                )
            )
        ).first()
        return Target() if place is None else Target.of(place[0], place[1], [organization])
    if network is not None:
        place = (
            await session.execute(
                select(Network.region_code, Network.municipality_id).where(col(Network.id) == network)
            )
        ).first()
        return Target() if place is None else Target.of(place[0], place[1])
    return Target()


# -- the rules ------------------------------------------------------------------------------------


async def get_alert(session: AsyncSession, alert_id: uuid.UUID) -> Alert:
    """The alert, locked until the transaction ends (two people acting at once act in turn)."""
    alert = await session.scalar(select(Alert).where(col(Alert.id) == alert_id).with_for_update())
    if alert is None:
        raise DomainError("Такого оповещения нет", code="ALERT_NOT_FOUND", field="alertId")
    return alert


def _still_open(alert: Alert) -> None:
    if alert.resolved_at is not None:
        resolved = day(aware(alert.resolved_at).date())
        raise DomainError(
            f"Оповещение снято {resolved}: его условие больше не выполняется",
            code="ALERT_RESOLVED",
            field="alertId",
        )


def _person(subject: str | None) -> str:
    if not subject:
        raise DomainError("Войдите, чтобы работать с оповещениями", code="SIGN_IN_REQUIRED")
    return subject[:MAX_SUBJECT]


def _about(alert: Alert) -> dict[str, Any]:
    """What every event of an alert says of it."""
    return {
        "alert_id": alert.id,
        "rule": AlertRule(alert.rule),
        "subject_id": alert.subject_id,
        "organization_id": alert.organization_id,
        "network_id": alert.network_id,
        "raised_at": aware(alert.raised_at),
    }


async def acknowledge(
    session: AsyncSession, alert_id: uuid.UUID, *, by: str | None, at: datetime, source: str
) -> Alert:
    """Take an open alert on. Once is enough: acknowledging it again is refused with who did."""
    alert = await get_alert(session, alert_id)
    _still_open(alert)
    person = _person(by)
    if alert.acknowledged_at is not None:
        when = moment(aware(alert.acknowledged_at))
        raise DomainError(
            f"Оповещение уже принято к сведению: {alert.acknowledged_by}, {when}",
            code="ALERT_ACKNOWLEDGED",
            field="alertId",
        )
    alert.acknowledged_at, alert.acknowledged_by = at, person
    await session.flush()
    await outbox.record(
        session, AlertAcknowledged(**_about(alert), acknowledged_by=person, acknowledged_at=at), source=source
    )
    return alert


async def assign(
    session: AsyncSession,
    alert_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    subject: str | None,
    by: str | None,
    at: datetime,
    source: str,
) -> Alert:
    """Give an open alert to an organization analytics knows (not archived) or to a person (the
    subject of their token): exactly one of the two. Assigning again gives it to the new one."""
    alert = await get_alert(session, alert_id)
    _still_open(alert)
    person = _person(by)
    subject = " ".join((subject or "").split()) or None
    if (organization_id is None) == (subject is None):
        raise DomainError(
            "Назначьте оповещение организации или человеку — кому-то одному",
            code="ASSIGNEE_CONFLICT",
            field="organizationId",
        )
    if subject is not None and len(subject) > MAX_SUBJECT:
        raise DomainError(f"Не длиннее {MAX_SUBJECT} знаков", code="TOO_LONG", field="subject")
    if organization_id is not None:
        archived = await session.scalar(
            select(col(Organization.archived_at).is_not(None)).where(col(Organization.id) == organization_id)
        )
        if archived is None:
            raise DomainError(
                "Такой организации аналитика не знает", code="ORGANIZATION_NOT_FOUND", field="organizationId"
            )
        if archived:
            raise DomainError("Организация в архиве", code="ORGANIZATION_ARCHIVED", field="organizationId")
    alert.assignee_organization_id, alert.assignee_subject = organization_id, subject
    alert.assigned_at, alert.assigned_by = at, person
    await session.flush()
    await outbox.record(
        session,
        AlertAssigned(
            **_about(alert),
            assignee_organization_id=organization_id,
            assignee_subject=subject,
            assigned_by=person,
            assigned_at=at,
        ),
        source=source,
    )
    return alert


async def comment(
    session: AsyncSession, alert_id: uuid.UUID, text: str, *, by: str | None, at: datetime, source: str
) -> Alert:
    """Add a comment to an alert, open or resolved (a note on what was done stays useful)."""
    alert = await get_alert(session, alert_id)
    person = _person(by)
    body = text.strip()
    if not body:
        raise DomainError("Заполните это поле", code="EMPTY", field="text")
    if len(body) > MAX_COMMENT:
        raise DomainError(f"Не длиннее {MAX_COMMENT} знаков", code="TOO_LONG", field="text")
    note = AlertComment(id=uuid.uuid4(), alert_id=alert.id, author=person, at=at, text=body)
    session.add(note)
    await session.flush()
    await outbox.record(
        session,
        AlertCommented(**_about(alert), comment_id=note.id, commented_by=person, commented_at=at),
        source=source,
    )
    return alert


async def snooze(
    session: AsyncSession,
    alert_id: uuid.UUID,
    until: date,
    *,
    today: date,
    by: str | None,
    at: datetime,
    source: str,
) -> Alert:
    """Put an open alert aside until a day after today (at most a year ahead): it is listed as
    open again on that day, if its rule still holds. Snoozing again moves the day."""
    alert = await get_alert(session, alert_id)
    _still_open(alert)
    person = _person(by)
    if until <= today:
        raise DomainError(
            f"Отложить можно до дня после сегодняшнего ({day(today)})",
            code="SNOOZE_NOT_AFTER_TODAY",
            field="until",
        )
    if until > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise DomainError(
            f"Отложить можно не больше чем на {MAX_SNOOZE_DAYS} дней", code="SNOOZE_TOO_LONG", field="until"
        )
    alert.snoozed_until, alert.snoozed_at, alert.snoozed_by = until, at, person
    await session.flush()
    await outbox.record(
        session,
        AlertSnoozed(**_about(alert), snoozed_until=until, snoozed_by=person, snoozed_at=at),
        source=source,
    )
    return alert


async def comments_of(session: AsyncSession, alert_ids: list[uuid.UUID]) -> list[list[AlertComment]]:
    """Each alert's comments, oldest first, one query for them all."""
    rows = await session.scalars(
        select(AlertComment)
        .where(col(AlertComment.alert_id).in_(alert_ids))
        .order_by(col(AlertComment.at), col(AlertComment.id))
    )
    found: dict[uuid.UUID, list[AlertComment]] = {ident: [] for ident in alert_ids}
    for row in rows:
        found[row.alert_id].append(row)
    return [found[ident] for ident in alert_ids]
