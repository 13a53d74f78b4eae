"""The lifecycle rules of plans, activities and participation, on a real PostgreSQL database.

Each rule is shown refusing a command, and the database and the outbox are shown unchanged.
"""

from __future__ import annotations

import json
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
    db: Database, change: Callable[[AsyncSession], Awaitable[Any]], code: str, message: str = ""
) -> DomainError:
    """Run ``change`` in a transaction; it must be refused by the rule ``code`` (its message, in
    Russian, saying ``message``) and change nothing."""
    before = await state(db)
    with pytest.raises(DomainError) as caught:
        async with db.session() as session, session.begin():
            await change(session)
    assert caught.value.code == code, (caught.value.code, caught.value.message)
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
        world.db, an_activity(world, starts_in=timedelta(days=3), host=world.outsider), "NOT_A_MEMBER"
    )
    assert error.field == "hostOrganizationId"
    await refused(
        world.db,
        an_activity(world, starts_in=timedelta(days=-365 * 20), host=world.host),
        "NOT_A_MEMBER",
        "Организация не входит в сеть «Сеть (тест)» на",
    )
    activity = await done(world.db, an_activity(world, starts_in=timedelta(days=3), host=world.former))
    assert activity.status == "planned"


async def test_an_activity_is_not_held_before_it_starts(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(days=2)))
    await refused(
        world.db,
        lambda s: activities.hold(s, activity.id),
        "HELD_BEFORE_START",
        "раньше его нельзя отметить проведённым",
    )
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
    await refused(world.db, await register(first), "REGISTRATION_CLOSED", "а это — запланировано")
    await done(world.db, lambda s: activities.announce(s, activity.id))
    await done(world.db, await register(first))
    await refused(world.db, await register(first), "ACTIVITY_FULL", "Мест нет: все 1 заняты")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(
        world.db,
        await register(participation.Participant(world.outsider)),
        "REGISTRATION_CLOSED",
        "а это — проведено",
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
    await refused(world.db, register, "ALREADY_REGISTERED")
    await refused(
        world.db,
        lambda s: register(s, participation.Participant(world.outsider, world.educator)),
        "EDUCATOR_NOT_EMPLOYED",
    )


async def test_the_activity_lifecycle_refuses_every_skipped_or_backward_step(world: World) -> None:
    activity = await done(world.db, an_activity(world, starts_in=timedelta(hours=-2)))
    await refused(
        world.db,
        lambda s: activities.report(s, activity.id, "итоги"),
        "ACTIVITY_TRANSITION",
        "«запланировано» нельзя отчитать",
    )
    await refused(world.db, lambda s: activities.cancel(s, activity.id, "  "), "EMPTY")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(
        world.db,
        lambda s: activities.cancel(s, activity.id, "болезнь"),
        "ACTIVITY_TRANSITION",
        "«проведено» нельзя отменить",
    )
    await refused(
        world.db,
        lambda s: activities.postpone(s, activity.id, "болезнь"),
        "ACTIVITY_TRANSITION",
        "«проведено» нельзя перенести",
    )
    await refused(
        world.db,
        lambda s: activities.announce(s, activity.id),
        "ACTIVITY_TRANSITION",
        "«проведено» нельзя объявить",
    )
    reported = await done(world.db, lambda s: activities.report(s, activity.id, "Проведено, 25 участников"))
    assert reported.status == "reported"
    await refused(
        world.db,
        lambda s: activities.hold(s, activity.id),
        "ACTIVITY_TRANSITION",
        "«есть отчёт» нельзя отметить проведённым",
    )


async def test_cancelled_and_postponed_activities_carry_their_reason(world: World) -> None:
    first = await done(world.db, an_activity(world, starts_in=timedelta(days=10)))
    second = await done(world.db, an_activity(world, starts_in=timedelta(days=10)))
    new_start = NOW + timedelta(days=20)
    await refused(
        world.db,
        lambda s: activities.postpone(s, first.id, "карантин", starts_at=new_start),
        "NEW_DATES_INCOMPLETE",
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
        world.db,
        lambda s: activities.add_material(s, second.id, "Слайды", "https://x"),
        "ACTIVITY_TRANSITION",
        "«отменено» нельзя дополнить материалами",
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

    await refused(world.db, attend, "ACTIVITY_NOT_HELD", "Посещаемость отмечают после проведения")
    await refused(world.db, rate, "ACTIVITY_NOT_HELD", "Отзыв оставляют после проведения")
    await done(world.db, lambda s: activities.hold(s, activity.id))
    await refused(world.db, lambda s: attend(s, 3.5), "HOURS_EXCEED_LENGTH", "(3 ч)")
    await refused(world.db, lambda s: rate(s, 6), "RATING_OUT_OF_RANGE")
    _, changed = await done(world.db, attend)
    assert changed
    before = await state(world.db)
    _, changed = await done(world.db, attend)  # the same attendance again: nothing new
    assert not changed and await state(world.db) == before
    await done(world.db, rate)
    # the host does not rate its own activity, by name or by leaving the organization out
    await refused(world.db, lambda s: rate(s, 5, world.host), "FEEDBACK_BY_HOST")
    await refused(world.db, lambda s: rate(s, 5, None), "FEEDBACK_BY_HOST")
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
        "PLAN_EXISTS",
        "на 2026 год",
    )
    await refused(world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.agreed), "PLAN_WITHOUT_ITEMS")
    await refused(
        world.db,
        lambda s: plans.advance_plan(s, plan.id, PlanStatus.in_progress),
        "PLAN_TRANSITION",
        "«черновик» нельзя перевести",
    )
    item = plans.AddPlanItem(plan_id=plan.id, title="Семинар", due_on=date(2027, 3, 1))
    await refused(world.db, lambda s: plans.add_plan_item(s, item), "DUE_OUTSIDE_PLAN_YEAR", "в 2026 году")
    await done(
        world.db,
        lambda s: plans.add_plan_item(s, plans.AddPlanItem(plan.id, "Семинар", date(2026, 3, 1), world.host)),
    )
    for step in (PlanStatus.agreed, PlanStatus.in_progress):
        await done(world.db, lambda s, step=step: plans.advance_plan(s, plan.id, step))
    await refused(
        world.db,
        lambda s: plans.add_plan_item(s, plans.AddPlanItem(plan.id, "Поздно", date(2026, 5, 1))),
        "PLAN_NOT_DRAFT",
    )
    await done(world.db, lambda s: plans.advance_plan(s, plan.id, PlanStatus.closed))
    await refused(
        world.db,
        lambda s: plans.advance_plan(s, plan.id, PlanStatus.closed),
        "PLAN_TRANSITION",
        "«закрыт» нельзя перевести",
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
    await refused(world.db, lambda s: mobility.record_mobility(s, command), "NOT_A_MEMBER")
    same = mobility.RecordMobility(**{**command.__dict__, "host_organization_id": world.host})
    await refused(world.db, lambda s: mobility.record_mobility(s, same), "HOST_IS_HOME")
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


async def test_a_mobility_is_corrected_and_deleted_version_by_version(world: World) -> None:
    recorded = await done(
        world.db,
        lambda s: mobility.record_mobility(
            s,
            mobility.RecordMobility(
                kind="teachers",
                home_organization_id=world.host,
                host_organization_id=world.former,
                programme="Стажировка",
                participants=3,
                starts_on=date(2026, 3, 2),
                ends_on=date(2026, 3, 6),
                hours=24,
                network_id=world.network,
            ),
        ),
    )
    assert recorded.version == 1

    def correct(**given: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        return lambda s: mobility.correct_mobility(s, mobility.CorrectMobility(recorded.id, **given))

    await refused(world.db, correct(participants=3, hours=24), "NOTHING_CHANGED", "ничего не меняет")
    await refused(world.db, correct(participants=0), "NOT_POSITIVE")
    await refused(world.db, correct(hours=0), "HOURS_NOT_POSITIVE")
    await refused(world.db, correct(kind="parents"), "UNKNOWN_CHOICE")
    await refused(world.db, correct(ends_on=date(2026, 3, 1)), "END_BEFORE_START")
    await refused(world.db, correct(programme=" "), "EMPTY")
    error = await refused(
        world.db,
        correct(starts_on=date(2019, 6, 3)),
        "NOT_A_MEMBER",
        "Организация не входит в сеть «Сеть (тест)» на 3 июня 2019",
    )
    assert error.field == "homeOrganizationId"
    await refused(
        world.db,
        lambda s: mobility.correct_mobility(s, mobility.CorrectMobility(uuid.uuid4(), hours=1)),
        "MOBILITY_NOT_FOUND",
    )

    corrected = await done(world.db, correct(participants=4, hours=30, reason="учтён ещё один педагог"))
    assert (corrected.participants, corrected.hours, corrected.version) == (4, 30, 2)
    assert corrected.change_reason == "учтён ещё один педагог"
    deleted = await done(world.db, lambda s: mobility.delete_mobility(s, recorded.id, "записано по ошибке"))
    assert (deleted.version, deleted.change_reason) == (3, "записано по ошибке") and deleted.deleted_at
    await refused(world.db, correct(hours=31), "MOBILITY_DELETED")
    await refused(world.db, lambda s: mobility.delete_mobility(s, recorded.id, "ещё раз"), "MOBILITY_DELETED")

    async with world.db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.event_type, outbox.c.key, outbox.c.payload)
                .where(outbox.c.key == str(recorded.id))
                .order_by(outbox.c.id)
            )
        ).all()
    events = [(row.event_type, json.loads(row.payload)) for row in rows]
    assert [(kind, data["version"]) for kind, data in events] == [
        ("setka.events.mobility.recorded.v1", 1),
        ("setka.events.mobility.corrected.v1", 2),
        ("setka.events.mobility.deleted.v1", 3),
    ]
    corrected_event, deleted_event = events[1][1], events[2][1]
    assert (corrected_event["participants"], corrected_event["hours"]) == (4, 30)
    assert corrected_event["changed"] == ["participants", "hours"]
    assert (deleted_event["reason"], deleted_event["participants"]) == ("записано по ошибке", 4)
