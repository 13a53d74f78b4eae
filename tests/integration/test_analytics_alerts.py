"""Alerts on real PostgreSQL: each rule raised once, then resolved when the missing fact arrives,
with its AlertRaised/AlertResolved event in the outbox of the same transaction."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import strawberry
from setka_contracts.analytics import AlertRaised, AlertResolved, AlertRule
from setka_runtime import migrations
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import select, update
from sqlmodel import SQLModel

from services.analytics.advice_schema import AdviceQuery
from services.analytics.alerts import alert_loop, evaluate
from services.analytics.models import (
    Activity,
    Alert,
    Attendance,
    Deficit,
    Membership,
    Network,
    Organization,
    Plan,
    PlanItem,
    Training,
)
from services.analytics.settings import AnalyticsSettings
from tests.conftest import MIGRATIONS, DatabaseFactory
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SETTINGS = AnalyticsSettings(
    alert_no_activity_days=30, alert_deficit_training_days=90, alert_attendance_grace_days=3
)


def at(day: date, hour: int = 6) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
async def postgresql(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(databases.create("analytics", migrate="analytics"))
    yield database
    await database.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Database]:
    """The rules on PostgreSQL, and on the SQLite file of a single-machine run."""
    if request.param == "postgresql":
        url = databases.create("analytics", migrate="analytics")
    else:
        url = f"sqlite:///{tmp_path / 'analytics.db'}"
        migrations.upgrade(MIGRATIONS["analytics"], url, "analytics")
    database = Database(url)
    yield database
    await database.dispose()


async def add(db: Database, *rows: SQLModel) -> None:
    async with db.session() as session, session.begin():
        session.add_all(rows)


async def run(db: Database, day: date) -> tuple[list[Alert], list[Alert]]:
    async with db.session() as session, session.begin():
        return await evaluate(session, SETTINGS, at(day))


async def events(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, key, data) of every event in the outbox, in the order recorded."""
    async with db.session() as session:
        rows = await session.execute(
            select(outbox.c.event_type, outbox.c.key, outbox.c.payload).order_by(outbox.c.id)
        )
        return [(kind, key, json.loads(payload)) for kind, key, payload in rows]


async def open_alerts(db: Database) -> list[Alert]:
    async with db.session() as session:
        return list(await session.scalars(select(Alert).where(Alert.resolved_at.is_(None))))  # type: ignore[union-attr]


def organization(**given: Any) -> Organization:
    return Organization(
        id=given.pop("id", uuid.uuid4()),
        region_code=given.pop("region_code", "39"),
        kind="school",
        registered_at=at(date(2025, 9, 1)),
        **given,
    )


def network() -> Network:
    return Network(
        id=uuid.uuid4(),
        name="Сеть «Школы эффективного роста»",
        level="municipal",
        region_code="39",
        started_on=date(2025, 9, 1),
    )


def held_activity(host: uuid.UUID, network_id: uuid.UUID | None, day: date, **given: Any) -> Activity:
    fields: dict[str, Any] = {"status": "held", "held_on": day, "activity_type": "seminar"} | given
    return Activity(
        id=uuid.uuid4(),
        host_organization_id=host,
        network_id=network_id,
        processes=["training"],
        format="in_person",
        starts_at=at(day, 7),
        ends_at=at(day, 10),
        **fields,
    )


def attendance(activity: Activity, organization_id: uuid.UUID) -> Attendance:
    assert activity.held_on is not None
    return Attendance(
        id=uuid.uuid4(),
        activity_id=activity.id,
        organization_id=organization_id,
        educator_id=uuid.uuid4(),
        hours=3,
        activity_day=activity.held_on,
        host_organization_id=activity.host_organization_id,
        network_id=activity.network_id,
    )


