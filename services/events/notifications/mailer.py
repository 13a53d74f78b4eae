"""Sending e-mails over SMTP, each once, with its state recorded around the send.

A message is taken (``pending`` → ``sending``, with the moment and one more attempt) and committed
before the SMTP conversation; once the server has accepted it, it is marked ``sent``. A failure
puts it back to ``pending`` with a growing pause, and after ``max_attempts`` it is ``failed``.

If the process dies after the server accepted a message and before ``sent`` was recorded, the
message stays ``sending``; once its lease has passed it is sent again: at most one duplicate per
such crash, carrying the same ``Message-ID`` (the message's id), so a mail client that collapses
messages by Message-ID shows it once. Nothing is lost, and nothing is sent twice otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import smtplib
import ssl
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from setka_runtime.db import Database
from sqlalchemy import and_, or_, select, update

from .models import EmailMessage
from .settings import NotificationSettings

log = logging.getLogger(__name__)

BATCH = 50
table = EmailMessage.__table__  # type: ignore[attr-defined]


def compose(settings: NotificationSettings, row: Any) -> Message:
    """The MIME message: plain text and HTML alternatives in UTF-8, its id as the Message-ID. The
    subject is one RFC 2047 header encoded whole (the newer ``EmailMessage`` folds a long Cyrillic
    subject into encoded words that lose the spaces between them)."""
    message = MIMEMultipart("alternative")
    message["From"] = settings.from_address
    message["To"] = row.address
    message["Subject"] = Header(row.subject_line, "utf-8")
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    domain = settings.from_address.rpartition("@")[2] or "setka"
    message["Message-ID"] = f"<{row.id}@{domain}>"
    message.attach(MIMEText(row.text, "plain", "utf-8"))
    message.attach(MIMEText(row.html, "html", "utf-8"))
    return message


def send_over_smtp(settings: NotificationSettings, message: Message) -> None:
    """One SMTP conversation (blocking: run in a thread)."""
    assert settings.smtp_host
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(message)


class Mailer:
    """Sends what :mod:`.delivery` and :mod:`.schedule` queued, until cancelled."""

    def __init__(self, db: Database, settings: NotificationSettings) -> None:
        self.db = db
        self.settings = settings
        self.send = send_over_smtp
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sending e-mails failed (%s: %s); retrying", type(exc).__name__, exc)
                sent = 0
            if sent:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.send_poll_seconds)

    async def take(self) -> list[Any]:
        """Mark a batch of due messages ``sending`` and return them (committed before any send)."""
        now = datetime.now(UTC)
        stale = now - timedelta(seconds=self.settings.lease_seconds)
        async with self.db.session() as session, session.begin():
            due = (
                select(table.c.id)
                .where(
                    or_(
                        and_(table.c.status == "pending", table.c.not_before <= now),
                        and_(table.c.status == "sending", table.c.sending_since < stale),
                    )
                )
                .order_by(table.c.created_at, table.c.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            await session.execute(
                update(table)
                .where(table.c.id.in_(ids))
                .values(status="sending", sending_since=now, attempts=table.c.attempts + 1)
            )
            return list((await session.execute(select(table).where(table.c.id.in_(ids)))).all())

    async def send_pending(self) -> int:
        rows = await self.take()
        for row in rows:
            try:
                await asyncio.to_thread(self.send, self.settings, compose(self.settings, row))
            except (smtplib.SMTPException, OSError) as exc:
                await self._failed(row, f"{type(exc).__name__}: {exc}")
                continue
            async with self.db.session() as session, session.begin():
                await session.execute(
                    update(table)
                    .where(table.c.id == row.id)
                    .values(status="sent", sent_at=datetime.now(UTC), error=None)
                )
        return len(rows)

    async def _failed(self, row: Any, reason: str) -> None:
        last = row.attempts >= self.settings.max_attempts
        pause = timedelta(seconds=min(2**row.attempts * 5, 3600))
        log.warning("e-mail %s to its recipient not sent (try %d): %s", row.id, row.attempts, reason)
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(
                    status="failed" if last else "pending",
                    not_before=datetime.now(UTC) + pause,
                    error=reason[:1000],
                )
            )
