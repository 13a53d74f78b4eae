"""The embedded default: the events migrations and the calendar on a SQLite file, offsets included."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from setka_contracts import CloudEvent
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import migrations
from setka_runtime.db import Database

from services.events import activities, reads, registry_copy

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "events" / "migrations"
MOSCOW = timezone(timedelta(hours=3))


async def test_times_with_offsets_are_stored_in_utc_and_found_by_the_calendar(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrations.upgrade(MIGRATIONS, url, "events")
    db = Database(url)
    host = uuid.uuid4()
    try:
        async with db.session() as session, session.begin():
            data = OrganizationRegistered(
                organization_id=host,
                full_name="Школа",
                short_name="Школа",
                kind="school",
                region_code="08",
                registered_at=datetime.now(UTC),
            )
            await registry_copy.organization_registered(
                session, data, CloudEvent(type=data.event_type, source="/t", data={})
            )
            starts = datetime(2026, 3, 12, 10, 0, tzinfo=MOSCOW)
            await activities.plan_activity(
                session,
                activities.PlanActivity(
                    title="Семинар",
                    activity_type="seminar",
                    format="in_person",
                    host_organization_id=host,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                ),
            )
        async with db.session() as session:
            window = reads.CalendarFilter(
                starts_from=datetime(2026, 3, 12, 9, 30, tzinfo=MOSCOW),
                starts_before=datetime(2026, 3, 12, 7, 30, tzinfo=UTC),
            )
            found, more = await reads.calendar(session, window, first=10, after=None)
        assert len(found) == 1 and not more
        assert found[0].starts_at.replace(tzinfo=UTC) == datetime(2026, 3, 12, 7, 0, tzinfo=UTC)
        assert date(2026, 3, 12) == found[0].starts_at.date()
    finally:
        await db.dispose()
