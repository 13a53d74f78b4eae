"""Analytics' read models from the registry's and the events service's events, on PostgreSQL.

The streams go through the guarded consumers the process runs (inbox, runs of one type, batch
handlers): once as one batch per topic, once a message at a time. Each handler's effect is checked
on the batch, with redeliveries (the same ``ce_id``), the same fact sent again under a new id, and
late facts that must not undo later ones; then both ways must leave exactly the same tables.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, EventData, topics
from setka_contracts.events import (
    ActivityAnnounced,
    ActivityCancelled,
    ActivityHeld,
    ActivityPlanned,
    ActivityPostponed,
    ActivityReported,
    ActivityUpdatedByRegion,
    AssessmentResultRecorded,
    AttendanceRecorded,
    DeficitRecorded,
    FeedbackGiven,
    MobilityRecorded,
    ParticipantRegistered,
    PlanAgreed,
    PlanAmended,
    PlanClosed,
    PlanDrafted,
    PlanItemAdded,
    PlanItemDone,
    PlanItemState,
    PlanProposalAccepted,
    PlanProposalMade,
    PlanStarted,
    TrainingRecorded,
)
from setka_contracts.registry import (
    CentreDesignated,
    EducatorEmployment,
    EducatorRegistered,
    EducatorUpdated,
    MemberJoined,
    MemberLeft,
    NetworkClosed,
    NetworkCreated,
    OrganizationArchived,
    OrganizationRegistered,
    OrganizationStatusChanged,
    OrganizationUpdated,
    ResourceOffered,
    ResourceUsed,
    ResourceWithdrawn,
    RiskFactor,
    RiskProfileAssessed,
)
from setka_runtime.consumer import Item
from setka_runtime.db import Database
from setka_runtime.tables import inbox
from sqlalchemy import func, select

from services.analytics import app as analytics
from services.analytics.models import Activity, Attendance, OrganizationStatus, PlanItem
from services.analytics.projections import (
    PROJECTED,
    attendance_recorded,
    plan_items_added,
    plan_items_done,
    plans_amended,
    resources_withdrawn,
    statuses_changed,
)
from services.analytics.settings import AnalyticsSettings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Ids:
    """The aggregates of one stream (fresh ids, so two streams never meet)."""

    school_a: uuid.UUID = field(default_factory=uuid.uuid4)
    school_b: uuid.UUID = field(default_factory=uuid.uuid4)
    kindergarten: uuid.UUID = field(default_factory=uuid.uuid4)
    college: uuid.UUID = field(default_factory=uuid.uuid4)
    authority: uuid.UUID = field(default_factory=uuid.uuid4)
    municipality: uuid.UUID = field(default_factory=uuid.uuid4)
    educator: uuid.UUID = field(default_factory=uuid.uuid4)
    first_post: uuid.UUID = field(default_factory=uuid.uuid4)
    second_post: uuid.UUID = field(default_factory=uuid.uuid4)
    network: uuid.UUID = field(default_factory=uuid.uuid4)
    supported: uuid.UUID = field(default_factory=uuid.uuid4)
    partner: uuid.UUID = field(default_factory=uuid.uuid4)
    centre: uuid.UUID = field(default_factory=uuid.uuid4)
    resource: uuid.UUID = field(default_factory=uuid.uuid4)
    resource_request: uuid.UUID = field(default_factory=uuid.uuid4)
    resource_use: uuid.UUID = field(default_factory=uuid.uuid4)
    plan: uuid.UUID = field(default_factory=uuid.uuid4)
    plan_item: uuid.UUID = field(default_factory=uuid.uuid4)
    task: uuid.UUID = field(default_factory=uuid.uuid4)
    """A plan item that is a task, proposed by a member, amended and marked done."""
    proposal: uuid.UUID = field(default_factory=uuid.uuid4)
    withdrawn: uuid.UUID = field(default_factory=uuid.uuid4)
    """A plan item an amendment withdrew."""
    seminar: uuid.UUID = field(default_factory=uuid.uuid4)
    regional: uuid.UUID = field(default_factory=uuid.uuid4)
    cancelled: uuid.UUID = field(default_factory=uuid.uuid4)
    postponed: uuid.UUID = field(default_factory=uuid.uuid4)
    attendance: tuple[uuid.UUID, ...] = field(default_factory=lambda: tuple(uuid.uuid4() for _ in range(3)))
    feedback: uuid.UUID = field(default_factory=uuid.uuid4)
    mobility: uuid.UUID = field(default_factory=uuid.uuid4)
    result_a: uuid.UUID = field(default_factory=uuid.uuid4)
    result_b: uuid.UUID = field(default_factory=uuid.uuid4)
    training: uuid.UUID = field(default_factory=uuid.uuid4)
    deficit: uuid.UUID = field(default_factory=uuid.uuid4)


def cloud(data: EventData, *, at: datetime = T0, ce_id: str | None = None) -> CloudEvent:
    source = "/setka/registry" if data.topic == topics.REGISTRY else "/setka/events"
    return CloudEvent(
        type=data.event_type,
        source=source,
        data=data.model_dump(mode="json"),
        id=ce_id or str(uuid.uuid4()),
        time=at,
    )


def again(event: CloudEvent) -> CloudEvent:
    """The same message delivered once more (the same ``ce_id``)."""
    return event


def risk(level: str) -> dict[RiskFactor, Any]:
    return {factor: level for factor in RiskFactor}


def registry_stream(ids: Ids) -> list[CloudEvent]:
    """The registry's side of a year: organizations, statuses, an educator, a network, a resource."""

    def registered(org: uuid.UUID, name: str, kind: str, region: str, day: int) -> OrganizationRegistered:
        return OrganizationRegistered(
            organization_id=org,
            full_name=f"{name} (полное имя)",
            short_name=name,
            kind=kind,
            region_code=region,
            region_name={"39": "Калининградская область", "08": "Республика Калмыкия"}.get(region),
            municipality="Калининград" if region == "39" else None,
            municipality_id=ids.municipality if region == "39" else None,
            registered_at=T0 + timedelta(days=day),
        )

    def moved_to(org: uuid.UUID, region: str) -> OrganizationUpdated:
        return OrganizationUpdated(
            organization_id=org,
            full_name="Колледж (полное имя)",
            short_name="Колледж",
            kind="college",
            region_code=region,
            updated_at=T0 + timedelta(days=6),
        )

    def status(org: uuid.UUID, name: str, change: str, on: date) -> OrganizationStatusChanged:
        return OrganizationStatusChanged(
            organization_id=org, status=name, change=change, effective_on=on, current_statuses=[]
        )

    def member(kind: type[MemberJoined | MemberLeft], ident: uuid.UUID, org: uuid.UUID, **rest: Any) -> Any:
        return kind(network_id=ids.network, membership_id=ident, organization_id=org, **rest)

    first_registration = cloud(registered(ids.school_a, "СОШ № 1", "school", "39", 0), at=T0)
    created = NetworkCreated(
        network_id=ids.network,
        name="Сеть школ Калининграда",
        level="municipal",
        region_code="39",
        municipality_id=ids.municipality,
        governing_body_id=ids.authority,
        started_on=date(2024, 9, 1),
        ended_on=date(2027, 8, 31),  # as planned; the closing replaces it
    )
    joined = cloud(
        member(MemberJoined, ids.supported, ids.school_a, role="supported", joined_on=date(2024, 9, 1))
    )
    post = EducatorEmployment(
        employment_id=ids.first_post, organization_id=ids.school_a, position="учитель математики"
    )
    moved = EducatorEmployment(
        employment_id=ids.second_post,
        organization_id=ids.school_b,
        position="учитель математики",
        started_on=date(2025, 9, 1),
    )
    return [
        first_registration,
        again(first_registration),
        cloud(registered(ids.school_b, "СОШ № 2", "school", "39", 1), at=T0 + timedelta(hours=1)),
        cloud(registered(ids.kindergarten, "Д/с № 5", "kindergarten", "08", 2), at=T0 + timedelta(hours=2)),
        cloud(
            registered(ids.authority, "Комитет по образованию", "education_authority", "39", 3),
            at=T0 + timedelta(hours=3),
        ),
        # the same organization registered again under a new id: counted once, first kept
        cloud(registered(ids.school_a, "СОШ № 1 (повтор)", "school", "77", 9), at=T0 + timedelta(hours=4)),
        cloud(
            OrganizationUpdated(
                organization_id=ids.kindergarten,
                full_name="МАОУ СОШ № 5",
                short_name="СОШ № 5",
                kind="school",
                region_code="39",
                municipality="Калининград",
                municipality_id=ids.municipality,
                updated_at=T0 + timedelta(days=5),
            ),
            at=T0 + timedelta(hours=5),
        ),
        cloud(registered(ids.college, "Колледж", "college", "08", 4), at=T0 + timedelta(hours=6)),
        # moved to 39 and back: the counts are as before, both regions changed at the last move
        cloud(moved_to(ids.college, "39"), at=T0 + timedelta(hours=7)),
        cloud(moved_to(ids.college, "08"), at=T0 + timedelta(hours=8)),
        cloud(status(ids.school_a, "low_results", "entered", date(2024, 9, 1))),
        cloud(status(ids.school_b, "stable_results", "entered", date(2023, 1, 1))),
        cloud(status(ids.school_a, "low_results", "left", date(2025, 9, 1))),
        cloud(status(ids.school_a, "low_results", "left", date(2025, 9, 1))),  # sent again
        cloud(status(ids.school_a, "adverse_social_conditions", "entered", date(2025, 9, 1))),
        cloud(
            RiskProfileAssessed(
                organization_id=ids.school_a,
                profile_id=uuid.uuid4(),
                assessed_on=date(2025, 10, 1),
                factors=risk("high"),
            )
        ),
        cloud(  # an older assessment arriving late: the latest is kept
            RiskProfileAssessed(
                organization_id=ids.school_a,
                profile_id=uuid.uuid4(),
                assessed_on=date(2025, 3, 1),
                factors=risk("low"),
            )
        ),
        cloud(
            EducatorRegistered(
                educator_id=ids.educator,
                last_name="Иванова",
                first_name="Мария",
                qualification_category="first",
                subjects=["математика"],
                employments=[post],
            )
        ),
        cloud(
            EducatorUpdated(
                educator_id=ids.educator,
                last_name="Иванова",
                first_name="Мария",
                qualification_category="highest",
                subjects=["математика", "информатика"],
                employments=[moved],
            )
        ),
        cloud(created),
        joined,
        cloud(member(MemberJoined, ids.partner, ids.school_b, role="partner", joined_on=date(2024, 9, 1))),
        cloud(
            member(
                MemberLeft,
                ids.partner,
                ids.school_b,
                role="partner",
                joined_on=date(2024, 9, 1),
                left_on=date(2025, 1, 15),
            )
        ),
        again(joined),
        cloud(member(MemberJoined, ids.centre, ids.school_b, role="centre", joined_on=date(2025, 1, 15))),
        cloud(
            CentreDesignated(
                network_id=ids.network,
                membership_id=ids.centre,
                organization_id=ids.school_b,
                designated_on=date(2025, 1, 15),
            )
        ),
        cloud(
            ResourceOffered(
                resource_id=ids.resource,
                kind="methodological",
                owner_id=ids.school_b,
                title="Банк заданий по функциональной грамотности",
                subjects=["математика"],
                available_from=date(2025, 1, 1),
            )
        ),
        *(
            cloud(
                ResourceUsed(
                    request_id=ids.resource_request,
                    version=version,
                    resource_id=ids.resource,
                    owner_id=ids.school_b,
                    requester_id=ids.school_a,
                    network_id=ids.network,
                    use_id=ids.resource_use,
                    resource_kind="methodological",
                    used_from=date(2025, 3, 3),
                    used_to=date(2025, 3, 4),
                    note="задания для 7 класса",
                    figure=float(version),
                    recorded_by_id=ids.school_a,
                    recorded_at=T0,
                )
            )
            for version in (3, 2)  # an older version after a newer one changes nothing
        ),
        cloud(
            ResourceWithdrawn(
                resource_id=ids.resource,
                owner_id=ids.school_b,
                title="Банк заданий",
                withdrawn_at=T0 + timedelta(days=30),
            )
        ),
        cloud(
            ResourceWithdrawn(
                resource_id=ids.resource,
                owner_id=ids.school_b,
                title="Банк заданий",
                withdrawn_at=T0 + timedelta(days=31),
            )
        ),
        cloud(NetworkClosed(network_id=ids.network, name=created.name, ended_on=date(2026, 6, 1))),
        cloud(created),  # the creation sent again after the closing: nothing is reopened
        cloud(
            member(MemberJoined, ids.partner, ids.school_b, role="partner", joined_on=date(2024, 9, 1))
        ),  # a joining sent again after the leaving: the membership stays ended
        cloud(
            OrganizationArchived(
                organization_id=ids.authority, region_code="39", archived_at=T0 + timedelta(days=40)
            )
        ),
        cloud(
            OrganizationArchived(
                organization_id=ids.authority, region_code="39", archived_at=T0 + timedelta(days=41)
            )
        ),
    ]