async def test_a_supported_school_idle_for_n_days_is_alerted_once_and_resolved_by_taking_part(
    db: Database,
) -> None:
    school, centre, net = organization(), organization(), network()
    await add(
        db,
        school,
        centre,
        net,
        Membership(
            id=uuid.uuid4(),
            network_id=net.id,
            organization_id=school.id,
            role="supported",
            joined_on=date(2026, 1, 10),
        ),
        Membership(
            id=uuid.uuid4(),
            network_id=net.id,
            organization_id=centre.id,
            role="centre",
            joined_on=date(2026, 1, 10),
        ),
    )
    assert await run(db, date(2026, 2, 8)) == ([], [])  # 29 days after joining: still in time

    raised, resolved = await run(db, date(2026, 2, 9))
    assert [(a.rule, a.subject_id, a.organization_id, a.network_id) for a in raised] == [
        ("no_network_activity", school.id, school.id, net.id)
    ]
    assert raised[0].details == {"since_on": "2026-01-10", "threshold_days": 30} and not resolved
    first_id = raised[0].id
    assert await run(db, date(2026, 2, 10)) == ([], [])  # an open alert is not raised twice

    # the centre's seminar, attended by the school's educators, is network activity of the school
    seminar = held_activity(centre.id, net.id, date(2026, 2, 11))
    await add(db, seminar, attendance(seminar, school.id))
    raised, resolved = await run(db, date(2026, 2, 12))
    assert not raised and [a.id for a in resolved] == [first_id]
    assert resolved[0].resolved_at == at(date(2026, 2, 12))
    assert await run(db, date(2026, 2, 13)) == ([], [])  # resolved and still resolved: nothing more

    # thirty days after that seminar the school is idle again: a new alert, counted from the seminar
    raised, _ = await run(db, date(2026, 3, 13))
    assert len(raised) == 1 and raised[0].id != first_id
    assert raised[0].details["since_on"] == "2026-02-11"

    recorded = await events(db)
    assert [kind for kind, _, _ in recorded] == [
        AlertRaised.event_type,
        AlertResolved.event_type,
        AlertRaised.event_type,
    ]
    assert {key for _, key, _ in recorded} == {str(school.id)}
    first = AlertRaised.model_validate(recorded[0][2])
    assert (first.rule, first.subject_id, first.network_id, first.since_on, first.threshold_days) == (
        AlertRule.no_network_activity,
        school.id,
        net.id,
        date(2026, 1, 10),
        30,
    )
    resolution = AlertResolved.model_validate(recorded[1][2])
    assert resolution.alert_id == first.alert_id and resolution.resolved_at == at(date(2026, 2, 12))
    assert resolution.raised_at == first.raised_at == at(date(2026, 2, 9))


async def test_hosting_counts_as_activity_and_leaving_the_network_or_archiving_resolves(db: Database) -> None:
    host, leaver, archived, net = organization(), organization(), organization(), network()
    joined = date(2026, 1, 1)
    memberships = {
        school.id: Membership(
            id=uuid.uuid4(), network_id=net.id, organization_id=school.id, role="supported", joined_on=joined
        )
        for school in (host, leaver, archived)
    }
    await add(db, host, leaver, archived, net, *memberships.values())
    await add(db, held_activity(host.id, net.id, date(2026, 1, 20)))  # hosting with no attendance yet

    raised, _ = await run(db, date(2026, 2, 1))
    assert {a.subject_id for a in raised if a.rule == AlertRule.no_network_activity} == {
        leaver.id,
        archived.id,
    }

    async with db.session() as session, session.begin():
        await session.execute(
            update(Membership)
            .where(Membership.id == memberships[leaver.id].id)
            .values(left_on=date(2026, 2, 2))
        )
        await session.execute(
            update(Organization)
            .where(Organization.id == archived.id)
            .values(archived_at=at(date(2026, 2, 2)))
        )
    _, resolved = await run(db, date(2026, 2, 2))
    assert {a.subject_id for a in resolved} == {leaver.id, archived.id}
    assert {a.rule for a in await open_alerts(db)} == {AlertRule.attendance_missing}


async def test_an_overdue_plan_item_is_alerted_until_an_activity_of_it_is_held(db: Database) -> None:
    centre, net = organization(), network()
    plan = Plan(id=uuid.uuid4(), network_id=net.id, year=2026, status="in_progress")
    item = PlanItem(
        id=uuid.uuid4(),
        plan_id=plan.id,
        network_id=net.id,
        due_on=date(2026, 3, 1),
        responsible_organization_id=centre.id,
    )
    await add(db, centre, net, plan, item)
    # planned and cancelled activities of the item do not make it held
    await add(
        db, held_activity(centre.id, net.id, date(2026, 2, 20), plan_item_id=item.id, status="cancelled")
    )
    assert await run(db, date(2026, 3, 1)) == ([], [])  # the item's own day is still in time

    raised, _ = await run(db, date(2026, 3, 2))
    assert [
        (a.rule, a.subject_id, a.organization_id, a.network_id, a.details["since_on"]) for a in raised
    ] == [("plan_item_overdue", item.id, centre.id, net.id, "2026-03-01")]
    assert await run(db, date(2026, 3, 5)) == ([], [])

    late = held_activity(centre.id, net.id, date(2026, 3, 10), plan_item_id=item.id)
    await add(db, late, attendance(late, centre.id))
    _, resolved = await run(db, date(2026, 3, 11))
    assert [a.subject_id for a in resolved] == [item.id]
    assert [kind for kind, key, _ in await events(db) if key == str(item.id)] == [
        AlertRaised.event_type,
        AlertResolved.event_type,
    ]


