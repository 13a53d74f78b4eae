"""The audit trail's retention (``AUDIT_RETENTION_DAYS``; unset: kept for ever).

Entries older than the retention are deleted every ``ANALYTICS_AUDIT_RETENTION_INTERVAL_SECONDS``.
The trail holds no personal data (subjects are token subjects, events are named by type and key),
so an erasure leaves it as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from setka_runtime.db import Database
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry
from .settings import AnalyticsSettings

log = logging.getLogger(__name__)


async def forget_older_than(session: AsyncSession, now: datetime, days: int) -> int:
    """Delete the entries made more than ``days`` before ``now``; return how many."""
    result = await session.execute(delete(AuditEntry).where(AuditEntry.at < now - timedelta(days=days)))
    return int(result.rowcount or 0)


async def retention_loop(
    db: Database, settings: AnalyticsSettings, *, clock: Callable[[], datetime] | None = None
) -> None:
    """Apply the retention every interval until cancelled; nothing to do when it is unset."""
    days = settings.audit_retention_days
    if days is None:
        return
    while True:
        try:
            async with db.session() as session, session.begin():
                gone = await forget_older_than(session, clock() if clock else datetime.now(UTC), days)
            if gone:
                log.info("audit retention: %d entries older than %d days deleted", gone, days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "audit retention failed; trying again in %s s", settings.audit_retention_interval_seconds
            )
        await asyncio.sleep(settings.audit_retention_interval_seconds)
