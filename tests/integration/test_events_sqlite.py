"""The embedded default: the events migrations, the calendar (offsets included) and joint planning
on a SQLite file."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from setka_contracts import CloudEvent
from setka_contracts.events import PlanStatus
from setka_contracts.registry import (
    InteractionGroupFormed,
    MemberJoined,
    NetworkCreated,
    OrganizationRegistered,
)
from setka_runtime import migrations
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database

from services.events import activities, plans, reads, registry_copy
from services.events.schema import schema
from tests.integration.events_world import registry_says

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


async def test_joint_planning_on_the_sqlite_file(tmp_path: Path) -> None:
    """A member's proposal accepted, an amendment and a task done; the versions read back."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrations.upgrade(MIGRATIONS, url, "events")
    db = Database(url)
    school, network, group = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    admin = Identity(subject="admin", roles=frozenset({Role.regional_admin}), region_code="08")
    try:
        await registry_says(
            db,
            OrganizationRegistered(
                organization_id=school,
                full_name="Школа",
                short_name="Школа",
                kind="school",
                region_code="08",
                registered_at=datetime.now(UTC),
            ),
            NetworkCreated(
                network_id=network,
                name="Сеть",
                level="regional",
                region_code="08",
                governing_body_id=school,
                started_on=date(2020, 1, 1),
            ),
            MemberJoined(
                network_id=network,
                membership_id=uuid.uuid4(),
                organization_id=school,
                role="supported",
                joined_on=date(2020, 1, 1),
            ),
            InteractionGroupFormed(group_id=group, network_id=network, name="РМО", purpose="—"),
        )
        async with db.session() as session, session.begin():
            plan = await plans.draft_plan(session, plans.DraftPlan(network, 2025, "План", "school_year"))
            task = await plans.add_plan_item(
                session, plans.AddPlanItem(plan.id, "Справка", date(2026, 5, 1), school, kind="task")
            )
            proposal = await plans.propose_plan_item(
                session,
                plans.ProposePlanItem(
                    plan.id, school, "Открытый урок", date(2025, 10, 1), interaction_group_id=group
                ),
                proposer="school",
            )
            await plans.accept_proposal(session, proposal.id, "да", decider="admin")
            await plans.advance_plan(session, plan.id, PlanStatus.agreed)
            change = plans.ChangePlanItem(task.id, "Справка", "task", date(2026, 6, 1), school)
            await plans.amend_plan(session, plans.AmendPlan(plan.id, "перенос", [change]), author="admin")
            await plans.mark_item_done(session, task.id, None, "https://example.org/s.pdf", by="school")
        query = """query($p: ID!) { plan(id: $p) { version progress { items done }
          versions { number items { title dueOn interactionGroupId } } } }"""
        result = await schema.execute(
            query, variable_values={"p": str(plan.id)}, context_value={"db": db, "identity": admin}
        )
        assert result.errors is None, result.errors
        shown = result.data["plan"]
        assert (shown["version"], shown["progress"]) == (2, {"items": 2, "done": 1})
        assert [[(i["title"], i["dueOn"]) for i in v["items"]] for v in shown["versions"]] == [
            [("Открытый урок", "2025-10-01"), ("Справка", "2026-05-01")],
            [("Открытый урок", "2025-10-01"), ("Справка", "2026-06-01")],
        ]
        assert shown["versions"][0]["items"][0]["interactionGroupId"] == str(group)
    finally:
        await db.dispose()