async def test_closing_the_plan_resolves_its_overdue_items(db: Database) -> None:
    net = network()
    plan = Plan(id=uuid.uuid4(), network_id=net.id, year=2026, status="agreed")
    item = PlanItem(id=uuid.uuid4(), plan_id=plan.id, network_id=net.id, due_on=date(2026, 5, 1))
    await add(db, net, plan, item)
    raised, _ = await run(db, date(2026, 6, 1))
    assert [a.organization_id for a in raised] == [None]
    async with db.session() as session, session.begin():
        await session.execute(update(Plan).where(Plan.id == plan.id).values(status="closed"))
    _, resolved = await run(db, date(2026, 6, 2))
    assert [a.subject_id for a in resolved] == [item.id]


async def test_a_deficit_with_no_training_for_n_days_is_alerted_until_a_training_after_it(
    db: Database,
) -> None:
    school = organization()
    educator = uuid.uuid4()
    deficit = Deficit(
        id=uuid.uuid4(),
        educator_id=educator,
        organization_id=school.id,
        competency="формирующее оценивание",
        level="high",
        diagnosed_on=date(2026, 1, 10),
    )
    earlier = Training(
        id=uuid.uuid4(),
        educator_id=educator,
        organization_id=school.id,
        course="Курс",
        hours=36,
        completed_on=date(2025, 12, 1),
    )
    await add(db, school, deficit, earlier)
    assert await run(db, date(2026, 4, 9)) == ([], [])  # 89 days

    raised, _ = await run(db, date(2026, 4, 10))  # 90 days; a training before the diagnosis does not count
    assert [(a.rule, a.subject_id, a.organization_id, a.network_id) for a in raised] == [
        ("deficit_without_training", deficit.id, school.id, None)
    ]
    assert await run(db, date(2026, 4, 11)) == ([], [])

    await add(
        db,
        Training(
            id=uuid.uuid4(),
            educator_id=educator,
            organization_id=school.id,
            course="Формирующее оценивание на уроках математики",
            hours=36,
            completed_on=date(2026, 4, 20),
        ),
    )
    _, resolved = await run(db, date(2026, 4, 21))
    assert [a.subject_id for a in resolved] == [deficit.id]
    (raised_event,) = [data for kind, _, data in await events(db) if kind == AlertRaised.event_type]
    assert set(raised_event) == {
        "alert_id",
        "rule",
        "subject_id",
        "organization_id",
        "network_id",
        "raised_at",
        "since_on",
        "threshold_days",
    }, "ids, days and counts only: no educator, no competency"


async def test_a_held_activity_without_attendance_is_alerted_after_the_grace_days(db: Database) -> None:
    host, guest, net = organization(), organization(), network()
    seminar = held_activity(host.id, net.id, date(2026, 3, 10))
    unrecorded_day = held_activity(host.id, None, date(2026, 3, 10), held_on=None)
    planned = held_activity(host.id, net.id, date(2026, 3, 10), status="planned", held_on=None)
    await add(db, host, guest, net, seminar, unrecorded_day, planned)
    assert await run(db, date(2026, 3, 12)) == ([], [])

    raised, _ = await run(db, date(2026, 3, 13))
    assert {(a.subject_id, a.organization_id, a.network_id) for a in raised} == {
        (seminar.id, host.id, net.id),
        (unrecorded_day.id, host.id, None),
    }
    assert all(
        a.rule == AlertRule.attendance_missing and a.details["since_on"] == "2026-03-10" for a in raised
    )
    assert await run(db, date(2026, 3, 14)) == ([], [])

    await add(db, attendance(seminar, guest.id))
    _, resolved = await run(db, date(2026, 3, 15))
    assert [a.subject_id for a in resolved] == [seminar.id]
    assert [a.subject_id for a in await open_alerts(db)] == [unrecorded_day.id]
    assert [kind for kind, _, _ in await events(db)] == [AlertRaised.event_type] * 2 + [
        AlertResolved.event_type
    ]


async def test_the_loop_evaluates_every_interval_and_two_evaluations_at_once_raise_one_alert(
    postgresql: Database,
) -> None:
    db = postgresql
    host = organization()
    await add(db, host, held_activity(host.id, None, date(2026, 3, 1)))
    now = at(date(2026, 3, 20))

    async def both() -> None:
        async def once() -> None:
            async with db.session() as session, session.begin():
                await evaluate(session, SETTINGS, now)

        await asyncio.gather(once(), once())

    await both()
    assert len(await open_alerts(db)) == 1

    loop = asyncio.create_task(
        alert_loop(db, SETTINGS.model_copy(update={"alert_interval_seconds": 0.05}), clock=lambda: now)
    )
    try:
        await add(db, organization(id=(other := uuid.uuid4())), held_activity(other, None, date(2026, 3, 2)))
        await eventually(lambda: _count_open(db, 2), timeout=10)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert len(await events(db)) == 2


async def _count_open(db: Database, expected: int) -> bool:
    return len(await open_alerts(db)) == expected


