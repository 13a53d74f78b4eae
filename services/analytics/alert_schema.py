"""GraphQL of alerts (сигналы): what each says in Russian and what to do, who works it, and the
mutations that work it. ``AlertQuery`` and ``AlertMutation`` are merged into the subgraph's root
types; the resolvers are thin adapters over :mod:`.alert_work` (the rules) and
:mod:`.alert_text` (the words).

Alerts name schools that need attention and why, so reading them is for signed-in users
(``@authenticated``), each told of the schools in their scope (:func:`.advice_schema.advised`).
Working them — acknowledging, assigning, commenting, snoozing — is for those who may act on the
alert's school: its region's admin, its municipality's coordinator, its own representative
(``@requiresScopes`` of those roles, then :func:`.alert_work.target` in ``run_command``, which
audits the write). Experts and viewers read alerts and do not work them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from setka_contracts.analytics import AlertRule
from setka_runtime.access import PARTICIPANTS, Identity
from setka_runtime.graphql import (
    ValidationError,
    batched,
    identity,
    reading,
    require_id,
    run_command,
    sized,
    to_uuid,
)
from setka_runtime.graphql_derive import ModelType
from setka_runtime.moments import aware
from setka_runtime.reach import Reach
from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from strawberry.types import Info

from . import alert_text, alert_work
from .advice_schema import advised
from .alert_work import AlertStatus
from .models import Alert as AlertRow
from .models import AlertComment as AlertCommentRow
from .models import Network, Organization

MAX_ALERTS = 500
"""Most alerts one request answers, newest first."""
NOTHING = uuid.UUID(int=0)
"""Stands for a filter id that is not a UUID: it matches nothing instead of being ignored."""

strawberry.enum(
    AlertStatus,
    description="Where an alert stands: open (nobody took it on), acknowledged (someone did), snoozed "
    "(put aside until a day), resolved (its rule no longer holds)",
)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def now_of(info: Info) -> datetime:
    """The moment of the request: the context's clock (tests set one), else the time in UTC."""
    clock: Callable[[], datetime] | None = info.context.get("clock")
    return clock() if clock else datetime.now(UTC)


def source_of(info: Info) -> str:
    """The CloudEvents source of what the service publishes."""
    return f"/setka/{info.context.get('service_name', 'analytics')}"


@strawberry.type(description="A comment on an alert: who wrote it, when, and what")
class AlertComment(
    ModelType,
    model=AlertCommentRow,
    exclude=["alert_id"],
    describe={"author": "Who wrote it: the subject of their token", "text": "What they wrote"},
):
    @classmethod
    def present(cls, row: AlertCommentRow) -> AlertComment:
        return cls.of(row, at=_aware(row.at))


