"""The notifier's tables: what each recipient is told (the list), what each person wants, and each
e-mail with the state of its sending."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from setka_runtime.tables import no_items
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from ..models import EventsModel, _when, now


class Notification(EventsModel, table=True):
    """One thing one recipient is told: a person (``recipient_kind`` person, ``recipient`` the
    token's subject) or an organization (its id), as the list in the workspace shows it. Its id is
    derived from the source event and the recipient, so a redelivered event adds nothing."""

    __tablename__ = "notification"

    id: uuid.UUID = Field(primary_key=True)
    recipient_kind: str = Field(max_length=20)
    recipient: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=500)
    text: str = Field(max_length=4000)
    link: str | None = Field(default=None, max_length=1000)
    source: str = Field(max_length=300, description="The event it came from (source and id), or the check")
    created_at: datetime = _when(default_factory=now, index=True)


class NotificationRead(EventsModel, table=True):
    """That a person has read a notification (an organization's is read by each of its people)."""

    __tablename__ = "notification_read"

    notification_id: uuid.UUID = Field(foreign_key="notification.id", primary_key=True)
    subject: str = Field(max_length=200, primary_key=True)
    read_at: datetime = _when(default_factory=now)


class NotificationPreference(EventsModel, table=True):
    """A person's notification settings and the one place their e-mail address is kept (from the
    identity provider's ``email`` claim; erased with the person)."""

    __tablename__ = "notification_preference"

    subject: str = Field(primary_key=True, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    organization_id: uuid.UUID | None = Field(default=None, index=True)
    email_enabled: bool = True
    digest: bool = Field(default=False, description="One e-mail a day instead of one per notification")
    muted_kinds: list[str] = Field(default_factory=no_items, sa_type=JSON)
    updated_at: datetime = _when(default_factory=now)


class EmailMessage(EventsModel, table=True):
    """One e-mail to one address: pending → sending → sent (or failed after its tries). The id is
    derived from (source event, recipient, channel), or (person, day) for a digest; it is also the
    Message-ID, so a message sent again after a crash carries the same one."""

    __tablename__ = "email_message"
    __table_args__ = (UniqueConstraint("recipient", "source", name="uq_email_message_recipient_source"),)

    id: uuid.UUID = Field(primary_key=True)
    recipient: str = Field(max_length=250, description="person:<subject> or organization:<id>")
    source: str = Field(max_length=300)
    address: str = Field(max_length=254)
    subject_line: str = Field(max_length=500)
    text: str
    html: str
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    not_before: datetime = _when(default_factory=now)
    sending_since: datetime | None = _when(default=None)
    sent_at: datetime | None = _when(default=None)
    error: str | None = Field(default=None, max_length=1000)
    digest_day: date | None = None
    created_at: datetime = _when(default_factory=now)


class PlanItemDueNotice(EventsModel, table=True):
    """That a plan item's responsible organization was told it falls due (once per item)."""

    __tablename__ = "plan_item_due_notice"

    item_id: uuid.UUID = Field(primary_key=True)
    noticed_at: datetime = _when(default_factory=now)
