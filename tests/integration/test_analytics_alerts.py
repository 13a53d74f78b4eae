"""Alerts on real PostgreSQL: each rule raised once, then resolved when the missing fact arrives,
with its AlertRaised/AlertResolved event in the outbox of the same transaction; what each alert
says in Russian; people in the alert's scope acknowledging, assigning, commenting on and snoozing
it (through the subgraph, audited, each with its event), and refused out of scope; the school
holidays the idle-school rule does not count; and the alert events on a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from setka_contracts import topics
from setka_contracts.analytics import (
    AlertAcknowledged,
    AlertAssigned,
    AlertCommented,
    AlertRaised,
    AlertResolved,
    AlertRule,
    AlertSnoozed,
    SchoolBreaksSet,
)
from setka_contracts.audit import AuditRecorded
from setka_runtime import migrations
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import select, update
from sqlmodel import SQLModel

from services.analytics import app as analytics
from services.analytics import school_calendar
from services.analytics.alert_text import compose, names_of
from services.analytics.alerts import alert_loop, evaluate
from services.analytics.models import (
    Activity,
    Alert,
    Attendance,
    AuditEntry,
    Deficit,
    Membership,
    Network,
    Organization,
    Plan,
    PlanItem,
    Training,
)
from services.analytics.schema import schema
from services.analytics.settings import AnalyticsSettings
from tests.conftest import MIGRATIONS, DatabaseFactory
from tests.helpers import eventually, headers_of, read_topic

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


async def test_an_overdue_task_is_alerted_until_marked_done_and_a_withdrawn_item_never(db: Database) -> None:
    school, net = organization(), network()
    plan = Plan(id=uuid.uuid4(), network_id=net.id, year=2025, status="in_progress", period="school_year")
    task = PlanItem(
        id=uuid.uuid4(),
        plan_id=plan.id,
        network_id=net.id,
        title="Заключить договоры",
        due_on=date(2026, 3, 1),
        responsible_organization_id=school.id,
        kind="task",
    )
    withdrawn = PlanItem(
        id=uuid.uuid4(), plan_id=plan.id, network_id=net.id, due_on=date(2026, 2, 1), withdrawn=True
    )
    await add(db, school, net, plan, task, withdrawn)
    raised, _ = await run(db, date(2026, 3, 2))
    assert [(a.subject_id, a.organization_id) for a in raised] == [(task.id, school.id)]
    async with db.session() as session:
        text = compose(raised[0], await names_of(session, raised))
    assert "просрочен пункт плана «Заключить договоры» (срок — 01.03.2026)" in text.title
    assert "задача не отмечена выполненной" in text.advice and "мероприятие" not in text.advice
    async with db.session() as session, session.begin():
        await session.execute(update(PlanItem).where(PlanItem.id == task.id).values(done_on=date(2026, 3, 4)))
    _, resolved = await run(db, date(2026, 3, 5))
    assert [a.subject_id for a in resolved] == [task.id]
    assert await open_alerts(db) == []


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


async def test_a_deficit_not_addressed_within_n_days_is_alerted_as_the_analysis_counts_it(
    db: Database,
) -> None:
    """The alert asks what the analysis' indicator and attention list ask (one definition): was
    the deficit followed, within N days, by a training or a network activity naming its
    competency? A training before the diagnosis, or on another subject, does not count; a
    matching course after the N days does not make it addressed in time, so the alert stays; a
    network master class on the competency within the N days addresses another educator's."""
    school, net = organization(), network()
    educator, colleague = uuid.uuid4(), uuid.uuid4()
    deficit, addressed = (
        Deficit(
            id=uuid.uuid4(),
            educator_id=who,
            organization_id=school.id,
            competency="формирующее оценивание",
            level="high",
            diagnosed_on=date(2026, 1, 10),
        )
        for who in (educator, colleague)
    )
    earlier, elsewhere = (
        Training(
            id=uuid.uuid4(),
            educator_id=educator,
            organization_id=school.id,
            course=course,
            hours=36,
            completed_on=completed,
        )
        for course, completed in (("Формирующее оценивание", date(2025, 12, 1)), ("Курс", date(2026, 2, 1)))
    )
    master_class = held_activity(
        school.id, net.id, date(2026, 2, 9), title="Мастер-класс «Формирующее оценивание в 5 классе»"
    )
    taught = attendance(master_class, school.id)
    taught.educator_id = colleague
    await add(db, school, net, deficit, addressed, earlier, elsewhere, master_class, taught)
    assert await run(db, date(2026, 4, 9)) == ([], [])  # 89 days

    raised, _ = await run(db, date(2026, 4, 10))  # 90 days
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
    assert await run(db, date(2026, 4, 21)) == ([], [])  # late: not addressed in time, still alerted
    assert [a.subject_id for a in await open_alerts(db)] == [deficit.id]
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


ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")
"""Alerts and recommended partners are for signed-in users."""
ALERTS = """query($network: ID, $organization: ID, $open: Boolean) {
    alerts(networkId: $network, organizationId: $organization, open: $open) {
        id rule subjectId organizationId networkId raisedAt resolvedAt sinceOn thresholdDays } }"""


