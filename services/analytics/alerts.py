"""Alerts for the network's coordinators (сигналы): four rules over the read models, evaluated for
a moment "now", each alert raised and resolved as an event on ``setka.analytics``.

Each rule answers, in one query, which subjects should have an open alert now; an open alert whose
subject is no longer among them is resolved, a subject without one gets one. The alert rows and
their events are written in one transaction (the outbox), so an alert is never raised twice nor
resolved again, and a crash loses neither the row nor its event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from setka_contracts.analytics import AlertRaised, AlertResolved, AlertRule
from setka_contracts.events import ActivityStatus, PlanStatus
from setka_contracts.registry import MemberRole
from setka_runtime import outbox
from setka_runtime.db import Database
from sqlalchemy import ColumnElement, Date, and_, case, func, literal, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from . import school_calendar
from .indicators import deficit_overdue, prepared
from .models import (
    Activity,
    Alert,
    Attendance,
    Deficit,
    Membership,
    Network,
    Organization,
    Plan,
    PlanItem,
)
from .settings import AnalyticsSettings

log = logging.getLogger(__name__)

HELD = (ActivityStatus.held.value, ActivityStatus.reported.value)
"""An activity in one of these states took place."""

_LOCK_KEY = 0x5E7CA_A1E27
"""PostgreSQL advisory lock taken by an evaluation, so two processes never raise one alert twice."""


@dataclass(frozen=True)
class Finding:
    """A subject for which a rule holds now, with what the alert says of it."""

    rule: AlertRule
    subject_id: uuid.UUID
    organization_id: uuid.UUID | None
    network_id: uuid.UUID | None
    since_on: date | None
    threshold_days: int | None = None

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID | None]:
        """What one open alert of a rule stands for: its subject (and, for a school, the network)."""
        return self.subject_id, self.network_id

    def details(self) -> dict[str, Any]:
        return {
            "since_on": self.since_on.isoformat() if self.since_on else None,
            "threshold_days": self.threshold_days,
        }


Rule = Callable[[AsyncSession, AnalyticsSettings, datetime], Awaitable[list[Finding]]]


async def _school_days_cutoff(session: AsyncSession, today: date, days: int) -> ColumnElement[date]:
    """The last day of activity (or of joining) that leaves a school idle for ``days`` school days
    by today, by the school's region: ``today - days`` where no break is known, earlier by the
    days of the region's breaks since. Breaks take less than half of a year's days, so the breaks
    that matter start less than ``2 * days`` days (and one summer) back."""
    since = today - timedelta(days=2 * days + 400)
    spans = await school_calendar.spans_by_region(session, since, today)
    plain = literal(today - timedelta(days=days), Date)
    cutoffs = {
        region: school_calendar.school_days_cutoff(today, days, found) for region, found in spans.items()
    }
    cutoffs = {region: day for region, day in cutoffs.items() if day != plain.value}
    if not cutoffs:
        return plain
    return case(
        {region: literal(day, Date) for region, day in cutoffs.items()},
        value=col(Organization.region_code),
        else_=plain,
    )


def _not_archived() -> ColumnElement[bool]:
    """The organization is not known to be archived (one analytics has not heard of yet counts)."""
    return col(Organization.archived_at).is_(None)


async def schools_without_network_activity(
    session: AsyncSession, settings: AnalyticsSettings, now: datetime
) -> list[Finding]:
    """Supported schools that took part in no activity of their network for N school days.

    Taking part is an educator (or the school as a whole) attending one of the network's
    activities, or the school hosting one that was held. N days are counted from the last such
    day, or from joining the network when there was none, so a school that joined lately is given
    its N days; the days of its region's school holidays are not counted (:mod:`.school_calendar`),
    so a summer without activities raises nothing. A school that left, a network that ended and
    an archived school are not alerted.
    """
    today = now.date()
    days = settings.alert_no_activity_days
    cutoff = await _school_days_cutoff(session, today, days)
    attended = select(
        Attendance.organization_id.label("organization_id"),
        Attendance.network_id.label("network_id"),
        Attendance.activity_day.label("day"),
    ).where(col(Attendance.network_id).is_not(None), Attendance.activity_day <= today)
    hosted = select(Activity.host_organization_id, Activity.network_id, Activity.held_on).where(
        col(Activity.network_id).is_not(None),
        col(Activity.status).in_(HELD),
        col(Activity.held_on) <= today,
    )
    days_of = union_all(attended, hosted).subquery()
    last = (
        select(days_of.c.organization_id, days_of.c.network_id, func.max(days_of.c.day).label("last_on"))
        .group_by(days_of.c.organization_id, days_of.c.network_id)
        .subquery()
    )
    query = (
        select(Membership.organization_id, Membership.network_id, Membership.joined_on, last.c.last_on)
        .outerjoin(Network, Network.id == Membership.network_id)
        .outerjoin(Organization, Organization.id == Membership.organization_id)
        .outerjoin(
            last,
            and_(
                last.c.organization_id == Membership.organization_id,
                last.c.network_id == Membership.network_id,
            ),
        )
        .where(
            Membership.role == MemberRole.supported.value,
            Membership.joined_on <= cutoff,
            or_(col(Membership.left_on).is_(None), col(Membership.left_on) > today),
            or_(col(Network.ended_on).is_(None), col(Network.ended_on) > today),
            _not_archived(),
            or_(last.c.last_on.is_(None), last.c.last_on <= cutoff),
        )
        .order_by(Membership.organization_id, Membership.network_id)
    )
    return [
        Finding(
            rule=AlertRule.no_network_activity,
            subject_id=school,
            organization_id=school,
            network_id=network,
            since_on=max(joined, last_on) if last_on else joined,
            threshold_days=days,
        )
        for school, network, joined, last_on in (await session.execute(query)).all()
    ]


async def overdue_plan_items(
    session: AsyncSession, settings: AnalyticsSettings, now: datetime
) -> list[Finding]:
    """Plan items whose day is past with no activity of theirs held (a task: not marked done), in
    plans not yet closed; an item an amendment withdrew is no longer in the plan.

    The item's day itself is still in time; an activity held late (a task marked done late)
    resolves the alert, and so does closing the plan (the year's analysis then reports the item as
    not held)."""
    held = (
        select(Activity.id)
        .where(Activity.plan_item_id == PlanItem.id, col(Activity.status).in_(HELD))
        .exists()
    )
    query = (
        select(PlanItem.id, PlanItem.responsible_organization_id, PlanItem.network_id, PlanItem.due_on)
        .outerjoin(Plan, Plan.id == PlanItem.plan_id)
        .where(
            PlanItem.due_on < now.date(),
            ~held,
            col(PlanItem.done_on).is_(None),
            ~col(PlanItem.withdrawn),
            or_(col(Plan.status).is_(None), Plan.status != PlanStatus.closed.value),
        )
        .order_by(PlanItem.id)
    )
    return [
        Finding(
            rule=AlertRule.plan_item_overdue,
            subject_id=item,
            organization_id=responsible,
            network_id=network,
            since_on=due_on,
        )
        for item, responsible, network, due_on in (await session.execute(query)).all()
    ]


async def deficits_without_training(
    session: AsyncSession, settings: AnalyticsSettings, now: datetime
) -> list[Finding]:
    """Deficits not addressed within their N days: no training or network activity naming the
    competency followed within N days of the diagnosis (:func:`.indicators.deficit_overdue`, the
    one definition the analysis' indicator and attention list count by too). A follow-up after
    the N days does not resolve it: the deficit was not addressed in time, as the analysis says.
    An archived organization's deficits are not alerted."""
    await prepared(session)
    days = settings.deficit_follow_up_days
    query = (
        select(Deficit.id, Deficit.organization_id, Deficit.diagnosed_on)
        .outerjoin(Organization, Organization.id == Deficit.organization_id)
        .where(deficit_overdue(days, now.date()), _not_archived())
        .order_by(Deficit.id)
    )
    return [
        Finding(
            rule=AlertRule.deficit_without_training,
            subject_id=deficit,
            organization_id=organization,
            network_id=None,
            since_on=diagnosed_on,
            threshold_days=days,
        )
        for deficit, organization, diagnosed_on in (await session.execute(query)).all()
    ]


async def activities_without_attendance(
    session: AsyncSession, settings: AnalyticsSettings, now: datetime
) -> list[Finding]:
    """Held activities with no attendance recorded once the grace days after them have passed.

    The day held is ``held_on``; an activity held without that day counts from the day it ended
    (in the time zone of "now")."""
    grace = settings.alert_attendance_grace_days
    last_day = now.date() - timedelta(days=grace)
    ended_by = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=now.tzinfo)
    attended = select(Attendance.id).where(Attendance.activity_id == Activity.id).exists()
    query = (
        select(
            Activity.id,
            Activity.host_organization_id,
            Activity.network_id,
            Activity.held_on,
            Activity.ends_at,
        )
        .where(
            col(Activity.status).in_(HELD),
            ~attended,
            or_(
                col(Activity.held_on) <= last_day,
                and_(col(Activity.held_on).is_(None), Activity.ends_at < ended_by),
            ),
        )
        .order_by(Activity.id)
    )
    return [
        Finding(
            rule=AlertRule.attendance_missing,
            subject_id=activity,
            organization_id=host,
            network_id=network,
            since_on=held_on or ends_at.astimezone(now.tzinfo).date(),
            threshold_days=grace,
        )
        for activity, host, network, held_on, ends_at in (await session.execute(query)).all()
    ]