def events_stream(ids: Ids) -> list[CloudEvent]:
    """The events service's side: a plan, activities through their lifecycle, what happened."""

    def activity(ident: uuid.UUID, starts: datetime, **rest: Any) -> dict[str, Any]:
        return {
            "activity_id": ident,
            "title": "Семинар",
            "activity_type": "seminar",
            "processes": ["experience_exchange", "peer_learning"],
            "format": "in_person",
            "host_organization_id": ids.school_b,
            "network_id": ids.network,
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=3),
        } | rest

    seminar_starts = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
    regional_starts = datetime(2026, 2, 10, 7, 0, tzinfo=UTC)
    attendance = cloud(
        AttendanceRecorded(
            activity_id=ids.seminar,
            attendance_id=ids.attendance[0],
            organization_id=ids.school_a,
            educator_id=ids.educator,
            hours=3.0,
        )
    )
    result = {
        "result_id": ids.result_a,
        "organization_id": ids.school_a,
        "procedure": "vpr",
        "subject": "математика",
        "grade": 5,
        "year": 2026,
        "participants": 48,
        "mean_score": 3.4,
        "mark_shares": {"2": 0.25, "3": 0.35, "4": 0.3, "5": 0.1},
        "source_system": "rcoi",
    }

    def agreed(at: datetime) -> PlanAgreed:
        return PlanAgreed(plan_id=ids.plan, changed_at=at)

    return [
        cloud(
            PlanDrafted(
                plan_id=ids.plan,
                network_id=ids.network,
                year=2025,
                title="План 2025/26",
                period="school_year",
            )
        ),
        cloud(
            PlanItemAdded(
                plan_id=ids.plan,
                item_id=ids.plan_item,
                title="Семинар по функциональной грамотности",
                due_on=date(2026, 4, 1),
                responsible_organization_id=ids.school_b,
            )
        ),
        cloud(agreed(T0)),
        cloud(PlanStarted(plan_id=ids.plan, changed_at=T0 + timedelta(days=1))),
        cloud(agreed(T0 + timedelta(days=2))),  # a late, repeated agreement: the plan stays started
        # a member's proposal (read past) accepted as a task; another item; an amendment moves the
        # task to another school and a later day and withdraws the other item; the task is done
        cloud(
            PlanProposalMade(
                plan_id=ids.plan,
                proposal_id=ids.proposal,
                organization_id=ids.school_a,
                title="Заключить договоры",
                kind="task",
                due_on=date(2026, 5, 1),
                proposed_at=T0,
            )
        ),
        cloud(
            PlanItemAdded(
                plan_id=ids.plan,
                item_id=ids.task,
                title="Заключить договоры",
                due_on=date(2026, 5, 1),
                responsible_organization_id=ids.school_a,
                kind="task",
                proposal_id=ids.proposal,
            )
        ),
        cloud(
            PlanProposalAccepted(plan_id=ids.plan, proposal_id=ids.proposal, item_id=ids.task, decided_at=T0)
        ),
        cloud(
            PlanItemAdded(
                plan_id=ids.plan, item_id=ids.withdrawn, title="Конференция", due_on=date(2026, 6, 1)
            )
        ),
        cloud(
            PlanAmended(
                plan_id=ids.plan,
                version=2,
                amended_at=T0 + timedelta(days=3),
                author="coordinator",
                reason="Приказ № 12",
                changed_items=[
                    PlanItemState(
                        item_id=ids.task,
                        title="Заключить договоры",
                        kind="task",
                        due_on=date(2026, 5, 15),
                        responsible_organization_id=ids.school_b,
                    )
                ],
                withdrawn_item_ids=[ids.withdrawn],
            )
        ),
        cloud(
            PlanItemDone(
                plan_id=ids.plan, item_id=ids.task, done_at=datetime(2026, 5, 14, 22, 30, tzinfo=UTC)
            )
        ),
        # the same fact sent again later under a new id: the first day stays
        cloud(
            PlanItemDone(plan_id=ids.plan, item_id=ids.task, done_at=datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
        ),
        cloud(ActivityPlanned(**activity(ids.seminar, seminar_starts, plan_item_id=ids.plan_item))),
        cloud(ActivityAnnounced(activity_id=ids.seminar, changed_at=T0)),
        cloud(
            ParticipantRegistered(
                activity_id=ids.seminar, registration_id=uuid.uuid4(), organization_id=ids.school_a
            )
        ),
        cloud(ActivityHeld(activity_id=ids.seminar, changed_at=seminar_starts + timedelta(hours=6))),
        attendance,
        again(attendance),
        cloud(
            AttendanceRecorded(
                activity_id=ids.seminar,
                attendance_id=ids.attendance[1],
                organization_id=ids.school_a,
                hours=2.0,
            )
        ),
        cloud(
            ActivityReported(
                activity_id=ids.seminar, changed_at=seminar_starts + timedelta(days=5), report="…"
            )
        ),
        cloud(FeedbackGiven(activity_id=ids.seminar, feedback_id=ids.feedback, rating=5)),
        # recorded by a regional system as held, then moved a day later by a newer version
        cloud(
            ActivityPlanned(
                **activity(
                    ids.regional,
                    regional_starts,
                    host_organization_id=ids.school_a,
                    network_id=None,
                    status="held",
                    source_system="kripkro-lms",
                    external_id="A-1",
                )
            )
        ),
        cloud(
            AttendanceRecorded(
                activity_id=ids.regional,
                attendance_id=ids.attendance[2],
                organization_id=ids.school_b,
                hours=4.0,
                source_system="kripkro-lms",
            )
        ),
        cloud(
            ActivityUpdatedByRegion(
                **activity(
                    ids.regional,
                    regional_starts + timedelta(days=1),
                    host_organization_id=ids.school_a,
                    network_id=None,
                    status="held",
                    source_system="kripkro-lms",
                    external_id="A-1",
                )
            )
        ),
        cloud(ActivityPlanned(**activity(ids.cancelled, seminar_starts + timedelta(days=7)))),
        cloud(ActivityCancelled(activity_id=ids.cancelled, changed_at=T0, reason="карантин")),
        cloud(ActivityPlanned(**activity(ids.postponed, seminar_starts + timedelta(days=8)))),
        cloud(
            ActivityPostponed(
                activity_id=ids.postponed,
                changed_at=T0,
                reason="совпадает с ВПР",
                starts_at=seminar_starts + timedelta(days=15),
                ends_at=seminar_starts + timedelta(days=15, hours=2),
            )
        ),
        cloud(
            MobilityRecorded(
                mobility_id=ids.mobility,
                kind="students",
                home_organization_id=ids.school_a,
                host_organization_id=ids.school_b,
                network_id=ids.network,
                programme="Робототехника",
                participants=12,
                starts_on=date(2026, 2, 1),
                ends_on=date(2026, 5, 31),
                hours=36.0,
            )
        ),
        cloud(AssessmentResultRecorded(**result)),
        cloud(  # corrected by the regional system: the same result, newer figures
            AssessmentResultRecorded(
                **result | {"participants": 50, "mark_shares": {"2": 0.2, "3": 0.4, "4": 0.3, "5": 0.1}}
            )
        ),
        cloud(
            AssessmentResultRecorded(
                **result
                | {
                    "result_id": ids.result_b,
                    "organization_id": ids.school_b,
                    "mean_score": 4.4,
                    "mark_shares": {"4": 0.6, "5": 0.4},
                }
            )
        ),
        cloud(
            TrainingRecorded(
                training_id=ids.training,
                educator_id=ids.educator,
                organization_id=ids.school_b,
                course="Формирующее оценивание",
                provider="КРИПКРО",
                hours=36,
                completed_on=date(2026, 2, 20),
                source_system="kripkro-courses",
            )
        ),
        cloud(
            DeficitRecorded(
                deficit_id=ids.deficit,
                educator_id=ids.educator,
                organization_id=ids.school_b,
                competency="формирующее оценивание",
                level="high",
                diagnosed_on=date(2026, 1, 15),
                source_system="kripkro-courses",
            )
        ),
        cloud(PlanClosed(plan_id=ids.plan, changed_at=T0 + timedelta(days=300))),
    ]


def streams(ids: Ids) -> dict[str, list[CloudEvent]]:
    return {topics.REGISTRY: registry_stream(ids), topics.EVENTS: events_stream(ids)}


IGNORED: tuple[type[EventData], ...] = (ParticipantRegistered, PlanProposalMade, PlanProposalAccepted)
"""Types in the streams analytics reads past."""


def applied_count(batches: dict[str, list[CloudEvent]]) -> int:
    """How many distinct events analytics applies of these (not redeliveries, not ignored types)."""
    ignored = {model.event_type for model in IGNORED}
    return len({event.id for events in batches.values() for event in events if event.type not in ignored})


@dataclass
class Record:
    """A Kafka record as a guarded consumer reads it."""

    value: bytes
    headers: dict[str, str]
    key: bytes | None = None
    partition: int | str = 0
    offset: int | str = 0


class Fallbacks(logging.Handler):
    """Notes a batch that failed and was applied again one message at a time."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "one by one" in record.getMessage():
            self.seen.append(record.getMessage())


async def deliver(url: str, batches: dict[str, list[CloudEvent]], *, one_at_a_time: bool) -> None:
    """Hand each topic's events to analytics' consumer of it: as one batch (which must apply as
    one, not fall back to one message at a time), or one by one."""
    service = analytics.build(AnalyticsSettings(database_url=url, consumer_max_attempts=1))
    consumers = {consumer.topic: consumer for consumer in service.consumers}

    async def refuse(value: bytes, headers: dict[str, str], reason: str, origin: Any) -> None:
        raise AssertionError(f"{headers.get('ce_type')} would be dead-lettered: {reason}")

    for consumer in consumers.values():
        consumer.dead_letter = refuse  # type: ignore[method-assign]  # no broker here: fail at once
    fallbacks = Fallbacks()
    logger = logging.getLogger("setka_runtime.consumer")
    logger.addHandler(fallbacks)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        for topic, events in batches.items():
            records = [
                Record(event.body(), event.headers(), offset=offset) for offset, event in enumerate(events)
            ]
            if one_at_a_time:
                outcomes = [(await consumers[topic].process([record]))[0] for record in records]
            else:
                outcomes = await consumers[topic].process(records)
            assert set(outcomes) <= {"processed", "duplicate", "ignored"}, outcomes
    finally:
        logger.removeHandler(fallbacks)
        logger.setLevel(previous)
        await service.db.dispose()
    assert fallbacks.seen == []


async def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected table, rows ordered by their key."""
    db = Database(url)
    try:
        async with db.session() as session:
            tables = [model.__table__ for model in PROJECTED]  # type: ignore[attr-defined]
            return {
                table.name: [
                    tuple(row)
                    for row in await session.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in tables
            }
    finally:
        await db.dispose()


async def rows_of(url: str, table: str) -> list[dict[str, Any]]:
    """The rows of ``table`` without their ``sequence`` (the version they were copied at, which
    these streams, sent with none, leave at 0)."""
    db = Database(url)
    try:
        async with db.session() as session:
            model = next(m for m in PROJECTED if m.__table__.name == table)  # type: ignore[attr-defined]
            found = await session.execute(select(model.__table__))  # type: ignore[attr-defined]
            return [{k: v for k, v in row._mapping.items() if k != "sequence"} for row in found]
    finally:
        await db.dispose()


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_each_registry_event_keeps_its_read_model(service_databases: dict[str, str]) -> None:
    url, ids = service_databases["analytics"], Ids()
    await deliver(url, {topics.REGISTRY: registry_stream(ids)}, one_at_a_time=False)

    regions = by_id(await rows_of(url, "region_summary"), "region_code")
    # a repeated registration counts nothing; the kindergarten moved to 39 as a school; the
    # college went to 39 and came back
    assert {code: (r["organizations"], r["schools"]) for code, r in regions.items()} == {
        "39": (4, 3),
        "08": (1, 0),
    }
    assert regions["39"]["updated_at"] == regions["08"]["updated_at"] == T0 + timedelta(hours=8)

    organizations = by_id(await rows_of(url, "organization"))
    school_a = organizations[ids.school_a]
    assert (school_a["short_name"], school_a["region_code"], school_a["registered_at"]) == (
        "СОШ № 1",
        "39",
        T0,
    )
    assert school_a["municipality"] == "Калининград" and school_a["municipality_id"] == ids.municipality
    moved = organizations[ids.kindergarten]
    assert (moved["kind"], moved["region_code"], moved["short_name"]) == ("school", "39", "СОШ № 5")
    assert moved["registered_at"] == T0 + timedelta(days=2)
    assert organizations[ids.authority]["archived_at"] == T0 + timedelta(days=40)
    assert school_a["archived_at"] is None
    college = organizations[ids.college]
    assert (college["region_code"], college["registered_at"]) == ("08", T0 + timedelta(days=4))

    statuses = sorted(
        (r["organization_id"] == ids.school_a, r["status"], r["entered_on"], r["left_on"])
        for r in await rows_of(url, "organization_status")
    )
    assert statuses == [
        (False, "stable_results", date(2023, 1, 1), None),
        (True, "adverse_social_conditions", date(2025, 9, 1), None),
        (True, "low_results", date(2024, 9, 1), date(2025, 9, 1)),
    ]

    [profile] = await rows_of(url, "risk_profile")
    assert profile["assessed_on"] == date(2025, 10, 1)
    assert set(profile["factors"].values()) == {"high"} and len(profile["factors"]) == len(RiskFactor)

    [educator] = await rows_of(url, "educator")
    assert educator == {
        "id": ids.educator,
        "qualification_category": "highest",
        "subjects": ["математика", "информатика"],
    }
    [employment] = await rows_of(url, "employment")
    assert (employment["id"], employment["organization_id"], employment["started_on"]) == (
        ids.second_post,
        ids.school_b,
        date(2025, 9, 1),
    )

    [network] = await rows_of(url, "network")
    assert (network["name"], network["level"], network["governing_body_id"]) == (
        "Сеть школ Калининграда",
        "municipal",
        ids.authority,
    )
    assert (network["started_on"], network["ended_on"]) == (date(2024, 9, 1), date(2026, 6, 1))
    memberships = by_id(await rows_of(url, "membership"))
    assert {ident: (m["role"], m["joined_on"], m["left_on"]) for ident, m in memberships.items()} == {
        ids.supported: ("supported", date(2024, 9, 1), date(2026, 6, 1)),
        ids.partner: ("partner", date(2024, 9, 1), date(2025, 1, 15)),
        ids.centre: ("centre", date(2025, 1, 15), date(2026, 6, 1)),
    }

    [resource] = await rows_of(url, "resource")
    assert (resource["owner_id"], resource["kind"], resource["subjects"]) == (
        ids.school_b,
        "methodological",
        ["математика"],
    )
    assert resource["withdrawn_at"] == T0 + timedelta(days=30)


async def test_each_events_service_event_keeps_its_read_model(service_databases: dict[str, str]) -> None:
    url, ids = service_databases["analytics"], Ids()
    await deliver(url, {topics.EVENTS: events_stream(ids)}, one_at_a_time=False)

    [plan] = await rows_of(url, "plan")
    assert (plan["network_id"], plan["year"], plan["status"], plan["period"]) == (
        ids.network,
        2025,
        "closed",
        "school_year",
    )
    items = by_id(await rows_of(url, "plan_item"))
    item = items[ids.plan_item]
    assert (item["plan_id"], item["network_id"], item["due_on"], item["responsible_organization_id"]) == (
        ids.plan,
        ids.network,
        date(2026, 4, 1),
        ids.school_b,
    )
    assert (item["kind"], item["done_on"], item["withdrawn"]) == ("activity", None, False)
    task = items[ids.task]
    assert (task["kind"], task["due_on"], task["responsible_organization_id"]) == (
        "task",
        date(2026, 5, 15),
        ids.school_b,
    )
    assert (task["done_on"], task["withdrawn"]) == (date(2026, 5, 14), False)
    assert (items[ids.withdrawn]["withdrawn"], items[ids.withdrawn]["due_on"]) == (True, date(2026, 6, 1))

    activities = by_id(await rows_of(url, "activity"))
    seminar = activities[ids.seminar]
    assert (seminar["status"], seminar["held_on"], seminar["plan_item_id"]) == (
        "reported",
        date(2026, 3, 20),
        ids.plan_item,
    )
    assert seminar["processes"] == ["experience_exchange", "peer_learning"]
    assert (seminar["activity_type"], seminar["format"]) == ("seminar", "in_person")
    regional = activities[ids.regional]
    assert (regional["status"], regional["held_on"], regional["network_id"]) == (
        "held",
        date(2026, 2, 10),
        None,
    )
    assert regional["starts_at"] == datetime(2026, 2, 11, 7, 0, tzinfo=UTC)
    assert (activities[ids.cancelled]["status"], activities[ids.cancelled]["held_on"]) == ("cancelled", None)
    postponed = activities[ids.postponed]
    assert (postponed["status"], postponed["starts_at"]) == (
        "postponed",
        datetime(2026, 4, 4, 6, 0, tzinfo=UTC),
    )

    attendance = by_id(await rows_of(url, "attendance"))
    assert {
        ident: (a["activity_day"], a["host_organization_id"], a["network_id"], a["educator_id"], a["hours"])
        for ident, a in attendance.items()
    } == {
        ids.attendance[0]: (date(2026, 3, 20), ids.school_b, ids.network, ids.educator, 3.0),
        ids.attendance[1]: (date(2026, 3, 20), ids.school_b, ids.network, None, 2.0),
        ids.attendance[2]: (date(2026, 2, 11), ids.school_a, None, None, 4.0),  # follows its activity
    }

    [feedback] = await rows_of(url, "feedback")
    assert (feedback["activity_id"], feedback["rating"]) == (ids.seminar, 5)
    [mobility] = await rows_of(url, "mobility")
    assert (mobility["kind"], mobility["participants"], mobility["hours"]) == ("students", 12, 36.0)
    results = by_id(await rows_of(url, "assessment_result"))
    assert (results[ids.result_a]["participants"], results[ids.result_a]["lowest_mark_share"]) == (50, 0.2)
    assert results[ids.result_b]["lowest_mark_share"] == 0.0
    [training] = await rows_of(url, "training")
    assert (training["educator_id"], training["hours"], training["completed_on"]) == (
        ids.educator,
        36,
        date(2026, 2, 20),
    )
    [deficit] = await rows_of(url, "deficit")
    assert (deficit["competency"], deficit["level"]) == ("формирующее оценивание", "high")


async def test_one_batch_and_one_message_at_a_time_leave_the_same_tables(
    service_databases: dict[str, str], databases: Any
) -> None:
    batched, alone = service_databases["analytics"], databases.create("analytics", migrate="analytics")
    ids = Ids()
    stream = streams(ids)
    await deliver(batched, stream, one_at_a_time=False)
    await deliver(alone, stream, one_at_a_time=True)
    first = await dump(batched)
    assert all(first.values()), {name: len(rows) for name, rows in first.items()}
    assert await dump(alone) == first

    await deliver(batched, stream, one_at_a_time=False)  # the whole stream redelivered
    await deliver(batched, streams(ids), one_at_a_time=False)  # every fact sent again under new ids
    assert await dump(batched) == first
    db = Database(batched)
    try:
        async with db.session() as session:
            claims = await session.scalar(select(func.count()).select_from(inbox))
    finally:
        await db.dispose()
    assert claims == 2 * applied_count(stream)


def item(data: EventData) -> Item:
    return Item(data=data, event=cloud(data), value=b"", headers={})


async def test_what_refers_to_something_not_known_yet_waits_and_leaves_no_trace(
    service_databases: dict[str, str],
) -> None:
    url = service_databases["analytics"]
    db = Database(url)
    unknown = uuid.uuid4()
    attendance = item(
        AttendanceRecorded(
            activity_id=unknown, attendance_id=uuid.uuid4(), organization_id=unknown, hours=1.0
        )
    )
    plan_item = item(PlanItemAdded(plan_id=unknown, item_id=uuid.uuid4(), title="—", due_on=date(2026, 5, 1)))
    left = item(
        OrganizationStatusChanged(
            organization_id=unknown,
            status="low_results",
            change="left",
            effective_on=date(2026, 1, 1),
            current_statuses=[],
        )
    )
    withdrawn = item(ResourceWithdrawn(resource_id=unknown, owner_id=unknown, title="—", withdrawn_at=T0))
    amended = item(
        PlanAmended(
            plan_id=unknown, version=2, amended_at=T0, author="—", reason="—", withdrawn_item_ids=[unknown]
        )
    )
    done = item(PlanItemDone(plan_id=unknown, item_id=unknown, done_at=T0))
    waiting = (attendance, plan_item, left, withdrawn, amended, done)
    try:
        async with db.session() as session, session.begin():
            await attendance_recorded(session, [attendance])
            await plan_items_added(session, [plan_item])
            await statuses_changed(session, [left])
            await resources_withdrawn(session, [withdrawn])
            await plans_amended(session, [amended])
            await plan_items_done(session, [done])
        async with db.session() as session:
            for model in (Attendance, PlanItem, OrganizationStatus, Activity):
                assert await session.scalar(select(func.count()).select_from(model)) == 0
    finally:
        await db.dispose()
    assert [entry.outcome for entry in waiting] == ["deferred"] * len(waiting)
    assert done.reason == f"plan item {unknown} is not known to analytics yet"
    assert attendance.reason == f"activity {unknown} is not known to analytics yet"