async def alerts_of(db: Database, caller: Identity = ADMIN, **variables: Any) -> list[dict[str, Any]]:
    result = await schema.execute(
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

    # one alert by its id: for those who see it, null for the rest; and the newest `first`
    one = "query($id: ID!) { alert(id: $id) { organizationId } alerts(first: 1) { id } }"
    (mine,) = await alerts_of(db, told["representative"])
    for name, expected in (("representative", str(here.id)), ("other coordinator", None)):
        result = await schema.execute(
            one, variable_values={"id": mine["id"]}, context_value={"db": db, "identity": told[name]}
        )
        assert result.errors is None, result.errors
        assert (result.data["alert"] or {}).get("organizationId") == expected, name
    newest = await schema.execute(
        one, variable_values={"id": "не-id"}, context_value={"db": db, "identity": ADMIN}
    )
    assert newest.data == {"alert": None, "alerts": [{"id": newest.data["alerts"][0]["id"]}]}

    partners = "query($o: ID!) { recommendedPartners(organizationId: $o) { organizationId } }"
    for name, who, school, allowed in (
        ("representative", told["representative"], here, True),
        ("representative", told["representative"], elsewhere, False),
        ("admin of 39", told["admin of 39"], elsewhere, False),
        ("expert of 77", told["expert of 77"], elsewhere, True),
    ):
        result = await schema.execute(
            partners, variable_values={"o": str(school.id)}, context_value={"db": db, "identity": who}
        )
        codes = [(e.extensions or {}).get("code") for e in result.errors or []]
        refused = bool(result.errors) and "FORBIDDEN" in codes
        assert refused != allowed, (name, school.region_code, result.errors)


# -- what an alert says, and people working it -----------------------------------------------------

MUNICIPALITY = uuid.uuid4()
SCHOOL_NAME, CENTRE_NAME = "МБОУ «СОШ № 7»", "МАОУ «Лицей № 1»"
NETWORK_NAME = "Сеть «Школы эффективного роста» Балтийского округа"


def person(role: Role, subject: str, **scope: Any) -> Identity:
    return Identity(subject=subject, roles=frozenset({role}), **scope)


async def ask(db: Database, caller: Identity, query: str, *, today: date, **variables: Any) -> Any:
    """The analytics subgraph (its access rules included) as ``caller`` on ``today`` at 09:00 UTC."""
    context = {"db": db, "identity": caller, "service_name": "analytics", "clock": lambda: at(today, 9)}
    return await schema.execute(query, variable_values=variables, context_value=context)


def data(result: Any) -> Any:
    assert result.errors is None and result.data is not None, result.errors
    return result.data


def refused(result: Any) -> str:
    """The code of a refusal: no data, one error coded UNAUTHENTICATED or FORBIDDEN."""
    assert result.data is None, result.data
    (error,) = result.errors
    return str((error.extensions or {}).get("code"))


WORKED = """id rule status title advice organizationName networkName mayAct
    acknowledgedAt acknowledgedBy assigneeOrganizationId assigneeOrganizationName assigneeSubject
    assignedBy snoozedUntil snoozedBy comments { author text at }"""
LIST = f"""query($open: Boolean, $status: AlertStatus) {{
    alerts(open: $open, status: $status) {{ {WORKED} }} }}"""
RESULT = f"__typename ... on ValidationError {{ field message }} ... on Alert {{ {WORKED} }}"
ACKNOWLEDGE = f"mutation($id: ID!) {{ acknowledgeAlert(alertId: $id) {{ {RESULT} }} }}"
ASSIGN = f"""mutation($id: ID!, $org: ID, $subject: String) {{
    assignAlert(alertId: $id, organizationId: $org, subject: $subject) {{ {RESULT} }} }}"""
COMMENT = f"mutation($id: ID!, $text: String!) {{ commentOnAlert(alertId: $id, text: $text) {{ {RESULT} }} }}"
SNOOZE = f"mutation($id: ID!, $until: Date!) {{ snoozeAlert(alertId: $id, until: $until) {{ {RESULT} }} }}"


async def a_school_idle_in_its_network(db: Database) -> tuple[Organization, Organization, Network]:
    """A supported school of municipality M (region 39) that joined its network on 10 January and
    took part in nothing; the network's centre, in the same municipality."""
    school = organization(short_name=SCHOOL_NAME, municipality_id=MUNICIPALITY)
    centre = organization(short_name=CENTRE_NAME, municipality_id=MUNICIPALITY)
    net = network()
    net.name = NETWORK_NAME
    await add(
        db,
        school,
        centre,
        net,
        *(
            Membership(
                id=uuid.uuid4(),
                network_id=net.id,
                organization_id=org.id,
                role=role,
                joined_on=date(2026, 1, 10),
            )
            for org, role in ((school, "supported"), (centre, "centre"))
        ),
    )
    return school, centre, net


async def test_every_alert_says_in_russian_what_happened_to_whom_and_what_to_do(db: Database) -> None:
    school, centre, net = await a_school_idle_in_its_network(db)
    plan = Plan(id=uuid.uuid4(), network_id=net.id, year=2026, status="in_progress")
    item = PlanItem(
        id=uuid.uuid4(),
        plan_id=plan.id,
        network_id=net.id,
        title="Семинар «Функциональная грамотность на уроках математики»",
        due_on=date(2026, 2, 1),
        responsible_organization_id=centre.id,
    )
    unnamed = PlanItem(id=uuid.uuid4(), plan_id=plan.id, network_id=net.id, due_on=date(2026, 2, 2))
    deficit = Deficit(
        id=uuid.uuid4(),
        educator_id=uuid.uuid4(),
        organization_id=school.id,
        competency="формирующее оценивание",
        level="high",
        diagnosed_on=date(2025, 11, 1),
    )
    master_class = held_activity(centre.id, net.id, date(2026, 2, 3), title="Мастер-класс «Смысловое чтение»")
    await add(db, plan, item, unnamed, deficit, master_class)
    await run(db, date(2026, 2, 9))

    found = data(await ask(db, ADMIN, LIST, today=date(2026, 2, 9)))["alerts"]
    by_rule = {(a["rule"], a["organizationName"]): a for a in found}
    assert len(found) == 5 and all(a["status"] == "open" for a in found)
    idle = by_rule[("no_network_activity", SCHOOL_NAME)]
    assert idle["title"] == f"{SCHOOL_NAME} не участвует в мероприятиях сети с 10.01.2026"
    assert NETWORK_NAME in idle["advice"] and "30 учебных дней" in idle["advice"]
    assert "каникулы не считаются" in idle["advice"] and idle["networkName"] == NETWORK_NAME
    overdue = by_rule[("plan_item_overdue", CENTRE_NAME)]
    assert overdue["title"] == (
        f"{CENTRE_NAME}: просрочен пункт плана «Семинар «Функциональная грамотность на уроках"
        " математики»» (срок — 01.02.2026)"
    )
    assert NETWORK_NAME in overdue["advice"] and "перенос срока" in overdue["advice"]
    (no_title,) = [a for a in found if a["rule"] == "plan_item_overdue" and a["organizationName"] is None]
    assert no_title["title"] == "Просрочен пункт плана (срок — 02.02.2026)"
    assert "Ответственная организация не назначена" in no_title["advice"]
    lacking = by_rule[("deficit_without_training", SCHOOL_NAME)]
    assert lacking["title"] == (
        f"{SCHOOL_NAME}: профессиональный дефицит «формирующее оценивание» педагога"
        " без повышения квалификации"
    )
    assert "01.11.2025" in lacking["advice"] and "90 дней" in lacking["advice"]
    unmarked = by_rule[("attendance_missing", CENTRE_NAME)]
    assert unmarked["title"] == (
        f"{CENTRE_NAME}: не отмечена посещаемость мероприятия «Мастер-класс «Смысловое чтение»»,"
        " проведённого 03.02.2026"
    )
    assert "Отметьте участников" in unmarked["advice"]
    for alert in found:
        assert alert["advice"].endswith(".") and len(alert["advice"]) > 80, alert


async def test_people_in_the_schools_scope_work_an_alert_and_everyone_else_is_refused(db: Database) -> None:
    school, centre, net = await a_school_idle_in_its_network(db)
    ((alert,), _) = await run(db, date(2026, 2, 9))
    ident, day = str(alert.id), date(2026, 2, 10)
    representative = person(
        Role.school_representative, "rep-7", region_code="39", organization_id=str(school.id)
    )
    coordinator = person(
        Role.municipal_coordinator, "coordinator-m", region_code="39", municipality_id=str(MUNICIPALITY)
    )
    admin = person(Role.regional_admin, "admin-39", region_code="39")
    expert = person(Role.expert, "expert-39", region_code="39")
    outsiders = {
        person(Role.regional_admin, "admin-77", region_code="77"): "FORBIDDEN",
        person(
            Role.municipal_coordinator, "coordinator-x", region_code="39", municipality_id=str(uuid.uuid4())
        ): ("FORBIDDEN"),
        person(Role.school_representative, "rep-centre", region_code="39", organization_id=str(centre.id)): (
            "FORBIDDEN"
        ),
        expert: "FORBIDDEN",
        person(Role.viewer, "viewer-39", region_code="39"): "FORBIDDEN",
        Identity(): "UNAUTHENTICATED",
    }

    # everyone in scope reads it; those who may work it are told so
    for caller, may in ((representative, True), (coordinator, True), (admin, True), (expert, False)):
        (seen,) = data(await ask(db, caller, LIST, today=day))["alerts"]
        assert (seen["id"], seen["mayAct"]) == (ident, may), caller.subject

    before = len(await events(db))
    writes = [
        (ACKNOWLEDGE, {}),
        (ASSIGN, {"org": str(centre.id)}),
        (COMMENT, {"text": "Позвонили директору"}),
        (SNOOZE, {"until": "2026-02-20"}),
    ]
    for caller, code in outsiders.items():
        for document, variables in writes:
            result = await ask(db, caller, document, today=day, id=ident, **variables)
            assert refused(result) == code, (caller.subject, document)
    assert len(await events(db)) == before, "a refused write leaves no event and no audit entry"

    def worked(result: Any, name: str) -> dict[str, Any]:
        answer = data(result)[name]
        assert answer["__typename"] == "Alert", answer
        return answer

    def rejected(result: Any, name: str) -> dict[str, Any]:
        answer = data(result)[name]
        assert answer["__typename"] == "ValidationError", answer
        return answer

    taken = worked(await ask(db, representative, ACKNOWLEDGE, today=day, id=ident), "acknowledgeAlert")
    assert (taken["status"], taken["acknowledgedBy"], taken["acknowledgedAt"]) == (
        "acknowledged",
        "rep-7",
        at(day, 9).isoformat(),
    )
    again = rejected(await ask(db, coordinator, ACKNOWLEDGE, today=day, id=ident), "acknowledgeAlert")
    assert again["field"] == "alertId" and "rep-7" in again["message"]

    given = worked(await ask(db, coordinator, ASSIGN, today=day, id=ident, org=str(centre.id)), "assignAlert")
    assert (given["assigneeOrganizationId"], given["assigneeOrganizationName"], given["assignedBy"]) == (
        str(centre.id),
        CENTRE_NAME,
        "coordinator-m",
    )
    for variables, field in (
        ({}, "organizationId"),
        ({"org": str(centre.id), "subject": "methodologist-1"}, "organizationId"),
        ({"org": str(uuid.uuid4())}, "organizationId"),
        ({"org": "не-id"}, "organizationId"),
    ):
        refusal = rejected(
            await ask(db, coordinator, ASSIGN, today=day, id=ident, **variables), "assignAlert"
        )
        assert refusal["field"] == field, (variables, refusal)
    to_person = worked(
        await ask(db, admin, ASSIGN, today=day, id=ident, subject="methodologist-1"), "assignAlert"
    )
    assert (to_person["assigneeSubject"], to_person["assigneeOrganizationId"]) == ("methodologist-1", None)

    noted = worked(
        await ask(db, admin, COMMENT, today=day, id=ident, text="  Позвонили директору, семинар 20.02  "),
        "commentOnAlert",
    )
    assert noted["comments"] == [
        {"author": "admin-39", "text": "Позвонили директору, семинар 20.02", "at": at(day, 9).isoformat()}
    ]
    assert rejected(await ask(db, admin, COMMENT, today=day, id=ident, text="   "), "commentOnAlert")[
        "field"
    ] == ("text")

    for until in ("2026-02-10", "2027-03-01"):
        refusal = rejected(
            await ask(db, representative, SNOOZE, today=day, id=ident, until=until), "snoozeAlert"
        )
        assert refusal["field"] == "until", refusal
    put_aside = worked(
        await ask(db, representative, SNOOZE, today=day, id=ident, until="2026-02-16"), "snoozeAlert"
    )
    assert (put_aside["status"], put_aside["snoozedUntil"], put_aside["snoozedBy"]) == (
        "snoozed",
        "2026-02-16",
        "rep-7",
    )

    # snoozed: not listed as open before its day, still there when asked for; its rule still holds
    assert await run(db, date(2026, 2, 12)) == ([], [])
    assert data(await ask(db, coordinator, LIST, today=date(2026, 2, 15)))["alerts"] == []
    (snoozed,) = data(await ask(db, coordinator, LIST, today=date(2026, 2, 15), status="snoozed"))["alerts"]
    assert snoozed["id"] == ident
    assert len(data(await ask(db, coordinator, LIST, today=date(2026, 2, 15), open=None))["alerts"]) == 1
    (back,) = data(await ask(db, coordinator, LIST, today=date(2026, 2, 16)))["alerts"]
    assert (back["id"], back["status"]) == (ident, "acknowledged")
    assert data(await ask(db, coordinator, LIST, today=date(2026, 2, 16), status="open"))["alerts"] == []

    # the school takes part: the alert is resolved; only a comment is still taken
    seminar = held_activity(centre.id, net.id, date(2026, 2, 17))
    await add(db, seminar, attendance(seminar, school.id))
    await run(db, date(2026, 2, 18))
    late = rejected(
        await ask(db, coordinator, SNOOZE, today=date(2026, 2, 18), id=ident, until="2026-03-01"),
        "snoozeAlert",
    )
    assert "Оповещение снято" in late["message"]
    closing = worked(
        await ask(db, coordinator, COMMENT, today=date(2026, 2, 18), id=ident, text="Школа вернулась"),
        "commentOnAlert",
    )
    assert closing["status"] == "resolved" and [c["author"] for c in closing["comments"]] == [
        "admin-39",
        "coordinator-m",
    ]

    recorded = await events(db)
    about = [(kind, payload) for kind, key, payload in recorded if key == str(school.id)]
    assert [kind for kind, _ in about] == [
        AlertRaised.event_type,
        AlertAcknowledged.event_type,
        AlertAssigned.event_type,
        AlertAssigned.event_type,
        AlertCommented.event_type,
        AlertSnoozed.event_type,
        AlertResolved.event_type,
        AlertCommented.event_type,
    ]
    acknowledged = AlertAcknowledged.model_validate(about[1][1])
    assert (acknowledged.alert_id, acknowledged.acknowledged_by, acknowledged.network_id) == (
        alert.id,
        "rep-7",
        net.id,
    )
    assigned = AlertAssigned.model_validate(about[2][1])
    assert (assigned.assignee_organization_id, assigned.assigned_by) == (centre.id, "coordinator-m")
    assert "text" not in about[4][1], "a comment's text stays in analytics"
    assert AlertSnoozed.model_validate(about[5][1]).snoozed_until == date(2026, 2, 16)

    audited = [
        AuditRecorded.model_validate(payload)
        for kind, _, payload in recorded
        if kind == AuditRecorded.event_type
    ]
    assert [(entry.operation, entry.subject) for entry in audited] == [
        ("acknowledgeAlert", "rep-7"),
        ("assignAlert", "coordinator-m"),
        ("assignAlert", "admin-39"),
        ("commentOnAlert", "admin-39"),
        ("snoozeAlert", "rep-7"),
        ("commentOnAlert", "coordinator-m"),
    ]
    assert all(
        (entry.service, entry.region_code, entry.municipality_id, entry.organization_ids)
        == ("analytics", "39", str(MUNICIPALITY), [str(school.id)])
        for entry in audited
    )
    assert all(len(entry.events) == 1 and entry.events[0].key == str(school.id) for entry in audited)


async def test_an_alert_of_a_network_is_worked_by_the_networks_editors_and_an_unknown_one_by_nobody(
    db: Database,
) -> None:
    net = network()
    plan = Plan(id=uuid.uuid4(), network_id=net.id, year=2026, status="agreed")
    await add(
        db, net, plan, PlanItem(id=uuid.uuid4(), plan_id=plan.id, network_id=net.id, due_on=date(2026, 5, 1))
    )
    ((alert,), _) = await run(db, date(2026, 6, 1))
    day = date(2026, 6, 2)
    for caller, code in (
        (
            person(Role.school_representative, "rep", region_code="39", organization_id=str(uuid.uuid4())),
            "FORBIDDEN",
        ),
        (person(Role.regional_admin, "admin-77", region_code="77"), "FORBIDDEN"),
    ):
        assert refused(await ask(db, caller, ACKNOWLEDGE, today=day, id=str(alert.id))) == code
    admin = person(Role.regional_admin, "admin-39", region_code="39")
    answer = data(await ask(db, admin, ACKNOWLEDGE, today=day, id=str(alert.id)))["acknowledgeAlert"]
    assert answer["status"] == "acknowledged"
    # an alert that does not exist is nobody's but an admin of every region's, who is told so
    missing = str(uuid.uuid4())
    assert refused(await ask(db, admin, ACKNOWLEDGE, today=day, id=missing)) == "FORBIDDEN"
    told = data(await ask(db, ADMIN, ACKNOWLEDGE, today=day, id=missing))["acknowledgeAlert"]
    assert told["__typename"] == "ValidationError" and told["field"] == "alertId"


# -- the school holidays ------------------------------------------------------------------------------

SET_BREAKS = """mutation($region: String!, $year: Int!, $breaks: [SchoolBreakInput!]!) {
    setSchoolBreaks(regionCode: $region, schoolYear: $year, breaks: $breaks) {
        __typename ... on ValidationError { field message }
        ... on SchoolYearBreaks { regionCode schoolYear breaks { kind startsOn endsOn } } } }"""
BREAKS = """query($region: String!, $year: Int) { schoolBreaks(regionCode: $region, schoolYear: $year) {
    kind startsOn endsOn } }"""


def usual(year: int) -> list[dict[str, str]]:
    return [
        {"kind": item.kind.value, "startsOn": item.starts_on.isoformat(), "endsOn": item.ends_on.isoformat()}
        for item in school_calendar.usual_breaks(year)
    ]


async def idle_alerts(db: Database, day: date) -> list[Alert]:
    async with db.session() as session, session.begin():
        raised, _ = await evaluate(session, SETTINGS, at(day), rules=[AlertRule.no_network_activity])
    return raised


async def test_a_summer_break_raises_no_idle_school_alert_and_counting_resumes_after_it(db: Database) -> None:
    """Region 39's holidays are set by its admin; a school of 39 and one of 77 (no holidays set)
    last took part on 20 May: the one of 77 is alerted 30 days later, the one of 39 only when 30
    days outside its breaks have passed: 6 in May, the summer not counted, 24 in September."""
    here, elsewhere, net = organization(), organization(region_code="77"), network()
    await add(db, here, elsewhere, net)
    for school in (here, elsewhere):
        taking_part = held_activity(school.id, net.id, date(2026, 5, 20))
        await add(
            db,
            Membership(
                id=uuid.uuid4(),
                network_id=net.id,
                organization_id=school.id,
                role="supported",
                joined_on=date(2026, 1, 10),
            ),
            taking_part,
            attendance(taking_part, school.id),
        )
    day = date(2026, 5, 1)
    admin_39 = person(Role.regional_admin, "admin-39", region_code="39")
    for caller, code in (
        (person(Role.regional_admin, "admin-77", region_code="77"), "FORBIDDEN"),
        (
            person(
                Role.municipal_coordinator, "coordinator", region_code="39", municipality_id=str(MUNICIPALITY)
            ),
            "FORBIDDEN",
        ),
        (Identity(), "UNAUTHENTICATED"),
    ):
        assert (
            refused(await ask(db, caller, SET_BREAKS, today=day, region="39", year=2025, breaks=usual(2025)))
            == code
        )
    overlapping = [*usual(2025)[:3], {"kind": "summer", "startsOn": "2026-04-01", "endsOn": "2026-08-31"}]
    for breaks in (overlapping, [{"kind": "зимние", "startsOn": "2025-12-29", "endsOn": "2026-01-11"}]):
        answer = data(await ask(db, admin_39, SET_BREAKS, today=day, region="39", year=2025, breaks=breaks))
        assert answer["setSchoolBreaks"]["field"] == "breaks", answer
    answer = data(
        await ask(db, admin_39, SET_BREAKS, today=day, region="39", year=2025, breaks=usual(2025)[::-1])
    )
    assert answer["setSchoolBreaks"] == {
        "__typename": "SchoolYearBreaks",
        "regionCode": "39",
        "schoolYear": 2025,
        "breaks": usual(2025),
    }
    assert data(await ask(db, Identity(), BREAKS, today=day, region="39"))["schoolBreaks"] == usual(2025)
    (calendar_event,) = [
        payload for kind, _, payload in await events(db) if kind == SchoolBreaksSet.event_type
    ]
    assert SchoolBreaksSet.model_validate(calendar_event).set_by == "admin-39"

    assert [a.subject_id for a in await idle_alerts(db, date(2026, 6, 18))] == []
    assert [a.subject_id for a in await idle_alerts(db, date(2026, 6, 19))] == [elsewhere.id]
    for quiet in (date(2026, 7, 15), date(2026, 8, 31), date(2026, 9, 23)):
        assert await idle_alerts(db, quiet) == [], quiet
    (resumed,) = await idle_alerts(db, date(2026, 9, 24))
    assert (resumed.subject_id, resumed.details["since_on"]) == (here.id, "2026-05-20")


def test_the_operator_sets_the_usual_breaks_loads_a_csv_and_lists_them(
    databases: DatabaseFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m services.analytics school-breaks usual|load|list`` on PostgreSQL."""
    import argparse

    settings = AnalyticsSettings(database_url=databases.create("analytics", migrate="analytics"))
    command = school_calendar.COMMAND
    assert (
        command.run(argparse.Namespace(action="usual", regions=["39", "08"], years=[2025, 2026]), settings)
        == 0
    )
    assert "16 breaks set" in capsys.readouterr().out
    assert command.run(argparse.Namespace(action="usual", regions=["39"], years=[2026]), settings) == 0
    assert "0 breaks set" in capsys.readouterr().out

    calendar = tmp_path / "breaks.csv"
    calendar.write_text(
        "region_code,school_year,kind,starts_on,ends_on\n"
        "39,2026,autumn,2026-10-26,2026-11-03\n"
        "39,2026,summer,2027-05-31,2027-08-31\n",
        encoding="utf-8",
    )
    assert command.run(argparse.Namespace(action="load", file=calendar), settings) == 0
    assert "2 breaks set" in capsys.readouterr().out
    assert command.run(argparse.Namespace(action="list", region="39"), settings) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1:5] for line in listed if "2026/2027" in line] == [
        ["2026/2027", "autumn", "2026-10-26", "2026-11-03"],
        ["2026/2027", "summer", "2027-05-31", "2027-08-31"],
    ]
    assert len(listed) == 6  # 2025/26's four, and 2026/27's two

    calendar.write_text(
        "region_code,school_year,kind,starts_on,ends_on\n39,2026,каникулы,2026-10-26,2026-11-03\n",
        encoding="utf-8",
    )
    assert command.run(argparse.Namespace(action="load", file=calendar), settings) == 1
    assert "line 2" in capsys.readouterr().out


async def test_the_demo_seeds_the_usual_breaks_of_its_regions_once(postgresql: Database) -> None:
    assert await analytics.ENTRY.seed(postgresql) == 2 * 3 * 4  # type: ignore[misc]
    assert await analytics.ENTRY.seed(postgresql) == 0  # type: ignore[misc]
    this_year = school_calendar.school_year_of(date.today())
    async with postgresql.session() as session:
        kaliningrad = await school_calendar.breaks_of(session, "39", this_year)
    assert [row.kind for row in kaliningrad] == ["autumn", "winter", "spring", "summer"]


# -- on a real broker -----------------------------------------------------------------------------


async def test_the_running_service_publishes_the_alert_and_what_people_did_with_it(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """Analytics on PostgreSQL and a real broker raises the alert itself, a representative
    acknowledges it, and both events reach ``setka.analytics`` keyed by the school; the write's
    audit entry comes back through ``setka.audit`` into the trail."""
    url = service_databases["analytics"]
    db = Database(url)
    today = datetime.now(UTC).date()
    school = organization(short_name=SCHOOL_NAME)
    net = network()
    await add(
        db,
        school,
        net,
        Membership(
            id=uuid.uuid4(),
            network_id=net.id,
            organization_id=school.id,
            role="supported",
            joined_on=today.replace(day=1) - timedelta(days=200),
        ),
    )
    settings = AnalyticsSettings(
        database_url=url,
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
        outbox_poll_seconds=0.2,
    )
    service = analytics.build(settings)
    representative = person(
        Role.school_representative, "rep-7", region_code="39", organization_id=str(school.id)
    )
    try:
        async with service.running():
            await asyncio.wait_for(service.connected.wait(), 60)
            (alert,) = await eventually(lambda: open_alerts(db), timeout=30)
            answer = data(await ask(db, representative, ACKNOWLEDGE, today=today, id=str(alert.id)))
            assert answer["acknowledgeAlert"]["acknowledgedBy"] == "rep-7"

            published = await read_topic(broker.bootstrap, topics.ANALYTICS, at_least=2)
            assert [(record.key.decode(), headers_of(record)["ce_type"]) for record in published] == [
                (str(school.id), AlertRaised.event_type),
                (str(school.id), AlertAcknowledged.event_type),
            ]

            async def trail_has_it() -> bool:
                async with db.session() as session:
                    operations = await session.scalars(select(AuditEntry.operation))
                    return "acknowledgeAlert" in set(operations)

            await eventually(trail_has_it, timeout=60)
    finally:
        await db.dispose()