RULES: dict[AlertRule, Rule] = {
    AlertRule.no_network_activity: schools_without_network_activity,
    AlertRule.plan_item_overdue: overdue_plan_items,
    AlertRule.deficit_without_training: deficits_without_training,
    AlertRule.attendance_missing: activities_without_attendance,
}


def _raised(alert: Alert, finding: Finding) -> AlertRaised:
    return AlertRaised(
        alert_id=alert.id,
        rule=finding.rule,
        subject_id=alert.subject_id,
        organization_id=alert.organization_id,
        network_id=alert.network_id,
        raised_at=alert.raised_at,
        since_on=finding.since_on,
        threshold_days=finding.threshold_days,
    )


def _resolved(alert: Alert, resolved_at: datetime) -> AlertResolved:
    raised_at = alert.raised_at
    if raised_at.tzinfo is None:  # SQLite keeps no offset; what it stores is UTC
        raised_at = raised_at.replace(tzinfo=UTC)
    return AlertResolved(
        alert_id=alert.id,
        rule=AlertRule(alert.rule),
        subject_id=alert.subject_id,
        organization_id=alert.organization_id,
        network_id=alert.network_id,
        raised_at=raised_at,
        resolved_at=resolved_at,
    )


async def _exclusively(session: AsyncSession) -> None:
    """On PostgreSQL, wait for any other evaluation to commit first (SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


async def evaluate(
    session: AsyncSession,
    settings: AnalyticsSettings,
    now: datetime,
    *,
    rules: Sequence[AlertRule] = tuple(RULES),
) -> tuple[list[Alert], list[Alert]]:
    """Raise the alerts the rules call for now and resolve those they no longer do, in the
    session's transaction, with an AlertRaised or AlertResolved event for each; returns
    ``(raised, resolved)``. Evaluating again with nothing changed does nothing."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    await _exclusively(session)
    stamp = now.astimezone(UTC)  # the rules count days in now's zone; moments are kept in UTC
    raised: list[Alert] = []
    resolved: list[Alert] = []
    events: list[AlertRaised | AlertResolved] = []
    for rule in rules:
        findings = {finding.key: finding for finding in await RULES[rule](session, settings, now)}
        open_alerts = await session.scalars(
            select(Alert)
            .where(Alert.rule == rule.value, col(Alert.resolved_at).is_(None))
            .order_by(Alert.raised_at, Alert.id)
        )
        still_open: set[tuple[uuid.UUID, uuid.UUID | None]] = set()
        for alert in open_alerts:
            key = (alert.subject_id, alert.network_id)
            if key in findings and key not in still_open:
                still_open.add(key)
                continue
            alert.resolved_at = stamp
            resolved.append(alert)
            events.append(_resolved(alert, stamp))
        for key, finding in findings.items():
            if key in still_open:
                continue
            alert = Alert(
                id=uuid.uuid4(),
                rule=rule.value,
                subject_id=finding.subject_id,
                organization_id=finding.organization_id,
                network_id=finding.network_id,
                raised_at=stamp,
                details=finding.details(),
            )
            session.add(alert)
            raised.append(alert)
            events.append(_raised(alert, finding))
    await session.flush()
    await outbox.record_many(session, events, source=settings.source)
    return raised, resolved


async def alert_loop(
    db: Database, settings: AnalyticsSettings, *, clock: Callable[[], datetime] | None = None
) -> None:
    """Evaluate the rules every ``ANALYTICS_ALERT_INTERVAL_SECONDS`` until cancelled; a failed
    evaluation (the database away) is logged and tried again at the next interval."""
    while True:
        now = clock() if clock else datetime.now(UTC)
        try:
            async with db.session() as session, session.begin():
                raised, resolved = await evaluate(session, settings, now)
            if raised or resolved:
                log.info("alerts: %d raised, %d resolved", len(raised), len(resolved))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alerts: evaluation failed; trying again in %s s", settings.alert_interval_seconds)
        await asyncio.sleep(settings.alert_interval_seconds)
