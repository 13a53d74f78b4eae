"""Done when: in analytics, an older event after a newer one, for every aggregate it copies,
changes nothing — whether it comes late, again under another id, or re-driven from the dead
letters after the newer ones were applied.

Each aggregate has a short history whose events carry their producer's outbox position
(``ce_sequence``) as the services' relays send it. The history goes to analytics' consumers in
order, one event at a time; then its older events come again under new ids: no table changes.
On a second database the newer events come first and the older ones after them, all in one run:
the tables are exactly those of the first. Through Kafka, the older events wait in the dead
letters while the newer ones are applied; the operator re-drives them, and nothing changes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, EventData, as_sequence, topics
from setka_contracts.events import (
    ActivityCancelled,
    ActivityHeld,
    ActivityPlanned,
    ActivityUpdatedByRegion,
    AssessmentResultRecorded,
    AttendanceRecorded,
    DeficitRecorded,
    FeedbackGiven,
    MobilityCorrected,
    MobilityRecorded,
    PlanAmended,
    PlanDrafted,
    PlanItemAdded,
    PlanItemState,
    TrainingRecorded,
)
from setka_contracts.registry import (
    CentreDesignated,
    EducatorEmployment,
    EducatorRegistered,
    EducatorUpdated,
    MemberJoined,
    MemberLeft,
    NetworkCreated,
    NetworkUpdated,
    OrganizationArchived,
    OrganizationRegistered,
    OrganizationUpdated,
    RiskProfileAssessed,
)
from setka_runtime.deadletters import read_letters, redrive

from services.analytics import app as analytics
from services.analytics.projections import PROJECTED
from tests.helpers import eventually, produce
from tests.integration.test_analytics_projections import deliver, dump
from tests.integration.test_analytics_replay import claims, keyed, settings_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Ids:
    first: uuid.UUID = field(default_factory=uuid.uuid4)
    second: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    other: uuid.UUID = field(default_factory=uuid.uuid4)
    network: uuid.UUID = field(default_factory=uuid.uuid4)
    authority: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class History:
    """An aggregate's events: what it needs first, then the older events and the newer ones."""

    setup: list[EventData]
    older: list[EventData]
    newer: list[EventData]
    newest: Callable[[dict[str, list[tuple[Any, ...]]]], bool]
    """Whether the tables show the newest state (so the test is not passed by applying nothing)."""


def organization(ids: Ids) -> History:
    def updated(name: str, region: str) -> OrganizationUpdated:
        return OrganizationUpdated(
            organization_id=ids.first,
            full_name=f"{name} (полное имя)",
            short_name=name,
            kind="school",
            region_code=region,
            updated_at=T0 + timedelta(days=1),
        )

    registered = OrganizationRegistered(
        organization_id=ids.first,
        full_name="СОШ № 1 (полное имя)",
        short_name="СОШ № 1",
        kind="school",
        region_code="39",
        registered_at=T0,
    )
    archived = OrganizationArchived(
        organization_id=ids.first, region_code="40", archived_at=T0 + timedelta(days=3)
    )
    return History(
        setup=[registered],
        older=[updated("СОШ № 1 им. Пушкина", "39"), updated("Лицей № 1", "08")],
        newer=[updated("Лицей № 1", "40"), archived],
        # archived, in region 40 and counted there only: a late update neither moves nor revives it
        newest=lambda tables: (
            _row(tables, "organization", ids.first)["region_code"] == "40"
            and _row(tables, "organization", ids.first)["archived_at"] == T0 + timedelta(days=3)
            and {row[0]: row[1:3] for row in tables["region_summary"]}.items()
            >= {"39": (0, 0), "40": (1, 1)}.items()
        ),
    )


def educator(ids: Ids) -> History:
    def state(kind: type[EducatorRegistered], category: str, where: uuid.UUID) -> EducatorRegistered:
        return kind(
            educator_id=ids.first,
            last_name="Иванова",
            first_name="Мария",
            qualification_category=category,
            subjects=["математика"] if category == "first" else ["математика", "физика"],
            employments=[
                EducatorEmployment(employment_id=where, organization_id=ids.school, position="учитель")
            ],
        )

    return History(
        setup=[],
        older=[state(EducatorRegistered, "first", ids.second)],
        newer=[state(EducatorUpdated, "highest", ids.other)],
        newest=lambda tables: (
            _row(tables, "educator", ids.first)["qualification_category"] == "highest"
            and [row[0] for row in tables["employment"]] == [ids.other]
        ),
    )


