"""The periodic part of the notifier: plan items falling due (once per item), the daily digest
(one e-mail a day per person who asked for it, with everything of their day, at the set hour) and
the retention (``NOTIFY_RETENTION_DAYS``): older notifications, their read marks and sent or failed
e-mails are deleted."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from setka_contracts.events import ActivityStatus, PlanStatus
from setka_runtime.db import Database
from setka_runtime.sql import insert_ignoring_conflicts
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Activity, Plan, PlanItem
from . import messages
from .delivery import ORGANIZATION, PERSON, derived_id, queue
from .models import (
    EmailMessage,
    Notification,
    NotificationPreference,
    NotificationRead,
    PlanItemDueNotice,
)
from .rules import Rules
from .settings import NotificationSettings

log = logging.getLogger(__name__)

OPEN_PLANS = (PlanStatus.agreed.value, PlanStatus.in_progress.value)
DONE_ACTIVITIES = (ActivityStatus.held.value, ActivityStatus.reported.value)
DONE_EMAILS = ("sent", "failed")


class Schedule:
    def __init__(self, db: Database, settings: NotificationSettings, rules: Rules) -> None:
        self.db = db
        self.settings = settings
        self.rules = rules
        self.zone = ZoneInfo(settings.timezone)

    async def run(self) -> None:
        while True:
            try:
                now = datetime.now(UTC)
                await self.items_due(now.astimezone(self.zone).date())
                await self.expire(now)
                if self.settings.email_on:
                    await self.digests(now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the notifier's check failed (%s: %s); retrying", type(exc).__name__, exc)
            await asyncio.sleep(self.settings.check_seconds)

    # -- plan items ----------------------------------------------------------------------------

    async def items_due(self, today: date) -> int:
        """Tell the responsible organization of each open item due by ``today`` (plus the
        setting's days), once per item; return how many were told."""
        horizon = today + timedelta(days=self.settings.due_days_before)
        held = exists().where(Activity.plan_item_id == PlanItem.id, Activity.status.in_(DONE_ACTIVITIES))  # type: ignore[attr-defined]
        noticed = exists().where(PlanItemDueNotice.item_id == PlanItem.id)
        async with self.db.session() as session, session.begin():
            rows = (
                await session.execute(
                    select(PlanItem, Plan)
                    .join(Plan, Plan.id == PlanItem.plan_id)
                    .where(
                        Plan.status.in_(OPEN_PLANS),  # type: ignore[attr-defined]
                        PlanItem.due_on <= horizon,
                        PlanItem.withdrawn_at.is_(None),  # type: ignore[union-attr]
                        PlanItem.done_at.is_(None),  # type: ignore[union-attr]
                        PlanItem.responsible_organization_id.is_not(None),  # type: ignore[union-attr]
                        ~held,
                        ~noticed,
                    )
                    .limit(500)
                )
            ).all()
            for item, plan in rows:
                claimed = await session.execute(
                    insert_ignoring_conflicts(session, PlanItemDueNotice.__table__).values(  # type: ignore[attr-defined]
                        item_id=item.id, noticed_at=datetime.now(UTC)
                    )
                )
                if claimed.rowcount:
                    await self.rules.item_due(session, item, plan)
        return len(rows)

    # -- retention -----------------------------------------------------------------------------

    async def expire(self, now: datetime) -> int:
        """Delete the notifications made more than the retention's days before ``now`` (with their
        read marks) and the e-mails done with by then; return how many notifications went."""
        days = self.settings.retention_days
        if not days:
            return 0
        horizon = now - timedelta(days=days)
        old = select(Notification.id).where(Notification.created_at < horizon)
        async with self.db.session() as session, session.begin():
            await session.execute(delete(NotificationRead).where(NotificationRead.notification_id.in_(old)))  # type: ignore[attr-defined]
            gone = await session.execute(delete(Notification).where(Notification.created_at < horizon))
            await session.execute(
                delete(EmailMessage).where(
                    EmailMessage.created_at < horizon,
                    EmailMessage.status.in_(DONE_EMAILS),  # type: ignore[attr-defined]
                )
            )
        count = int(gone.rowcount or 0)
        if count:
            log.info("notifications older than %d days deleted: %d", days, count)
        return count

    # -- digests -------------------------------------------------------------------------------

    def last_digest_day(self, now: datetime) -> date:
        """The day of the latest digest moment at or before ``now``."""
        local = now.astimezone(self.zone)
        return local.date() if local.hour >= self.settings.digest_hour else local.date() - timedelta(days=1)

    def digest_moment(self, day: date) -> datetime:
        return datetime.combine(day, time(self.settings.digest_hour), tzinfo=self.zone)

    def next_digest_after(self, moment: datetime) -> datetime:
        """The first digest moment after ``moment``: when what was said then is sent in a digest."""
        return self.digest_moment(self.last_digest_day(moment) + timedelta(days=1))

    async def digests(self, now: datetime) -> int:
        """Queue the digest of the day that ended at the latest digest moment, for each person on
        the digest who has not had it; return how many were queued."""
        day = self.last_digest_day(now)
        end = self.digest_moment(day)
        start = end - timedelta(days=1)
        queued = 0
        async with self.db.session() as session, session.begin():
            people = (
                await session.scalars(
                    select(NotificationPreference).where(
                        NotificationPreference.digest.is_(True),  # type: ignore[attr-defined]
                        NotificationPreference.email_enabled.is_(True),  # type: ignore[attr-defined]
                        NotificationPreference.email.is_not(None),  # type: ignore[union-attr]
                    )
                )
            ).all()
            for person in people:
                source = f"digest|{day.isoformat()}"
                recipient = f"{PERSON}:{person.subject}"
                sent = await session.scalar(
                    select(EmailMessage.id).where(
                        EmailMessage.recipient == recipient, EmailMessage.source == source
                    )
                )
                if sent is not None:
                    continue
                items = await _of_person(session, person, start, end)
                if not items:
                    continue
                email = messages.digest(
                    day, [(n.title, n.text, n.link) for n in items], self.settings.workspace_url
                )
                await queue(
                    session,
                    [
                        {
                            "id": derived_id(source, recipient, "email"),
                            "recipient": recipient,
                            "source": source,
                            "address": person.email,
                            "subject_line": email.subject[:500],
                            "text": email.text,
                            "html": email.html,
                            "digest_day": day,
                            "created_at": datetime.now(UTC),
                            "not_before": datetime.now(UTC),
                        }
                    ],
                )
                queued += 1
        return queued


async def _of_person(
    session: AsyncSession, person: NotificationPreference, start: datetime, end: datetime
) -> list[Notification]:
    mine = [(Notification.recipient_kind == PERSON) & (Notification.recipient == person.subject)]
    if person.organization_id is not None:
        mine.append(
            (Notification.recipient_kind == ORGANIZATION)
            & (Notification.recipient == str(person.organization_id))
        )
    query = (
        select(Notification)
        .where(or_(*mine), Notification.created_at >= start, Notification.created_at < end)
        .order_by(Notification.created_at, Notification.id)
    )
    if person.muted_kinds:
        query = query.where(Notification.kind.not_in(person.muted_kinds))  # type: ignore[attr-defined]
    return list((await session.scalars(query)).all())
