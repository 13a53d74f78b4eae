"""The lifecycle rules of plans, activities and participation, on a real PostgreSQL database.

Each rule is shown refusing a command, and the database and the outbox are shown unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from setka_contracts.events import PlanStatus
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.tables import outbox
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.events import activities, mobility, participation, plans
from services.events.models import EventsModel, Feedback
from tests.conftest import DatabaseFactory
from tests.integration.events_world import NOW, World, make_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_rules"):
        yield made


async def state(db: Database) -> dict[str, Any]:
    """Every row of every table of the service, and the outbox: 'nothing changed' compares these."""
    result: dict[str, Any] = {}
    async with db.session() as session:
        for table in (*EventsModel.metadata.sorted_tables, outbox):
            rows = (await session.execute(select(table))).all()
            result[table.name] = sorted(map(str, rows))
    return result


async def refused(
    db: Database, change: Callable[[AsyncSession], Awaitable[Any]], message: str
) -> DomainError:
    """Run ``change`` in a transaction; it must be refused with ``message`` and change nothing."""
    before = await state(db)
    with pytest.raises(DomainError) as caught:
        async with db.session() as session, session.begin():
            await change(session)
    assert message in caught.value.message, caught.value.message
    assert await state(db) == before
    return caught.value


async def done(db: Database, change: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async with db.session() as session, session.begin():
        return await change(session)


def an_activity(world: World, *, starts_in: timedelta, host: uuid.UUID | None = None, **extra: Any) -> Any:
    starts = NOW + starts_in
    command = activities.PlanActivity(
        title="Семинар «Формирующее оценивание»",
        activity_type="seminar",
        format="in_person",
        host_organization_id=host or world.host,
        network_id=world.network,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        processes=["experience_exchange"],
        **extra,
    )
    return lambda session: activities.plan_activity(session, command)


async def outbox_types(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(outbox.c.event_type).order_by(outbox.c.id))).all())


async def test_the_host_must_be_a_member_of_the_network_on_the_day(world: World) -> None:
    error = await refused(
        world.db, an_activity(world, starts_in=timedelta(days=3), host=world.outsider), "is not a member"
    )
    assert error.field == "hostOrganizationId"
    await refused(
        world.db,
        an_activity(world, starts_in=timedelta(days=-365 * 20), host=world.host),
        "is not a member of the network «Сеть (тест)» on",
    )
    activity = await done(world.db, an_activity(world, starts_in=timedelta(days=3), host=world.former))
    assert activity.status == "planned"


async def test_an_activity_is_not_held_before_it_starts(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(days=2)))
    await refused(world.db, lambda s: activities.hold(s, activity.id), "cannot be held before")
    held = await done(
        world.db, lambda s: activities.hold(s, activity.id, at=NOW + timedelta(days=2, hours=1))
    )
    assert held.status == "held"


async def test_registration_only_while_announced_and_capacity_is_respected(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(hours=-1), capacity=1))
    first = participation.Participant(world.host, world.educator)

    async def register(who: participation.Participant) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def change(session: AsyncSession) -> Any:
            row = await activities.get_activity(session, activity.id)
            return await participation.register(session, row, who)

        return change

    # planned: the host may still change it, so nobody registers yet
    await refused(world.db, await register(first), "registration is open only for an announced activity")
    await done(world.db, lambda s: activities.announce(s, activity.id))
    await done(world.db, await register(first))
    await refused(world.db, await register(first), "the activity is full (1 places)")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(
        world.db,
        await register(participation.Participant(world.outsider)),
        "registration is open only for an announced activity; it is held",
    )


async def test_duplicate_registration_and_unknown_educator_are_refused(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(days=5)))
    await done(world.db, lambda s: activities.announce(s, activity.id))
    who = participation.Participant(world.host, world.educator)

    async def register(session: AsyncSession, participant: participation.Participant = who) -> Any:
        return await participation.register(
            session, await activities.get_activity(session, activity.id), participant
        )

    await done(world.db, register)
    await refused(world.db, register, "already registered")
    await refused(
        world.db,
        lambda s: register(s, participation.Participant(world.outsider, world.educator)),
        "does not work at organization",
    )


async def test_the_activity_lifecycle_refuses_every_skipped_or_backward_step(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(hours=-2)))
    await refused(
        world.db, lambda s: activities.report(s, activity.id, "итоги"), "planned cannot be reported"
    )
    await refused(world.db, lambda s: activities.cancel(s, activity.id, "  "), "must not be empty")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(
        world.db, lambda s: activities.cancel(s, activity.id, "болезнь"), "held cannot be cancelled"
    )
    await refused(
        world.db, lambda s: activities.postpone(s, activity.id, "болезнь"), "held cannot be postponed"
    )
    await refused(world.db, lambda s: activities.announce(s, activity.id), "held cannot be announced")
    reported = await done(world.db, lambda s: activities.report(s, activity.id, "Проведено, 25 участников"))
    assert reported.status == "reported"
    await refused(world.db, lambda s: activities.hold(s, activity.id), "reported cannot be held")


async def test_cancelled_and_postponed_activities_carry_their_reason(world: World) -> None:
    first = await done(world.db, an_activity(world, starts_in=timedelta(days=10)))
    second = await done(world.db, an_activity(world, starts_in=timedelta(days=10)))
    new_start = NOW + timedelta(days=20)
    await refused(
        world.db,
        lambda s: activities.postpone(s, first.id, "карантин", starts_at=new_start),
        "give both the new start and the new end",
    )
    postponed = await done(
        world.db,
        lambda s: activities.postpone(
            s, first.id, "карантин", starts_at=new_start, ends_at=new_start + timedelta(hours=2)
        ),
    )
    assert (postponed.status, postponed.status_reason) == ("postponed", "карантин")
    cancelled = await done(world.db, lambda s: activities.cancel(s, second.id, "нет помещения"))
    assert (cancelled.status, cancelled.status_reason) == ("cancelled", "нет помещения")
    await refused(
        world.db, lambda s: activities.add_material(s, second.id, "Слайды", "https://x"), "cancelled"
    )
    types = await outbox_types(world.db)
    assert types[-2:] == ["setka.events.activity.postponed.v1", "setka.events.activity.cancelled.v1"]


async def test_attendance_and_feedback_only_once_held_and_within_its_length(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(hours=-4)))
    who = participation.Participant(world.host, world.educator)

    async def attend(session: AsyncSession, hours: float = 3) -> Any:
        return await participation.record_attendance(
            session, await activities.get_activity(session, activity.id), who, hours
        )

    async def rate(session: AsyncSession, rating: int = 5, by: uuid.UUID | None = world.outsider) -> Any:
        return await participation.give_feedback(
            session, await activities.get_activity(session, activity.id), rating, organization_id=by
        )

    await refused(world.db, attend, "attendance is recorded once the activity is held")
    await refused(world.db, rate, "feedback is given once the activity is held")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(world.db, lambda s: attend(s, 3.5), "hours exceed the activity's length (3 h)")
    await refused(world.db, lambda s: rate(s, 6), "rating is from 1 to 5")
    _, changed = await done(world.db, attend)
    assert changed
    before = await state(world.db)
    _, changed = await done(world.db, attend)  # the same attendance again: nothing new
    assert not changed and await state(world.db) == before
    await done(world.db, rate)
    # the host does not rate its own activity, by name or by leaving the organization out
    await refused(world.db, lambda s: rate(s, 5, world.host), "the host does not rate its own activity")
    await refused(world.db, lambda s: rate(s, 5, None), "the host does not rate its own activity")
    # once per organization: giving it again replaces the first
    await done(world.db, lambda s: rate(s, 2))
    async with world.db.session() as session:
        ratings = (
            await session.execute(select(Feedback.rating).where(Feedback.activity_id == activity.id))
        ).all()
    assert [row.rating for row in ratings] == [2]


async def test_plan_lifecycle(world: World) -> None:
    plan = await done(
        world.db,
        lambda s: plans.draft_plan(s, plans.DraftPlan(network_id=world.network, year=2026, title="План")),
    )
    await refused(
        world.db,
        lambda s: plans.draft_plan(s, plans.DraftPlan(network_id=world.network, year=2026, title="Ещё")),
        "already has a plan for 2026",
    )
    await refused(world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.agreed), "without items")
    await refused(
        world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.in_progress), "draft cannot become"
    )
    item = plans.AddPlanItem(plan_id=plan.id, title="Семинар", due_on=date(2027, 3, 1))
    await refused(world.db, lambda s: plans.add_plan_item(s, item), "due within 2026")
    await done(
        world.db,
        lambda s: plans.add_plan_item(s, plans.AddPlanItem(plan.id, "Семинар", date(2026, 3, 1), world.host)),
    )
    for step in (PlanStatus.agreed, PlanStatus.in_progress):
        await done(world.db, lambda s, step=step: plans.advance_plan(s, plan.id, step))
    await refused(
        world.db,
        lambda s: plans.add_plan_item(s, plans.AddPlanItem(plan.id, "Поздно", date(2026, 5, 1))),
        "items are added to a draft plan",
    )
    await done(world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.closed))
    await refused(
        world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.closed), "closed cannot become"
    )
    types = await outbox_types(world.db)
    assert types[-5:] == [
        "setka.events.plan.drafted.v1",
        "setka.events.plan.item_added.v1",
        "setka.events.plan.agreed.v1",
        "setka.events.plan.started.v1",
        "setka.events.plan.closed.v1",
    ]


async def test_mobility_is_between_two_members(world: World) -> None:
    command = mobility.RecordMobility(
        kind="students",
        home_organization_id=world.host,
        host_organization_id=world.outsider,
        programme="Робототехника",
        participants=12,
        starts_on=date(2026, 2, 1),
        ends_on=date(2026, 2, 28),
        hours=16,
        network_id=world.network,
    )
    await refused(world.db, lambda s: mobility.record_mobility(s, command), "not a member")
    same = mobility.RecordMobility(**{**command.__dict__, "host_organization_id": world.host})
    await refused(world.db, lambda s: mobility.record_mobility(s, same), "another organization")
    fine = mobility.RecordMobility(**{**command.__dict__, "host_organization_id": world.former})
    row = await done(world.db, lambda s: mobility.record_mobility(s, fine))
    assert row.participants == 12


async def test_an_older_attendance_fact_does_not_overwrite_a_newer_one(world: World) -> None:
    """A parked message retried late must not undo what a newer message of the sender recorded."""
    activity = await done(world.db, an_activity(world, starts_in=timedelta(hours=-4)))
    await done(world.db, lambda s: activities.hold(s, activity.id))
    who = participation.Participant(world.host, world.educator)

    async def attend(session: AsyncSession, hours: float, recorded: timedelta) -> Any:
        found = await activities.get_activity(session, activity.id)
        return await participation.record_attendance(session, found, who, hours, as_of=NOW + recorded)

    _, changed = await done(world.db, lambda s: attend(s, 3, timedelta(minutes=10)))
    assert changed
    before = await state(world.db)
    _, changed = await done(world.db, lambda s: attend(s, 2, timedelta(minutes=5)))  # older, retried late
    assert not changed and await state(world.db) == before
    row, changed = await done(world.db, lambda s: attend(s, 2.5, timedelta(minutes=20)))  # a real correction
    assert changed and row.hours == 2.5
