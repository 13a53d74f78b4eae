"""Events of the analytics service: alerts for the network's coordinators (сигналы), what people
do with them, and the school holidays the alert rules count around.

An alert is raised by a rule about one subject (a supported school, a plan item, a diagnosed
deficit, a held activity) and resolved when the rule no longer holds for it; in between, people in
the alert's scope acknowledge it, assign it, comment on it and snooze it. Every alert event is
keyed by the subject's id, so everything that happens to one subject stays in order. They carry
ids, days and counts only, never personal data: a person is the subject of their token, and a
comment's text stays in analytics (free text may name people; it is read through GraphQL, in scope).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from . import topics
from .base import EventData


class AlertRule(StrEnum):
    """What an alert is about; each rule names the kind of its subject."""

    no_network_activity = "no_network_activity"
    """A supported school took part in no activity of its network for N days (subject: the school)."""
    plan_item_overdue = "plan_item_overdue"
    """A plan item's day is past and no activity of it was held, nor (a task) was it marked done
    (subject: the plan item)."""
    deficit_without_training = "deficit_without_training"
    """A diagnosed deficit was followed by no training for N days (subject: the deficit)."""
    attendance_missing = "attendance_missing"
    """An activity was held and no attendance of it was recorded (subject: the activity)."""


class _AlertEvent(EventData):
    topic: ClassVar[str] = topics.ANALYTICS
    key_field: ClassVar[str] = "subject_id"

    alert_id: uuid.UUID = Field(description="Our id of the alert")
    rule: AlertRule = Field(description="The rule that raised the alert")
    subject_id: uuid.UUID = Field(
        description="What the alert is about: the school, the plan item, the deficit or the activity"
    )
    organization_id: uuid.UUID | None = Field(
        default=None,
        description="The organization concerned: the school, the plan item's responsible "
        "organization, the deficit's organization or the activity's host",
    )
    network_id: uuid.UUID | None = Field(
        default=None, description="The network concerned, when the rule is about one"
    )
    raised_at: datetime = Field(description="When the rule first found the subject")


class AlertRaised(_AlertEvent):
    """A rule found a subject that needs attention (сигнал для координатора сети)."""

    event_type = "setka.analytics.alert.raised.v1"

    since_on: date | None = Field(
        default=None,
        description="The day the rule counts from: the school's last activity in the network (or "
        "its joining, if none), the plan item's due day, the day of diagnosis, the day the "
        "activity was held",
    )
    threshold_days: int | None = Field(
        default=None, description="The rule's N days (a setting of analytics), when it has one"
    )


class AlertResolved(_AlertEvent):
    """The rule no longer holds for the alert's subject: the missing fact arrived, or the subject
    is gone (membership ended, organization archived, plan closed)."""

    event_type = "setka.analytics.alert.resolved.v1"

    resolved_at: datetime = Field(description="When the rule first found the subject no longer concerned")


class AlertAcknowledged(_AlertEvent):
    """Someone in the alert's scope took it on: they saw it and are dealing with it."""

    event_type = "setka.analytics.alert.acknowledged.v1"

    acknowledged_by: str = Field(description="Who: the subject of their token")
    acknowledged_at: datetime = Field(description="When")


class AlertAssigned(_AlertEvent):
    """The alert was given to an organization or a person to act on (exactly one of the two)."""

    event_type = "setka.analytics.alert.assigned.v1"

    assignee_organization_id: uuid.UUID | None = Field(
        default=None, description="The organization that is to act on it (the registry's id)"
    )
    assignee_subject: str | None = Field(
        default=None, description="The person who is to act on it: the subject of their token"
    )
    assigned_by: str = Field(description="Who assigned it: the subject of their token")
    assigned_at: datetime = Field(description="When")


class AlertCommented(_AlertEvent):
    """Someone commented on the alert. The text is not in the event: it is read through GraphQL,
    by those whose scope covers the alert."""

    event_type = "setka.analytics.alert.commented.v1"

    comment_id: uuid.UUID = Field(description="Our id of the comment")
    commented_by: str = Field(description="Who: the subject of their token")
    commented_at: datetime = Field(description="When")


class AlertSnoozed(_AlertEvent):
    """The alert is put aside until a day: it is not listed as open before that day."""

    event_type = "setka.analytics.alert.snoozed.v1"

    snoozed_until: date = Field(description="The day it is listed as open again")
    snoozed_by: str = Field(description="Who: the subject of their token")
    snoozed_at: datetime = Field(description="When")


class BreakKind(StrEnum):
    """The school holidays of a Russian school year (каникулы)."""

    autumn = "autumn"
    winter = "winter"
    spring = "spring"
    summer = "summer"


class SchoolBreak(BaseModel):
    """One break of a school year, both days included."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: BreakKind = Field(description="autumn, winter, spring or summer")
    starts_on: date = Field(description="The first day of the break")
    ends_on: date = Field(description="The last day of the break (included)")


class SchoolBreaksSet(EventData):
    """A region's school holidays of one school year were set (by a regional admin, an operator's
    command or the defaults): the breaks listed replace the year's earlier ones. The alert rules
    do not count the days of a break (a summer without activities is no idle school)."""

    event_type = "setka.analytics.school_breaks.set.v1"
    topic: ClassVar[str] = topics.ANALYTICS
    key_field: ClassVar[str] = "region_code"

    region_code: str = Field(description="Code of the subject of the Russian Federation, e.g. '39'")
    school_year: int = Field(description="The year the school year starts in: 2025 for 2025/26")
    breaks: list[SchoolBreak] = Field(default_factory=list, description="The year's breaks, by first day")
    set_by: str = Field(description="Who: the subject of a regional admin's token, or 'operator'")
    set_at: datetime = Field(description="When")


EVENTS: tuple[type[EventData], ...] = (
    AlertRaised,
    AlertResolved,
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertSnoozed,
    SchoolBreaksSet,
)
"""Every event type analytics publishes, for the catalog."""