@strawberry.type(
    description="An alert for the network's coordinators (сигнал): what happened and what to do, in "
    "Russian, and who is working it"
)
class Alert(
    ModelType,
    model=AlertRow,
    exclude=["details"],
    describe={
        "rule": AlertRule,
        "subject_id": "What it is about: the school, the plan item, the deficit or the activity",
        "organization_id": "The school, the item's responsible organization, the deficit's "
        "organization or the activity's host",
        "acknowledged_at": "When someone took it on",
        "acknowledged_by": "Who took it on: the subject of their token",
        "assignee_organization_id": "The organization it is assigned to",
        "assignee_subject": "The person it is assigned to: the subject of their token",
        "assigned_at": "When it was last assigned",
        "assigned_by": "Who assigned it",
        "snoozed_until": "The day a snoozed alert is listed as open again",
        "snoozed_at": "When it was last snoozed",
        "snoozed_by": "Who snoozed it",
    },
):
    since_on: date | None = strawberry.field(
        description="The day the rule counts from: the school's last activity in the network (or "
        "its joining), the item's due day, the day of diagnosis, the day the activity was held"
    )
    threshold_days: int | None = strawberry.field(
        description="The rule's N days, when it has one (for an idle school: school days, the "
        "holidays not counted)"
    )
    status: AlertStatus = strawberry.field(description="Where the alert stands today")
    title: str = strawberry.field(description="What happened and to whom, in Russian (names the school)")
    advice: str = strawberry.field(description="Why it matters and what to do, in Russian")
    organization_name: str | None = strawberry.field(description="The organization's short name")
    network_name: str | None = strawberry.field(description="The network's name")
    assignee_organization_name: str | None = strawberry.field(
        description="The short name of the organization it is assigned to"
    )
    may_act: bool = strawberry.field(
        description="Whether you may work it (acknowledge, assign, comment, snooze): its school is "
        "in your scope and your role is not a read-only one"
    )

    @classmethod
    def present(cls, row: AlertRow, names: alert_text.Names, *, today: date, may_act: bool) -> Alert:
        since = (row.details or {}).get("since_on")
        text = alert_text.compose(row, names)
        return cls.of(
            row,
            raised_at=_aware(row.raised_at),
            resolved_at=_aware(row.resolved_at),
            acknowledged_at=_aware(row.acknowledged_at),
            assigned_at=_aware(row.assigned_at),
            snoozed_at=_aware(row.snoozed_at),
            since_on=date.fromisoformat(since) if since else None,
            threshold_days=(row.details or {}).get("threshold_days"),
            status=alert_work.status_of(row, today),
            title=text.title,
            advice=text.advice,
            organization_name=names.organization(row.organization_id),
            network_name=names.network(row.network_id),
            assignee_organization_name=names.organization(row.assignee_organization_id),
            may_act=may_act,
        )

    @strawberry.field(description="Comments, oldest first")
    async def comments(self, info: Info) -> list[AlertComment]:
        ident = to_uuid(self.id)
        if ident is None:
            return []
        rows = await batched(info, "alert_comments", alert_work.comments_of, ident)
        return [AlertComment.present(row) for row in rows]


AlertResult = Annotated[Alert | ValidationError, strawberry.union("AlertResult")]


def _filter_id(value: object) -> uuid.UUID | None:
    return (to_uuid(value) or NOTHING) if value else None


def within(reach: Reach) -> ColumnElement[bool] | None:
    """Alerts about a school within ``reach``, or about a network within it when no organization
    is concerned; None when every alert is."""
    by_school = reach.organizations(col(AlertRow.organization_id), Organization)
    if by_school is None:
        return None
    by_network = reach.networks(col(AlertRow.network_id), Network)
    return or_(by_school, and_(col(AlertRow.organization_id).is_(None), by_network))


@strawberry.type
class AlertQuery:
    @strawberry.federation.field(
        authenticated=True,
        description=f"Alerts about the schools and networks in your scope, newest first (≤ {MAX_ALERTS}):"
        " of a network, of an organization; those that need attention today (the default: open or "
        "acknowledged, a snoozed one from its day on), resolved ones (open: false), all (open: null), "
        "or those of one status; the newest `first` of them",
        directives=sized(MAX_ALERTS, argument="first"),
    )
    async def alerts(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        organization_id: strawberry.ID | None = None,
        open: bool | None = True,
        status: Annotated[
            AlertStatus | None,
            strawberry.argument(description="Only alerts of this status (then open is ignored)"),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description=f"How many, newest first (1–{MAX_ALERTS})")
        ] = 100,
    ) -> list[Alert]:
        return await _alerts(info, network_id, organization_id, open, status, first=first)

    @strawberry.federation.field(
        authenticated=True, description="One alert about a school or network in your scope; null outside it"
    )
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        found = await _alerts(info, None, None, None, None, first=1, alert_id=_filter_id(id) or NOTHING)
        return found[0] if found else None