def membership(ids: Ids) -> History:
    rest = {"network_id": ids.network, "membership_id": ids.first, "organization_id": ids.school}
    return History(
        setup=[],
        older=[MemberJoined(**rest, role="partner", joined_on=date(2025, 9, 1))],
        newer=[
            CentreDesignated(**rest, designated_on=date(2025, 9, 1)),
            MemberLeft(**rest, role="centre", joined_on=date(2025, 9, 1), left_on=date(2026, 6, 1)),
        ],
        newest=lambda tables: (
            _row(tables, "membership", ids.first)["role"] == "centre"
            and _row(tables, "membership", ids.first)["left_on"] == date(2026, 6, 1)
        ),
    )


def plan_item(ids: Ids) -> History:
    drafted = PlanDrafted(plan_id=ids.second, network_id=ids.network, year=2026, title="План")
    added = PlanItemAdded(plan_id=ids.second, item_id=ids.first, title="Семинар", due_on=date(2026, 4, 1))
    amended = PlanAmended(
        plan_id=ids.second,
        version=2,
        amended_at=T0,
        author="координатор",
        reason="перенос",
        changed_items=[
            PlanItemState(
                item_id=ids.first, title="Семинар (перенесён)", kind="activity", due_on=date(2026, 5, 1)
            )
        ],
    )
    return History(
        setup=[drafted],
        older=[added],
        newer=[amended],
        newest=lambda tables: _row(tables, "plan_item", ids.first)["due_on"] == date(2026, 5, 1),
    )


def _activity(ids: Ids, kind: type[ActivityPlanned] = ActivityPlanned, **rest: Any) -> ActivityPlanned:
    starts = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
    return kind(
        **{
            "activity_id": ids.first,
            "title": "Семинар",
            "activity_type": "seminar",
            "format": "in_person",
            "host_organization_id": ids.school,
            "network_id": ids.network,
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=3),
        }
        | rest
    )


def activity(ids: Ids) -> History:
    def updated(title: str, **rest: Any) -> ActivityPlanned:
        return _activity(
            ids, ActivityUpdatedByRegion, title=title, source_system="lms", external_id="7", **rest
        )

    return History(
        setup=[_activity(ids)],
        older=[updated("Семинар (новое название)"), ActivityHeld(activity_id=ids.first, changed_at=T0)],
        newer=[
            updated("Семинар (итог)", status="held"),
            ActivityCancelled(activity_id=ids.first, changed_at=T0 + timedelta(days=2), reason="отменён"),
        ],
        # cancelled stays cancelled: a late update or transition does not bring the activity back
        newest=lambda tables: (
            _row(tables, "activity", ids.first)["title"] == "Семинар (итог)"
            and _row(tables, "activity", ids.first)["status"] == "cancelled"
            and _row(tables, "activity", ids.first)["held_on"] is not None
        ),
    )


def attendance(ids: Ids) -> History:
    def attended(hours: float) -> AttendanceRecorded:
        return AttendanceRecorded(
            activity_id=ids.second, attendance_id=ids.first, organization_id=ids.school, hours=hours
        )

    return History(
        setup=[_activity(Ids(first=ids.second, school=ids.school, network=ids.network))],
        older=[attended(2.0)],
        newer=[attended(3.0)],
        newest=lambda tables: _row(tables, "attendance", ids.first)["hours"] == 3.0,
    )


def feedback(ids: Ids) -> History:
    def given(rating: int) -> FeedbackGiven:
        return FeedbackGiven(activity_id=ids.second, feedback_id=ids.first, rating=rating)

    return History(
        setup=[],
        older=[given(2)],
        newer=[given(5)],
        newest=lambda tables: _row(tables, "feedback", ids.first)["rating"] == 5,
    )


def assessment_result(ids: Ids) -> History:
    def result(mean: float) -> AssessmentResultRecorded:
        return AssessmentResultRecorded(
            result_id=ids.first,
            organization_id=ids.school,
            procedure="vpr",
            subject="математика",
            grade=5,
            year=2026,
            participants=48,
            mean_score=mean,
            mark_shares={"2": 0.25, "5": 0.75},
            source_system="rcoi",
        )

    return History(
        setup=[],
        older=[result(3.1)],
        newer=[result(3.9)],
        newest=lambda tables: _row(tables, "assessment_result", ids.first)["mean_score"] == 3.9,
    )


