"""Events of the analytics service: alerts for the network's coordinators (сигналы).

An alert is raised by a rule about one subject (a supported school, a plan item, a diagnosed
deficit, a held activity) and resolved when the rule no longer holds for it. Both events carry
ids, days and counts only, never personal data, and are keyed by the subject's id, so every
raise and resolve of one subject stays in order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from . import topics
from .base import EventData


class AlertRule(StrEnum):
    """What an alert is about; each rule names the kind of its subject."""

    no_network_activity = "no_network_activity"
    """A supported school took part in no activity of its network for N days (subject: the school)."""
    plan_item_overdue = "plan_item_overdue"
    """A plan item's day is past and no activity of it was held (subject: the plan item)."""
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


EVENTS: tuple[type[EventData], ...] = (AlertRaised, AlertResolved)
"""Every event type analytics publishes, for the catalog."""