ADVICE = strawberry.federation.Schema(query=AdviceQuery, federation_version="2.9")
ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")
"""Alerts and recommended partners are for signed-in users."""
ALERTS = """query($network: ID, $organization: ID, $open: Boolean) {
    alerts(networkId: $network, organizationId: $organization, open: $open) {
        id rule subjectId organizationId networkId raisedAt resolvedAt sinceOn thresholdDays } }"""


async def alerts_of(db: Database, caller: Identity = ADMIN, **variables: Any) -> list[dict[str, Any]]:
    result = await ADVICE.execute(
        ALERTS, variable_values=variables, context_value={"db": db, "identity": caller}
    )
    assert result.errors is None and result.data is not None, result.errors
    return result.data["alerts"]


async def test_the_advice_query_lists_open_and_resolved_alerts_by_network_and_organization(
    db: Database,
) -> None:
    school, other, net = organization(), organization(), network()
    await add(
        db,
        school,
        other,
        net,
        Membership(
            id=uuid.uuid4(),
            network_id=net.id,
            organization_id=school.id,
            role="supported",
            joined_on=date(2026, 1, 1),
        ),
        held_activity(other.id, None, date(2026, 1, 20)),
    )
    await run(db, date(2026, 2, 15))

    (idle,) = await alerts_of(db, network=str(net.id))
    assert idle | {"id": None} == {
        "id": None,
        "rule": "no_network_activity",
        "subjectId": str(school.id),
        "organizationId": str(school.id),
        "networkId": str(net.id),
        "raisedAt": at(date(2026, 2, 15)).isoformat(),
        "resolvedAt": None,
        "sinceOn": "2026-01-01",
        "thresholdDays": 30,
    }
    assert [a["rule"] for a in await alerts_of(db, organization=str(other.id))] == ["attendance_missing"]
    assert len(await alerts_of(db)) == 2 and len(await alerts_of(db, open=None)) == 2
    assert await alerts_of(db, open=False) == [] and await alerts_of(db, network="не-id") == []

    seminar = held_activity(other.id, net.id, date(2026, 2, 20))
    await add(db, seminar, attendance(seminar, school.id))
    await run(db, date(2026, 2, 21))
    (resolved,) = await alerts_of(db, network=str(net.id), open=False)
    assert resolved["id"] == idle["id"] and resolved["resolvedAt"] == at(date(2026, 2, 21)).isoformat()
    assert await alerts_of(db, network=str(net.id)) == []


async def test_each_caller_is_told_only_of_the_schools_in_its_scope(db: Database) -> None:
    """Alerts and the needs behind recommended partners (risk factors, educators' deficits) are
    about schools: a caller of one region, municipality or school is not told of another's."""
    municipality = uuid.uuid4()
    here = organization(municipality_id=municipality)
    elsewhere = organization(region_code="77")
    await add(db, here, elsewhere)
    for host in (here, elsewhere):  # a held activity nobody recorded attendance at, at each
        await add(db, held_activity(host.id, None, date(2026, 1, 20)))
    await run(db, date(2026, 2, 15))
    assert len(await alerts_of(db)) == 2

    def caller(role: Role, **scope: Any) -> Identity:
        return Identity(subject=f"test-{role}", roles=frozenset({role}), **scope)

    told = {
        "admin of 39": caller(Role.regional_admin, region_code="39"),
        "coordinator": caller(
            Role.municipal_coordinator, region_code="39", municipality_id=str(municipality)
        ),
        "other coordinator": caller(
            Role.municipal_coordinator, region_code="39", municipality_id=str(uuid.uuid4())
        ),
        "representative": caller(Role.school_representative, region_code="39", organization_id=str(here.id)),
        "expert of 77": caller(Role.expert, region_code="77"),
        "viewer, no region": caller(Role.viewer),
    }
    seen = {name: {a["organizationId"] for a in await alerts_of(db, who)} for name, who in told.items()}
    assert seen == {
        "admin of 39": {str(here.id)},
        "coordinator": {str(here.id)},
        "other coordinator": set(),
        "representative": {str(here.id)},
        "expert of 77": {str(elsewhere.id)},
        "viewer, no region": set(),
    }

    partners = "query($o: ID!) { recommendedPartners(organizationId: $o) { organizationId } }"
    for name, who, school, allowed in (
        ("representative", told["representative"], here, True),
        ("representative", told["representative"], elsewhere, False),
        ("admin of 39", told["admin of 39"], elsewhere, False),
        ("expert of 77", told["expert of 77"], elsewhere, True),
    ):
        result = await ADVICE.execute(
            partners, variable_values={"o": str(school.id)}, context_value={"db": db, "identity": who}
        )
        codes = [(e.extensions or {}).get("code") for e in result.errors or []]
        refused = bool(result.errors) and "FORBIDDEN" in codes
        assert refused != allowed, (name, school.region_code, result.errors)