def training(ids: Ids) -> History:
    def trained(hours: int) -> TrainingRecorded:
        return TrainingRecorded(
            training_id=ids.first,
            educator_id=ids.second,
            organization_id=ids.school,
            course="Функциональная грамотность",
            provider="ИРО",
            hours=hours,
            completed_on=date(2026, 2, 1),
            source_system="lms",
        )

    return History(
        setup=[],
        older=[trained(36)],
        newer=[trained(72)],
        newest=lambda tables: _row(tables, "training", ids.first)["hours"] == 72,
    )


def deficit(ids: Ids) -> History:
    def diagnosed(level: str) -> DeficitRecorded:
        return DeficitRecorded(
            deficit_id=ids.first,
            educator_id=ids.second,
            organization_id=ids.school,
            competency="оценивание",
            level=level,
            diagnosed_on=date(2026, 2, 1),
            source_system="diagnostics",
        )

    return History(
        setup=[],
        older=[diagnosed("high")],
        newer=[diagnosed("low")],
        newest=lambda tables: _row(tables, "deficit", ids.first)["level"] == "low",
    )


def network(ids: Ids) -> History:
    def state(version: int, name: str) -> NetworkUpdated:
        return NetworkUpdated(
            network_id=ids.first,
            version=version,
            name=name,
            level="municipal",
            region_code="39",
            governing_body_id=ids.authority,
            started_on=date(2025, 9, 1),
            updated_at=T0,
        )

    created = NetworkCreated(
        network_id=ids.first,
        name="Сеть",
        level="municipal",
        region_code="39",
        governing_body_id=ids.authority,
        started_on=date(2025, 9, 1),
    )
    return History(
        setup=[created],
        older=[state(2, "Сеть школ")],
        newer=[state(3, "Сеть школ Калининграда")],
        newest=lambda tables: _row(tables, "network", ids.first)["name"] == "Сеть школ Калининграда",
    )


def mobility(ids: Ids) -> History:
    rest = {
        "mobility_id": ids.first,
        "kind": "students",
        "home_organization_id": ids.school,
        "host_organization_id": ids.other,
        "programme": "Робототехника",
        "starts_on": date(2026, 2, 1),
        "ends_on": date(2026, 2, 28),
        "hours": 12.0,
    }
    return History(
        setup=[MobilityRecorded(**rest, participants=10)],
        older=[MobilityCorrected(**rest, participants=12, version=2, corrected_at=T0)],
        newer=[MobilityCorrected(**rest, participants=15, version=3, corrected_at=T0)],
        newest=lambda tables: _row(tables, "mobility", ids.first)["participants"] == 15,
    )


def risk_profile(ids: Ids) -> History:
    def assessed(on: date, level: str) -> RiskProfileAssessed:
        return RiskProfileAssessed(
            organization_id=ids.first,
            profile_id=uuid.uuid4(),
            assessed_on=on,
            factors={"teacher_shortage": level},
        )

    return History(
        setup=[],
        older=[assessed(date(2025, 10, 1), "high")],
        newer=[assessed(date(2026, 2, 1), "low")],
        newest=lambda tables: _row(tables, "risk_profile", ids.first)["assessed_on"] == date(2026, 2, 1),
    )


HISTORIES: dict[str, Callable[[Ids], History]] = {
    history.__name__: history
    for history in (
        organization,
        educator,
        membership,
        network,
        risk_profile,
        plan_item,
        activity,
        attendance,
        feedback,
        mobility,
        assessment_result,
        training,
        deficit,
    )
}
"""Every aggregate analytics copies whose state a later event replaces (a plan's status and a
resource only move forward, and the audit trail is kept as recorded)."""


COLUMNS = {model.__table__.name: list(model.__table__.columns.keys()) for model in PROJECTED}  # type: ignore[attr-defined]
"""Each projected table's columns, in the order :func:`dump` gives them."""


def _row(tables: dict[str, list[tuple[Any, ...]]], table: str, ident: uuid.UUID) -> dict[str, Any]:
    """The row of ``ident`` in the dumped ``table``, by column name."""
    return dict(zip(COLUMNS[table], next(row for row in tables[table] if row[0] == ident), strict=True))


def sequenced(history: History) -> tuple[list[CloudEvent], list[CloudEvent], list[CloudEvent]]:
    """The history's events as a relay sends them: each with its outbox position, in order."""
    positions = iter(range(1, 100))

    def sent(data: EventData) -> CloudEvent:
        source = "/setka/registry" if data.topic == topics.REGISTRY else "/setka/events"
        return CloudEvent(
            type=data.event_type,
            source=source,
            data=data.model_dump(mode="json"),
            time=T0,
            sequence=as_sequence(next(positions)),
        )

    return (
        [sent(data) for data in history.setup],
        [sent(data) for data in history.older],
        [sent(data) for data in history.newer],
    )


