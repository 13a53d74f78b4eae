"""A demo year of network life, derived from the local copy of the registry's demo data.

Services share no code, so the events service cannot read the registry's demo generator: it waits
until the registry's events have filled its local copy (networks, memberships, educators), then
builds, for every network, a joint plan for the current year with its items, the activities that
carry them out (held and reported in the past, announced ahead, one cancelled, one postponed),
registrations, attendance, feedback, materials, mobility, and the facts regional systems would
have sent (assessment results, trainings, deficits). Everything goes through the same domain
functions as real input, so every change records its event. СИНТЕТИЧЕСКИЕ ДАННЫЕ.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from setka_contracts import CloudEvent, topics
from setka_contracts.events import PlanStatus
from setka_contracts.regional import (
    AssessmentResultPublished,
    DeficitDiagnosed,
    OrganizationRef,
    TrainingCompleted,
)
from setka_runtime.db import Database
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import activities, meetings, mobility, participation, plans, regional, sources
from .models import (
    DemoLoad,
    KnownEducator,
    KnownEmployment,
    KnownMembership,
    KnownNetwork,
    KnownOrganization,
)

log = logging.getLogger(__name__)

DEMO = "demo-year"
SEED = 2026

THEMES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "seminar",
        "Семинар «Формирующее оценивание на уроках математики»",
        ("training", "experience_exchange"),
        "in_person",
    ),
    (
        "webinar",
        "Вебинар «Разбор результатов ВПР: типичные ошибки»",
        ("joint_discussion", "research"),
        "remote",
    ),
    ("master_class", "Мастер-класс «Смысловое чтение в основной школе»", ("peer_learning",), "in_person"),
    (
        "open_lesson",
        "Открытый урок «Функциональная грамотность на уроке физики»",
        ("experience_exchange",),
        "in_person",
    ),
    (
        "methodological_association_meeting",
        "Заседание сетевого методического объединения учителей русского языка",
        ("joint_discussion", "co_learning"),
        "blended",
    ),
    (
        "mutual_visit",
        "Взаимопосещение уроков учителями школ-партнёров",
        ("peer_learning", "experience_exchange"),
        "in_person",
    ),
    (
        "internship_site",
        "Стажировочная площадка «Работа с обучающимися группы риска учебной неуспешности»",
        ("training", "design"),
        "in_person",
    ),
    ("consultation", "Консультация для администрации «Программа антирисковых мер»", ("design",), "remote"),
    (
        "pedagogical_marathon",
        "Педагогический марафон «Цифровые инструменты учителя»",
        ("training", "programming"),
        "blended",
    ),
    (
        "conference",
        "Сетевая конференция «Эффективные практики повышения качества образования»",
        ("experience_exchange",),
        "in_person",
    ),
    ("course", "Курс «Наставничество в педагогическом коллективе»", ("training", "co_learning"), "blended"),
)

COURSES = (
    ("Формирование функциональной грамотности обучающихся", 36),
    ("Формирующее оценивание в урочной деятельности", 24),
    ("Работа с обучающимися с ОВЗ в общеобразовательной школе", 72),
    ("Профилактика учебной неуспешности", 36),
)
COMPETENCIES = (
    "формирующее оценивание",
    "смысловое чтение",
    "работа с детьми группы риска",
    "цифровые инструменты",
)
MATERIAL_URL = "https://example.org/setka-demo/materials/"


async def copy_counts(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for model in (KnownOrganization, KnownNetwork, KnownMembership, KnownEducator, KnownEmployment):
        counts.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return tuple(counts)


async def load_when_ready(db: Database, *, poll_seconds: float = 2.0, stable_polls: int = 3) -> None:
    """Wait until every registry copy has rows and has stopped growing, then load once."""
    last: tuple[int, ...] | None = None
    steady = 0
    while True:
        try:
            async with db.session() as session:
                if await session.get(DemoLoad, DEMO):
                    return
                counts = await copy_counts(session)
            steady = steady + 1 if counts == last else 0
            last = counts
            # every copy has arrived (organizations, networks, memberships, educators, posts: the
            # registry's events come over several partitions, read unevenly under load) and has
            # stopped growing
            if all(counts) and steady >= stable_polls:
                loaded = await load(db)
                log.info("events demo data: %d records loaded", loaded)
                return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("events demo data not loaded yet: %s", exc)
        await asyncio.sleep(poll_seconds)


async def load(db: Database, *, today: date | None = None) -> int:
    """Load the demo year if the registry copy has networks and it was not loaded; count records."""
    async with db.session() as session, session.begin():
        if await session.get(DemoLoad, DEMO):
            return 0
        networks = list((await session.scalars(select(KnownNetwork).order_by(KnownNetwork.name))).all())
        if not networks:
            return 0
        session.add(DemoLoad(name=DEMO))
        await session.flush()
        await register_demo_source(session)
        rng = random.Random(SEED)
        total = 0
        for network in networks:
            total += await _network_year(session, rng, network, today or datetime.now(UTC).date())
    return total


DEMO_SOURCE = "/regional/rcoi-08"
"""The demo's regional system (docs/examples/publish_assessment.py): the assessment centre of
Kalmykia, registered with the demo so that its facts are applied under ``make run`` too."""


async def register_demo_source(session: AsyncSession) -> None:
    """Register the demo's regional system, unless it is registered already."""
    if await sources.region_of(session, DEMO_SOURCE) is not None:
        return
    await sources.register(
        session,
        ce_source=DEMO_SOURCE,
        region_code="08",
        title="РЦОИ Республики Калмыкия (демонстрация)",
        grants={
            sources.GrantKind.source_system: ["rcoi-08"],
            sources.GrantKind.topic: [topics.REGIONAL_ASSESSMENTS],
            sources.GrantKind.region: ["08"],
        },
    )