async def _alerts(
    info: Info,
    network_id: object,
    organization_id: object,
    open: bool | None,
    status: AlertStatus | None,
    *,
    first: int,
    alert_id: uuid.UUID | None = None,
) -> list[Alert]:
    """The alerts the caller sees, newest first, filtered as :meth:`AlertQuery.alerts` says."""
    caller, today = identity(info), now_of(info).date()
    acting = within(advised(caller, acting=True))
    query = select(AlertRow, (true() if acting is None else acting).label("may_act"))
    if alert_id is not None:
        query = query.where(AlertRow.id == alert_id)
    if (network := _filter_id(network_id)) is not None:
        query = query.where(AlertRow.network_id == network)
    if (organization := _filter_id(organization_id)) is not None:
        query = query.where(AlertRow.organization_id == organization)
    if (reading_scope := within(advised(caller))) is not None:
        query = query.where(reading_scope)
    if status is not None:
        query = query.where(alert_work.in_status(status, today))
    elif open is not None:
        query = query.where(
            alert_work.needing_attention(today) if open else col(AlertRow.resolved_at).is_not(None)
        )
    limit = min(max(first, 1), MAX_ALERTS)
    query = query.order_by(col(AlertRow.raised_at).desc(), col(AlertRow.id)).limit(limit)
    async with reading(info) as session:
        found = (await session.execute(query)).all()
        names = await alert_text.names_of(session, [row for row, _ in found])
    return [Alert.present(row, names, today=today, may_act=bool(may)) for row, may in found]


Work = Callable[[AsyncSession, uuid.UUID, Identity, datetime], Awaitable[AlertRow]]


def _working(description: str) -> Any:
    """A mutation of those who may work an alert (see the module's docstring)."""
    return strawberry.federation.mutation(
        description=description, requires_scopes=[[role.value] for role in PARTICIPANTS]
    )


async def _work(info: Info, alert_id: strawberry.ID, work: Work) -> Alert | ValidationError:
    """``work`` on the alert in one audited transaction, by a caller who may act on its school."""
    caller, now = identity(info), now_of(info)

    async def action(session: AsyncSession) -> Alert:
        row = await work(session, require_id(alert_id, "alertId"), caller, now)
        names = await alert_text.names_of(session, [row])
        return Alert.present(row, names, today=now.date(), may_act=True)

    return await run_command(
        info,
        lambda shown: shown,
        action,
        scope=lambda session: alert_work.target(session, alert_id),
        roles=PARTICIPANTS,
    )


@strawberry.type
class AlertMutation:
    @_working("Take an open alert on (once): you saw it and are dealing with it")
    async def acknowledge_alert(self, info: Info, alert_id: strawberry.ID) -> AlertResult:
        source = source_of(info)
        return await _work(
            info,
            alert_id,
            lambda s, ident, caller, now: alert_work.acknowledge(
                s, ident, by=caller.subject, at=now, source=source
            ),
        )

    @_working(
        "Give an open alert to an organization (its id) or to a person (the subject of their token), "
        "one of the two; assigning again gives it to the new one"
    )
    async def assign_alert(
        self,
        info: Info,
        alert_id: strawberry.ID,
        organization_id: strawberry.ID | None = None,
        subject: str | None = None,
    ) -> AlertResult:
        source = source_of(info)

        def organization() -> uuid.UUID | None:
            return None if organization_id is None else require_id(organization_id, "organizationId")

        return await _work(
            info,
            alert_id,
            lambda s, ident, caller, now: alert_work.assign(
                s,
                ident,
                organization_id=organization(),
                subject=subject,
                by=caller.subject,
                at=now,
                source=source,
            ),
        )

    @_working(f"Comment on an alert, open or resolved (≤ {alert_work.MAX_COMMENT} characters)")
    async def comment_on_alert(self, info: Info, alert_id: strawberry.ID, text: str) -> AlertResult:
        source = source_of(info)
        return await _work(
            info,
            alert_id,
            lambda s, ident, caller, now: alert_work.comment(
                s, ident, text, by=caller.subject, at=now, source=source
            ),
        )

    @_working(
        "Put an open alert aside until a day after today (at most a year ahead): it is listed as open "
        "again on that day if its rule still holds; snoozing again moves the day"
    )
    async def snooze_alert(self, info: Info, alert_id: strawberry.ID, until: date) -> AlertResult:
        source = source_of(info)
        return await _work(
            info,
            alert_id,
            lambda s, ident, caller, now: alert_work.snooze(
                s, ident, until, today=now.date(), by=caller.subject, at=now, source=source
            ),
        )