def under_new_ids(events: list[CloudEvent]) -> list[CloudEvent]:
    """The same events sent again under new ids (so no inbox absorbs them), sequences kept."""
    return [
        CloudEvent(type=e.type, source=e.source, data=e.data, time=e.time, sequence=e.sequence)
        for e in events
    ]


def topic_of(events: list[CloudEvent]) -> str:
    (topic,) = {topics.REGISTRY if event.source == "/setka/registry" else topics.EVENTS for event in events}
    return topic


def counted(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The tables without regions that count nothing (a region an organization only passed
    through, on its way to another, in an older event that was then never applied)."""
    return tables | {"region_summary": [row for row in tables["region_summary"] if row[1] or row[2]]}


@pytest.mark.parametrize("aggregate", sorted(HISTORIES))
async def test_an_older_event_after_a_newer_one_changes_nothing(aggregate: str, databases: Any) -> None:
    history = HISTORIES[aggregate](Ids())
    setup, older, newer = sequenced(history)
    topic = topic_of(setup + older + newer)
    in_order = databases.create(f"analytics_{aggregate}_in_order", migrate="analytics")
    for event in setup + older + newer:
        await deliver(in_order, {topic: [event]}, one_at_a_time=True)
    built = await dump(in_order)
    assert history.newest(built), built

    await deliver(in_order, {topic: under_new_ids(older)}, one_at_a_time=True)
    await deliver(in_order, {topic: under_new_ids(list(reversed(older)))}, one_at_a_time=False)
    assert await dump(in_order) == built

    newest_first = databases.create(f"analytics_{aggregate}_late", migrate="analytics")
    await deliver(newest_first, {topic: setup + list(reversed(newer)) + older}, one_at_a_time=False)
    assert await dump(newest_first) == built


async def test_re_driving_old_letters_after_newer_events_changes_nothing(
    broker: Any, service_databases: dict[str, str], databases: Any
) -> None:
    """Every aggregate's older events sit in the dead letters of their topic (as if analytics had
    given up on them once) while the newer ones go through Kafka; the operator re-drives them.
    The newest state stays: the tables end exactly as if every event had come in order (what an
    older event adds without overwriting — the first day an activity was held — is kept)."""
    url = service_databases["analytics"]
    histories = [HISTORIES[name](Ids()) for name in sorted(HISTORIES)]
    current: dict[str, list[CloudEvent]] = {topics.REGISTRY: [], topics.EVENTS: []}
    dead: dict[str, list[CloudEvent]] = {topics.REGISTRY: [], topics.EVENTS: []}
    in_order = databases.create("analytics_in_order", migrate="analytics")
    for history in histories:
        setup, older, newer = sequenced(history)
        topic = topic_of(setup + older + newer)
        current[topic].extend(setup + newer)
        dead[topic].extend(older)
        await deliver(in_order, {topic: setup + older + newer}, one_at_a_time=True)
    expected = await dump(in_order)
    service = analytics.build(settings_for(broker, url))
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        for topic in current:
            letters = [
                (key, body, {**headers, "dlq_reason": "failed after 5 attempts: test", "dlq_topic": topic})
                for key, body, headers in (keyed(event) for event in dead[topic])
            ]
            await produce(broker.bootstrap, topics.dead_letter(topic), letters)
            await produce(broker.bootstrap, topic, [keyed(event) for event in current[topic]])
        applied = sum(len(events) for events in current.values())

        async def all_applied() -> bool:
            return await claims(url) == applied

        await eventually(all_applied, timeout=120)
        built = await dump(url)
        assert all(history.newest(built) for history in histories)

        for topic in dead:
            letters = await read_letters(broker.bootstrap, topic)
            assert len(letters) == len(dead[topic])
            await redrive(broker.bootstrap, topic, letters)
        redriven = applied + sum(len(events) for events in dead.values())

        async def all_redriven() -> bool:
            return await claims(url) == redriven

        await eventually(all_redriven, timeout=120)
        redrove = await dump(url)
        assert all(history.newest(redrove) for history in histories)
        assert counted(redrove) == counted(expected)
        assert {name: rows for name, rows in redrove.items() if name != "activity"} == {
            name: rows for name, rows in built.items() if name != "activity"
        }