async def _members(session: AsyncSession, network_id: uuid.UUID) -> list[KnownMembership]:
    rows = await session.scalars(
        select(KnownMembership)
        .where(KnownMembership.network_id == network_id)
        .order_by(KnownMembership.joined_on, KnownMembership.id)
    )
    return list(rows.all())


async def _staff(
    session: AsyncSession, organization_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = (
        await session.execute(
            select(KnownEmployment.organization_id, KnownEmployment.educator_id)
            .where(KnownEmployment.organization_id.in_(organization_ids), KnownEmployment.ended_on.is_(None))
            .order_by(KnownEmployment.organization_id, KnownEmployment.educator_id)
        )
    ).all()
    staff: dict[uuid.UUID, list[uuid.UUID]] = {}
    for organization_id, educator_id in rows:
        staff.setdefault(organization_id, []).append(educator_id)
    return staff


def _member_on(membership: KnownMembership, day: date) -> bool:
    return membership.joined_on <= day and (membership.left_on is None or membership.left_on > day)


async def _network_year(session: AsyncSession, rng: random.Random, network: KnownNetwork, today: date) -> int:
    members = await _members(session, network.id)
    if not members:
        return 0
    year = today.year if today.month >= 6 else today.year - 1  # a year with most of it behind us
    schools = {
        row.id: row
        for row in await session.scalars(
            select(KnownOrganization).where(KnownOrganization.id.in_([m.organization_id for m in members]))
        )
    }
    hosts_by_role = [
        m for m in members if m.role in ("centre", "partner", "coordinator", "methodological_support")
    ]
    supported = [m for m in members if m.role == "supported"] or members
    staff = await _staff(session, list({m.organization_id for m in members}))
    count = 0

    plan = await plans.draft_plan(
        session,
        plans.DraftPlan(
            network_id=network.id, year=year, title=f"Совместный план деятельности сети на {year} год"
        ),
    )
    items = []
    for month in range(2, 13):
        kind, title, processes, form = THEMES[(month - 2) % len(THEMES)]
        responsible = rng.choice(hosts_by_role or members).organization_id
        items.append(
            (
                month,
                THEMES[(month - 2) % len(THEMES)],
                await plans.add_plan_item(
                    session,
                    plans.AddPlanItem(
                        plan_id=plan.id,
                        title=title,
                        due_on=date(year, month, 28),
                        responsible_organization_id=responsible,
                        responsible_person="заместитель директора по УВР",
                        expected_result="Участие педагогов всех сопровождаемых школ; методические материалы",
                    ),
                ),
            )
        )
    count += 1 + len(items)
    await plans.advance_plan(session, plan.id, PlanStatus.agreed)
    await plans.advance_plan(session, plan.id, PlanStatus.in_progress)

    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    cancelled = postponed = False
    for month, (kind, title, processes, form), item in items:
        for repeat in range(rng.choice((1, 2, 2, 3))):
            day = min(5 + repeat * 8 + rng.randrange(5), 27)
            starts = datetime(year, month, day, 7, 0, tzinfo=UTC)
            hours = 16 if kind == "course" else rng.choice((2, 3, 4))
            ends = starts + timedelta(hours=hours)
            hosts = [m for m in (hosts_by_role or members) if _member_on(m, starts.date())]
            if not hosts:
                continue
            host = rng.choice(hosts).organization_id
            activity = await activities.plan_activity(
                session,
                activities.PlanActivity(
                    title=title,
                    activity_type=kind,
                    format=form,
                    host_organization_id=host,
                    network_id=network.id,
                    starts_at=starts,
                    ends_at=ends,
                    processes=list(processes),
                    location=(
                        f"{MATERIAL_URL}meet/{month}-{repeat}"
                        if form != "in_person"
                        else f"{schools[host].short_name if host in schools else 'школа-центр'}, актовый зал"
                    ),
                    plan_item_id=item.id,
                    audience="педагоги сопровождаемых школ сети",
                    capacity=rng.choice((20, 30, 40, None)),
                ),
            )
            count += 1
            if starts > now:
                if not postponed and rng.random() < 0.3:
                    await activities.postpone(session, activity.id, "совпадение с региональной олимпиадой")
                    postponed = True
                    continue
                await activities.announce(session, activity.id, at=now)
                for member in rng.sample(supported, min(len(supported), 4)):
                    if activity.capacity is not None and count and rng.random() < 0.2:
                        continue
                    educators = staff.get(member.organization_id, [])[:1]
                    await participation.register(
                        session,
                        activity,
                        participation.Participant(
                            member.organization_id, educators[0] if educators else None
                        ),
                    )
                    count += 1
                continue
            if not cancelled and month == 3 and repeat == 0:
                await activities.cancel(session, activity.id, "карантин по гриппу в школе-организаторе")
                cancelled = True
                continue
            await activities.hold(session, activity.id, at=ends)
            attendees = [m for m in supported if _member_on(m, starts.date())]
            for member in rng.sample(attendees, min(len(attendees), rng.randrange(3, 9))):
                educators = staff.get(member.organization_id, [])
                chosen = rng.sample(educators, min(len(educators), rng.choice((1, 2, 3)))) or [None]
                for educator_id in chosen:
                    await participation.record_attendance(
                        session,
                        activity,
                        participation.Participant(member.organization_id, educator_id),
                        hours,
                    )
                    count += 1
                if rng.random() < 0.6:
                    await participation.give_feedback(
                        session,
                        activity,
                        rng.choice((3, 4, 4, 5, 5, 5)),
                        rng.choice(
                            (None, "Полезно, ждём продолжения", "Мало практики", "Готовы повторить у себя")
                        ),
                        organization_id=member.organization_id,
                    )
                    count += 1
            if month < today.month - 1 or rng.random() < 0.5:
                await activities.add_material(
                    session,
                    activity.id,
                    "Презентация и методические рекомендации",
                    f"{MATERIAL_URL}{activity.id}",
                )
                await activities.report(
                    session, activity.id, "Проведено по плану; материалы размещены в сети"
                )
                count += 1

    if year < today.year:
        await plans.advance_plan(session, plan.id, PlanStatus.closed)

    centre_ids = [
        m.organization_id
        for m in members
        if m.role in ("centre", "partner") and _member_on(m, date(year, 2, 1))
    ]
    for member in supported[:3]:
        if not centre_ids or not _member_on(member, date(year, 2, 1)):
            continue
        host = rng.choice(centre_ids)
        if host == member.organization_id:
            continue
        await mobility.record_mobility(
            session,
            mobility.RecordMobility(
                kind=rng.choice(mobility.KINDS),
                home_organization_id=member.organization_id,
                host_organization_id=host,
                programme=rng.choice(
                    ("Робототехника на базе школы-центра", "Практикум по химии в оснащённой лаборатории")
                ),
                participants=rng.randrange(8, 25),
                starts_on=date(year, 2, 1),
                ends_on=date(year, 5, 31),
                hours=rng.choice((16, 24, 32)),
                network_id=network.id,
            ),
        )
        count += 1

    count += await _regional_facts(session, rng, members, schools, staff, year)
    count += await _council(session, network, members, year)
    return count


async def _council(
    session: AsyncSession, network: KnownNetwork, members: list[KnownMembership], year: int
) -> int:
    """The network's council met in January to open the year: its minutes and one decision, due
    in December, that the coordinator may carry into the plan (none of the demo's randomness is
    used, so the rest of the demo stays as it was)."""
    starts = datetime(year, 1, 25, 7, 0, tzinfo=UTC)
    present = [m for m in members if _member_on(m, starts.date())]
    responsible = [m for m in present if m.role in ("centre", "partner")]
    if not responsible:
        return 0
    meeting = await meetings.schedule_meeting(
        session,
        meetings.ScheduleMeeting(
            network_id=network.id,
            kind="council",
            title=f"Заседание совета сети № 1 ({year} год)",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            place="Управление образования, зал заседаний",
            agenda=[
                f"О совместном плане деятельности сети на {year} год",
                "Об итогах диагностики профессиональных дефицитов педагогов",
                "О работе стажировочных площадок",
            ],
            participants=[meetings.Participant(m.organization_id) for m in present[:8]],
        ),
    )
    await meetings.hold_meeting(
        session,
        meeting.id,
        "Слушали: координатора сети о совместном плане деятельности.\n"
        "Выступили: руководители школы-центра и школ-партнёров.\n"
        "Постановили: одобрить план; провести итоговый семинар по формирующему оцениванию.",
        at=starts + timedelta(hours=2),
    )
    await meetings.record_decision(
        session,
        meetings.RecordDecision(
            meeting_id=meeting.id,
            text="Провести итоговый семинар по формирующему оцениванию для педагогов сопровождаемых школ",
            responsible_organization_id=responsible[0].organization_id,
            due_on=date(year, 12, 15),
        ),
    )
    return 3


async def _regional_facts(
    session: AsyncSession,
    rng: random.Random,
    members: list[KnownMembership],
    schools: dict[uuid.UUID, KnownOrganization],
    staff: dict[uuid.UUID, list[uuid.UUID]],
    year: int,
) -> int:
    """What the regional assessment and course systems would have published for these schools."""
    event = CloudEvent(type="demo", source="/setka/events/demo", data={})
    moment = datetime.now(UTC)

    def past(day: date) -> date:
        return min(day, moment.date())

    def version(day: date) -> datetime:
        """When the demo's regional system recorded a fact of that day (its version)."""
        return min(datetime(day.year, day.month, day.day, 12, tzinfo=UTC), moment)

    count = 0
    for member in members:
        school = schools.get(member.organization_id)
        if school is None or school.kind != "school":
            continue
        base = 3.2 if member.role == "supported" else 3.9
        for result_year in (year - 1, year):
            for subject in ("математика", "русский язык"):
                mean = round(
                    min(4.8, max(2.6, base + rng.uniform(-0.2, 0.2) + (0.1 if result_year == year else 0))), 2
                )
                five = max(0.02, round((mean - 3) / 4, 2))
                two = max(0.02, round((4 - mean) / 5, 2))
                four = round(min(0.5, 1 - five - two - 0.2), 2)
                shares = {"2": two, "3": round(1 - two - four - five, 2), "4": four, "5": five}
                await regional.assessment_published(
                    session,
                    AssessmentResultPublished(
                        source_system="demo-rcoi",
                        external_id=f"VPR-{result_year}-{subject}-{school.id}",
                        organization=OrganizationRef(id=school.id),
                        procedure="vpr",
                        subject=subject,
                        grade=5,
                        year=result_year,
                        participants=rng.randrange(18, 90),
                        mean_score=mean,
                        mark_shares=shares,
                        recorded_at=version(date(result_year, 5, 31)),
                    ),
                    event,
                )
                count += 1
        for index, educator_id in enumerate(staff.get(school.id, [])):
            if rng.random() < 0.3:
                course, hours = rng.choice(COURSES)
                await regional.training_completed(
                    session,
                    TrainingCompleted(
                        source_system="demo-kpk",
                        external_id=f"KPK-{year}-{educator_id}-{index}",
                        educator_id=educator_id,
                        organization=OrganizationRef(id=school.id),
                        course=course,
                        provider="институт развития образования (демо)",
                        hours=hours,
                        completed_on=(
                            completed := past(date(year, rng.randrange(1, 11), rng.randrange(1, 28)))
                        ),
                        recorded_at=version(completed),
                    ),
                    event,
                )
                count += 1
            if member.role == "supported" and rng.random() < 0.25:
                await regional.deficit_diagnosed(
                    session,
                    DeficitDiagnosed(
                        source_system="demo-diagnostics",
                        external_id=f"DEF-{year}-{educator_id}",
                        educator_id=educator_id,
                        organization=OrganizationRef(id=school.id),
                        competency=rng.choice(COMPETENCIES),
                        level=rng.choice(("medium", "high")),
                        diagnosed_on=(diagnosed := past(date(year, 1, rng.randrange(10, 28)))),
                        recorded_at=version(diagnosed),
                    ),
                    event,
                )
                count += 1
    return count
