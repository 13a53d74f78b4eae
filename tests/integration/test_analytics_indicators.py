"""The effectiveness indicators on a small dataset computed by hand, on PostgreSQL and on SQLite,
and the analysis through the analytics subgraph.

The world (region 39; network N of municipality M1; year 2025, the previous period 2024):

    C   centre school (stable results)     member of N from 2024-01-01, educator e8
    P   partner (additional education)     member of N from 2024-01-01
    S1  school, low results since 2023     supported member from 2024-01-01, educators e1 e2 e3 e4
    S2  school, adverse 2024-09-01..2025-06-01, supported member from 2024-01-01, educators e5 e6
    S3  school, no status                  supported member from 2025-02-01, educator e7
    X1, X2  schools of region 39 in no network (comparison); Z: low results since 2024, in no
            network, educator e9; I: the development institute; Y: a school of region 47.

    activities of N: A1 seminar (training, experience exchange) in person at C, 2025-03-10, plan
    item I1; A2 webinar (training) remote at P, 2025-05-15, held on 2025-05-20, plan item I2; A3
    master class (peer learning) blended at S1, 2025-10-01; A4 seminar at C, 2024-04-01, plan item
    I5; A5 conference at C cancelled. A6: a course of the institute in no network, 2025-02-01.

    tasks of N's plan (not activities): I6 of S2 due 2025-06-01, marked done 2025-05-30; I7 of S3
    due 2025-07-01, done 2025-07-10 (late); I8 due 2025-04-01, withdrawn by an amendment.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from setka_contracts.analytics import AlertRule
from setka_runtime import migrations
from setka_runtime.access import DEV_INTERNAL_SECRET, Identity, Role, sign_internal
from setka_runtime.db import Database
from sqlalchemy import select
from sqlmodel import SQLModel

from gateway.app import create_app
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from services.analytics import alerts
from services.analytics import app as analytics
from services.analytics.analysis import build_analysis, parse_scope, period_of
from services.analytics.analysis_model import (
    Analysis,
    AnalysisRules,
    IndicatorValue,
    Period,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from services.analytics.models import (
    Activity,
    AssessmentResult,
    Attendance,
    Deficit,
    Employment,
    Feedback,
    IndicatorTarget,
    Membership,
    Mobility,
    Network,
    Organization,
    OrganizationStatus,
    Plan,
    PlanItem,
    Region,
    Training,
)
from services.analytics.settings import AnalyticsSettings
from tests.helpers import served

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "services" / "analytics" / "migrations"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = date.fromisoformat


def ids(*names: str) -> dict[str, uuid.UUID]:
    return {name: uuid.uuid5(uuid.NAMESPACE_URL, f"setka-test:{name}") for name in names}


ORG = ids("C", "P", "S1", "S2", "S3", "X1", "X2", "Z", "I", "Y")
EDU = ids(*(f"e{n}" for n in range(1, 10)))
ACT = ids("A1", "A2", "A3", "A4", "A5", "A6")
ITEM = ids("I1", "I2", "I3", "I5", "I6", "I7", "I8")
N = uuid.uuid5(uuid.NAMESPACE_URL, "setka-test:N")
M1 = uuid.uuid5(uuid.NAMESPACE_URL, "setka-test:M1")
M2 = uuid.uuid5(uuid.NAMESPACE_URL, "setka-test:M2")


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00")


def world() -> list[SQLModel]:
    rows: list[SQLModel] = []
    registered = at("2020-01-01")
    places = {
        "C": ("school", "39", M1, "Балтийский МО"),
        "P": ("additional_education", "39", M1, "Балтийский МО"),
        "S1": ("school", "39", M1, "Балтийский МО"),
        "S2": ("school", "39", M1, "Балтийский МО"),
        "S3": ("school", "39", M1, "Балтийский МО"),
        "X1": ("school", "39", M2, "Гусевский МО"),
        "X2": ("school", "39", M2, "Гусевский МО"),
        "Z": ("school", "39", M2, "Гусевский МО"),
        "I": ("development_institute", "39", None, None),
        "Y": ("school", "47", None, None),
    }
    for name, (kind, region, municipality_id, municipality) in places.items():
        rows.append(
            Organization(
                id=ORG[name],
                region_code=region,
                kind=kind,
                registered_at=registered,
                short_name=f"Школа {name}" if kind == "school" else name,
                municipality=municipality,
                municipality_id=municipality_id,
            )
        )
    for name, status, entered, left in [
        ("C", "stable_results", "2020-01-01", None),
        ("S1", "low_results", "2023-01-01", None),
        ("S2", "adverse_social_conditions", "2024-09-01", "2025-06-01"),
        ("Z", "low_results", "2024-01-01", None),
    ]:
        rows.append(
            OrganizationStatus(
                organization_id=ORG[name], status=status, entered_on=D(entered), left_on=left and D(left)
            )
        )
    rows.append(
        Network(
            id=N,
            name="Сеть «Школы эффективного роста»",
            level="municipal",
            region_code="39",
            municipality_id=M1,
            started_on=D("2024-01-01"),
        )
    )
    for name, role, joined in [
        ("C", "centre", "2024-01-01"),
        ("P", "partner", "2024-01-01"),
        ("S1", "supported", "2024-01-01"),
        ("S2", "supported", "2024-01-01"),
        ("S3", "supported", "2025-02-01"),
    ]:
        rows.append(
            Membership(
                id=uuid.uuid4(), network_id=N, organization_id=ORG[name], role=role, joined_on=D(joined)
            )
        )
    staff = {"e1": "S1", "e2": "S1", "e3": "S1", "e4": "S1", "e5": "S2", "e6": "S2", "e7": "S3"}
    staff |= {"e8": "C", "e9": "Z"}
    for educator, school in staff.items():
        rows.append(Employment(id=uuid.uuid4(), educator_id=EDU[educator], organization_id=ORG[school]))
    activities = [
        ("A1", N, "C", "seminar", "training experience_exchange", "in_person", "2025-03-10", "held", "I1"),
        ("A2", N, "P", "webinar", "training", "remote", "2025-05-15", "reported", "I2"),
        ("A3", N, "S1", "master_class", "peer_learning", "blended", "2025-10-01", "held", None),
        ("A4", N, "C", "seminar", "joint_discussion", "in_person", "2024-04-01", "held", "I5"),
        ("A5", N, "C", "conference", "experience_exchange", "in_person", "2025-11-11", "cancelled", None),
        ("A6", None, "I", "course", "training", "remote", "2025-02-01", "held", None),
    ]
    held_on = {"A2": "2025-05-20"}
    titles = {
        "A1": "Семинар «Цифровая образовательная среда на уроке»",
        "A3": "Мастер-класс «Смысловое чтение»",
    }
    for name, network, host, kind, processes, form, day, status, item in activities:
        rows.append(
            Activity(
                id=ACT[name],
                title=titles.get(name),
                network_id=network,
                host_organization_id=ORG[host],
                plan_item_id=item and ITEM[item],
                activity_type=kind,
                processes=processes.split(),
                format=form,
                starts_at=at(day),
                ends_at=at(day),
                status=status,
                held_on=D(held_on.get(name, day)) if status in ("held", "reported") else None,
            )
        )
    days = {name: D(day) for name, _, _, _, _, _, day, _, _ in activities}
    networks = {name: network for name, network, *_ in activities}
    hosts = {name: host for name, _, host, *_ in activities}
    for activity, school, educator, hours in [
        ("A1", "S1", "e1", 3),
        ("A1", "S1", "e2", 3),
        ("A1", "S2", "e5", 3),
        ("A1", "C", "e8", 3),
        ("A2", "S1", "e1", 2),
        ("A2", "S2", None, 2),
        ("A3", "S2", "e5", 4),
        ("A3", "S1", "e3", 4),
        ("A6", "S1", "e4", 6),
        ("A6", "S3", "e7", 6),
        ("A6", "Z", "e9", 6),
        ("A4", "S1", "e1", 2),
        ("A4", "S2", "e6", 2),
    ]:
        rows.append(
            Attendance(
                id=uuid.uuid4(),
                activity_id=ACT[activity],
                organization_id=ORG[school],
                educator_id=educator and EDU[educator],
                hours=hours,
                activity_day=days[activity],
                host_organization_id=ORG[hosts[activity]],
                network_id=networks[activity],
            )
        )
    for activity, rating in [("A1", 5), ("A1", 4), ("A2", 3), ("A3", 5), ("A5", 1), ("A4", 4), ("A4", 2)]:
        rows.append(Feedback(id=uuid.uuid4(), activity_id=ACT[activity], rating=rating))
    for year in (2024, 2025):
        rows.append(Plan(id=uuid.uuid5(N, str(year)), network_id=N, year=year, status="in_progress"))
    for item, due, responsible, task in [
        ("I1", "2025-03-15", "C", {}),
        ("I2", "2025-05-16", "P", {}),
        ("I3", "2025-09-01", "S1", {}),
        ("I5", "2024-04-10", "C", {}),
        ("I6", "2025-06-01", "S2", {"kind": "task", "done_on": D("2025-05-30")}),
        ("I7", "2025-07-01", "S3", {"kind": "task", "done_on": D("2025-07-10")}),
        ("I8", "2025-04-01", "C", {"kind": "task", "withdrawn": True}),
    ]:
        rows.append(
            PlanItem(
                id=ITEM[item],
                plan_id=uuid.uuid5(N, due[:4]),
                network_id=N,
                due_on=D(due),
                responsible_organization_id=ORG[responsible],
                **task,
            )
        )
    for kind, home, host, programme, participants, starts, hours in [
        ("students", "S2", "P", "Робототехника", 12, "2025-09-01", 36),
        ("teachers", "S1", "C", "Наставничество", 2, "2025-02-01", 16),
        ("students", "S1", "C", "Робототехника", 10, "2024-10-01", 20),
    ]:
        rows.append(
            Mobility(
                id=uuid.uuid4(),
                kind=kind,
                home_organization_id=ORG[home],
                host_organization_id=ORG[host],
                network_id=N,
                programme=programme,
                participants=participants,
                starts_on=D(starts),
                ends_on=D(starts),
                hours=hours,
            )
        )
    for educator, school, competency, diagnosed in [
        ("e4", "S1", "Формирующее оценивание", "2025-02-01"),
        ("e6", "S2", "Читательская грамотность", "2025-03-01"),
        ("e7", "S3", "Работа с детьми с ОВЗ", "2025-12-15"),
        ("e2", "S1", "Цифровая образовательная среда", "2025-03-01"),
        ("e9", "Z", "Формирующее оценивание", "2025-02-01"),
        ("e5", "S2", "Проектная деятельность", "2024-05-01"),
    ]:
        rows.append(
            Deficit(
                id=uuid.uuid4(),
                educator_id=EDU[educator],
                organization_id=ORG[school],
                competency=competency,
                level="high",
                diagnosed_on=D(diagnosed),
            )
        )
    for educator, school, course, completed in [
        ("e4", "S1", "Курс «ФОРМИРУЮЩЕЕ ОЦЕНИВАНИЕ на уроках математики»", "2025-04-15"),
        ("e6", "S2", "Читательская грамотность", "2025-07-15"),
    ]:
        rows.append(
            Training(
                id=uuid.uuid4(),
                educator_id=EDU[educator],
                organization_id=ORG[school],
                course=course,
                hours=36,
                completed_on=D(completed),
            )
        )
    for school, subject, year, mean, lowest in [
        ("S1", "математика", 2023, 2.8, 0.25),
        ("S1", "математика", 2024, 3.0, 0.20),
        ("S1", "математика", 2025, 3.4, 0.10),
        ("S1", "русский язык", 2024, 3.2, 0.15),
        ("S1", "русский язык", 2025, 3.3, 0.15),
        ("S2", "математика", 2024, 3.5, 0.10),
        ("S2", "математика", 2025, 3.3, 0.20),
        ("S3", "математика", 2025, 3.1, 0.30),
        ("X1", "математика", 2023, 4.0, 0.05),
        ("X1", "математика", 2024, 4.0, 0.05),
        ("X1", "математика", 2025, 4.1, 0.05),
        ("X2", "математика", 2024, 3.8, 0.10),
        ("X2", "математика", 2025, 3.7, 0.12),
        ("Z", "математика", 2024, 3.0, 0.30),
        ("Z", "математика", 2025, 3.0, 0.30),
        ("Y", "математика", 2024, 2.0, 0.50),
        ("Y", "математика", 2025, 4.0, 0.00),
    ]:
        rows.append(
            AssessmentResult(
                id=uuid.uuid4(),
                organization_id=ORG[school],
                procedure="vpr",
                subject=subject,
                grade=5,
                year=year,
                participants=25,
                mean_score=mean,
                lowest_mark_share=lowest,
            )
        )
    rows.append(Region(code="39", name="Калининградская область"))
    rows += network_targets()
    return rows


NETWORK_TARGETS = {
    "coverage": 90.0,
    "educator_engagement": 50.0,
    "partner_activation": 75.0,
    "deficits_addressed": 80.0,
    "results_mean_score_did": 0.0,
    "results_lowest_mark_did": 0.0,
    "assessment_unity": 100.0,
    "plan_on_time": 90.0,
    "feedback_rating": 4.0,
}
"""What network N decided for 2025 (the numbers Setka once set itself, now the network's own)."""


def network_targets() -> list[SQLModel]:
    return [
        IndicatorTarget(
            scope_kind="network",
            scope_key=str(N),
            indicator=indicator,
            year_kind="calendar",
            year=2025,
            value=value,
            region_code="39",
            set_by="coordinator-M1",
            set_by_role="municipal_coordinator",
            set_at=at("2025-01-20"),
        )
        for indicator, value in NETWORK_TARGETS.items()
    ]


@dataclass
class Analytics:
    db: Database
    url: str


async def seeded(url: str) -> Database:
    db = Database(url)
    async with db.session() as session, session.begin():
        session.add_all(world())
    return db


@pytest.fixture
async def on_postgres(service_databases: dict[str, str]) -> AsyncIterator[Analytics]:
    url = service_databases["analytics"]
    db = await seeded(url)
    yield Analytics(db, url)
    await db.dispose()


@pytest.fixture
async def on_sqlite(tmp_path: Path) -> AsyncIterator[Analytics]:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    migrations.upgrade(MIGRATIONS, url, "analytics")
    db = await seeded(url)
    yield Analytics(db, url)
    await db.dispose()


async def analyse(db: Database, scope: Scope, period: Period, now: datetime = NOW) -> Analysis:
    async with db.session() as session:
        return await build_analysis(session, scope, period, now=now)


def by_id(analysis: Analysis) -> dict[str, IndicatorValue]:
    return {value.definition.id: value for value in analysis.indicators}


approx = pytest.approx


def check_network_2025(analysis: Analysis) -> None:
    """Network N in 2025 against 2024, every figure computed by hand."""
    assert analysis.scope_title == "Сеть «Школы эффективного роста»"
    assert analysis.previous_period == Period.year(2024)
    got = by_id(analysis)

    # supported in 2025: S1 (status, role), S2 (status until 2025-06-01, role), S3 (role) — not C;
    # S1 and S2 attended A1, S3 only the institute's course A6 (no network): 2 of 3.
    # 2024: S1 and S2 (S3 joined in 2025) both attended A4: 2 of 2. Short of 90 and falling: bad.
    coverage = got["coverage"]
    assert (coverage.value, coverage.previous) == (approx(200 / 3), approx(100.0))
    assert (coverage.numerator, coverage.denominator, coverage.schools) == (2, 3, 3)
    assert (coverage.trend, coverage.status) == (Trend.down, Status.bad)

    # pairs school–activity: S1–A1, S1–A2, S1–A3 (attended and hosted, once), S2–A1, S2–A2, S2–A3
    # = 6 for 3 schools; 2024: S1–A4, S2–A4 = 2 for 2. No target: the trend only.
    per_school = got["activities_per_school"]
    assert (per_school.value, per_school.previous) == (approx(2.0), approx(1.0))
    assert per_school.breakdown == {
        "type:master_class": approx(2 / 3),
        "type:seminar": approx(2 / 3),
        "type:webinar": approx(2 / 3),
        "process:experience_exchange": approx(2 / 3),
        "process:peer_learning": approx(2 / 3),
        "process:training": approx(4 / 3),
    }
    assert (per_school.trend, per_school.status, per_school.target) == (Trend.up, Status.no_target, None)

    # educators of S1, S2, S3: e1–e7 = 7; at a network activity of 2025 for their school: e1, e2,
    # e3, e5 = 4 (e4 and e7 only at A6, e6 not at all). 2024: e1–e6 = 6, of them e1 and e6 = 2.
    engagement = got["educator_engagement"]
    assert (engagement.value, engagement.previous) == (approx(400 / 7), approx(100 / 3))
    assert (engagement.numerator, engagement.denominator, engagement.schools) == (4, 7, 3)
    assert engagement.status == Status.good  # past the target of 50

    # hours: e1 3+2, e2 3, e3 4, e5 3+4 = 19 for 7 educators (the 2 hours of S2 as a whole are no
    # educator's); 2024: e1 2 + e6 2 = 4 for 6.
    hours = got["hours_per_educator"]
    assert (hours.value, hours.previous) == (approx(19 / 7), approx(4 / 6))

    # centre C hosted A1, partner P hosted A2: 2 of 2; 2024: C hosted A4 (and received mobility),
    # P nothing: 1 of 2.
    partners = got["partner_activation"]
    assert (partners.value, partners.previous, partners.status) == (approx(100.0), approx(50.0), Status.good)

    # in person or blended, at another member's premises: A1 (S1, S2 at C), A3 (S2 at S1) = 2;
    # A2 is remote, C at its own A1 does not count. 2024: A4 = 1.
    widened = got["widened_services"]
    assert (widened.value, widened.previous) == (2.0, 1.0)

    # mobility of N starting in 2025: S2's students at P 36 h, S1's teachers at C 16 h; 2024: 20 h
    mobility = got["mobility_hours"]
    assert (mobility.value, mobility.previous) == (approx(52.0), approx(20.0))
    assert mobility.breakdown == {"students": approx(36.0), "teachers": approx(16.0)}
    programmes = got["joint_programmes"]
    assert (programmes.value, programmes.previous) == (2.0, 1.0)

    # deficits of members in 2025: e4's (a course named «ФОРМИРУЮЩЕЕ ОЦЕНИВАНИЕ…» 73 days later:
    # addressed; its A6 is no network's), e6's (the course came 136 days later: not), e2's (A1,
    # titled with the competency, nine days later: addressed), e7's (2025-12-15: within 90 days of
    # now, open: left out). Z's is not a
    # member's. 2 of 3; 2024: e5's, nothing followed: 0 of 1. Short of 80 but improving: attention.
    deficits = got["deficits_addressed"]
    assert (deficits.value, deficits.previous) == (approx(200 / 3), approx(0.0))
    assert (deficits.numerator, deficits.denominator, deficits.schools) == (2, 3, 3)
    assert deficits.note == "Ещё 1 дефицитов выявлены менее 90 дней назад и не учтены."
    assert (deficits.trend, deficits.status) == (Trend.up, Status.attention)

    # results: supported schools of N in a network in 2025 with results in 2024 and 2025 — S1 and
    # S2 (S3 has none of 2024); comparison candidates (region 39, in no network in 2024–2025): X1,
    # X2, Z. S1 (ШНОР, 4 educators) matches Z (ШНОР, 1 educator: both «до 14»), with the same
    # baseline; S2 (ШФНСУ) has no candidate of its status. One school on each side is below the
    # minimum of 10: no estimate, «недостаточно данных», the counts (the figures by hand: below).
    for indicator in ("results_mean_score_did", "results_lowest_mark_did"):
        did = got[indicator]
        assert (did.value, did.previous, did.status) == (None, None, Status.no_data)
        assert did.definition.unit == "ст. откл."
        assert did.note is not None and did.note.startswith(
            "нет данных: недостаточно данных — сопровождаемых школ"
        )
        assert "подобранными сравнимыми школами: 1, сравнимых школ: 1; нужно не меньше 10" in did.note
        assert did.note.endswith(". Сопровождаемых школ без сравнимой школы, не вошедших в расчёт: 1.")
        assert did.comparison is not None
        assert (did.comparison.supported_schools, did.comparison.comparison_schools) == (1, 1)
        assert (did.comparison.low, did.comparison.high, did.comparison.significant) == (None, None, False)
        assert did.schools == 2

    # «единство подходов к оценке» is no longer computed (see the methodology's dropped indicators)
    assert "assessment_unity" not in got

    # items due in 2025: I1 (A1 held 5 days early), I2 (A2 held 4 days late), I3 (nothing), the
    # tasks I6 (done 2 days early) and I7 (done 9 days late), not the withdrawn I8: 2 of 5, of five
    # responsible organizations; 2024: I5 (A4 held before it): 1 of 1.
    plan = got["plan_on_time"]
    assert (plan.value, plan.previous, plan.status) == (approx(40.0), approx(100.0), Status.bad)
    assert plan.schools == 5

    # ratings of N's activities held in 2025: A1 5 and 4, A2 3, A3 5 (the cancelled A5's 1 is
    # not counted) = 17/4; 2024: A4 4 and 2 = 3.
    rating = got["feedback_rating"]
    assert (rating.value, rating.previous, rating.status) == (approx(4.25), approx(3.0), Status.good)

    # S2: results fell against the region's schools (2024 math z +0.10 → 2025 −0.36: −0.46; the
    # lowest-mark share −0.56 → +0.22: +0.78), e6's deficit had nothing within 90 days; S3: no
    # network activity, its one educator took no part. S1 is fine (its z rose).
    attention = [(school.name, school.reasons) for school in analysis.schools_needing_attention]
    assert attention == [
        (
            "Школа S2",
            [
                "средний балл снизился на 0,46 ст. откл. относительно 2024 года",
                "доля низших отметок выросла на 0,78 ст. откл. относительно 2024 года",
                "дефицитов без курса или сетевого мероприятия по компетенции за 90 дней: 1",
            ],
        ),
        (
            "Школа S3",
            [
                "ни одного сетевого мероприятия за период",
                "в сетевых мероприятиях участвовали 0 из 1 педагогов",
            ],
        ),
    ]


async def test_a_network_in_a_year_on_postgresql(on_postgres: Analytics) -> None:
    check_network_2025(await analyse(on_postgres.db, Scope(ScopeKind.network, str(N)), Period.year(2025)))


async def test_a_network_in_a_year_on_sqlite(on_sqlite: Analytics) -> None:
    check_network_2025(await analyse(on_sqlite.db, Scope(ScopeKind.network, str(N)), Period.year(2025)))


async def test_a_region_counts_every_supported_school_and_compares_outside_networks(
    on_postgres: Analytics,
) -> None:
    analysis = await analyse(on_postgres.db, Scope(ScopeKind.region, "39"), Period.year(2025))
    got = by_id(analysis)
    assert analysis.scope_title == "Калининградская область"
    # supported: S1, S2, S3 and Z (low results, in no network); S1 and S2 took part: 2 of 4
    assert (got["coverage"].numerator, got["coverage"].denominator) == (2, 4)
    # results: the supported schools in a network (S1, S2) against schools in none (X1, X2 and Z,
    # supported but in no network): as for N, one on each side — too few
    results = got["results_mean_score_did"]
    assert results.value is None and results.comparison is not None
    assert (results.comparison.supported_schools, results.comparison.comparison_schools) == (1, 1)
    # the region's deficits: Z's e9 had only the institute's course (no network) and no training
    assert (got["deficits_addressed"].numerator, got["deficits_addressed"].denominator) == (2, 4)
    names = [school.name for school in analysis.schools_needing_attention]
    assert names == ["Школа S2", "Школа Z", "Школа S3"]  # most reasons first
    z = analysis.schools_needing_attention[1]
    assert z.reasons == [
        "ни одного сетевого мероприятия за период",
        "в сетевых мероприятиях участвовали 0 из 1 педагогов",
        "дефицитов без курса или сетевого мероприятия по компетенции за 90 дней: 1",
    ]


def z(value: float, cell: list[float]) -> float:
    """A school's z-score among the cell's schools (population standard deviation)."""
    return (value - statistics.fmean(cell)) / statistics.pstdev(cell)


async def test_results_are_standardised_and_compared_with_matched_schools(on_sqlite: Analytics) -> None:
    """With a minimum of one school: the difference in differences of z-scores, by hand."""
    rules = AnalysisRules(results_min_schools=1)
    async with on_sqlite.db.session() as session:
        analysis = await build_analysis(
            session, Scope(ScopeKind.network, str(N)), Period.year(2025), now=NOW, rules=rules
        )
    got = by_id(analysis)
    # ВПР math, grade 5, region 39: 2024 S1 3.0, S2 3.5, X1 4.0, X2 3.8, Z 3.0; 2025 S1 3.4, S2 3.3,
    # S3 3.1, X1 4.1, X2 3.7, Z 3.0 (Y is region 47's). S1's Russian has no other school: unused.
    before, after = [3.0, 3.5, 4.0, 3.8, 3.0], [3.4, 3.3, 3.1, 4.1, 3.7, 3.0]
    s1 = z(3.4, after) - z(3.0, before)
    z_of_z = z(3.0, after) - z(3.0, before)  # Z, S1's one comparison school (same baseline)
    mean = got["results_mean_score_did"]
    assert mean.value == approx(s1 - z_of_z)
    assert mean.breakdown == {
        "supported_schools": 1.0,
        "comparison_schools": 1.0,
        "supported_change": approx(s1),
        "comparison_change": approx(z_of_z),
    }
    assert mean.comparison is not None
    assert (mean.comparison.low, mean.comparison.high) == (approx(s1 - z_of_z), approx(s1 - z_of_z))
    lowest_before, lowest_after = [0.20, 0.10, 0.05, 0.10, 0.30], [0.10, 0.20, 0.30, 0.05, 0.12, 0.30]
    lowest = (z(0.10, lowest_after) - z(0.20, lowest_before)) - (
        z(0.30, lowest_after) - z(0.30, lowest_before)
    )
    assert got["results_lowest_mark_did"].value == approx(lowest)
    assert got["results_lowest_mark_did"].status == Status.good  # lower is better: below the target 0


async def test_a_quarter_is_compared_with_the_same_quarter_a_year_before(on_postgres: Analytics) -> None:
    analysis = await analyse(on_postgres.db, Scope(ScopeKind.network, str(N)), Period.quarter(2025, 1))
    # Period.previous(): the same season a year before, not the quarter before
    assert analysis.previous_period == Period(D("2024-01-01"), D("2024-04-01"))
    coverage = by_id(analysis)["coverage"]
    # Q1 2025: S1, S2 at A1 (March 10), S3 (a member since February) at none: 2 of 3;
    # Q1 2024: S1 and S2 supported, no activity (A4 was on April 1): 0 of 2
    assert (coverage.numerator, coverage.denominator, coverage.previous) == (2, 3, approx(0.0))
    assert coverage.trend == Trend.up and coverage.status == Status.attention


async def test_a_municipality_and_a_school(on_postgres: Analytics) -> None:
    municipality = await analyse(on_postgres.db, parse_scope("municipality", str(M1)), Period.year(2025))
    assert municipality.scope_title == "Балтийский МО"
    got = by_id(municipality)
    assert (got["coverage"].numerator, got["coverage"].denominator) == (2, 3)
    assert got["plan_on_time"].value == approx(40.0)  # N is M1's network

    school = await analyse(on_postgres.db, parse_scope("school", str(ORG["S2"])), period_of(year=2025))
    assert school.scope_title == "Школа S2"
    got = by_id(school)
    assert (got["coverage"].value, got["coverage"].schools) == (approx(100.0), 1)
    assert got["activities_per_school"].value == approx(3.0)  # A1, A2, A3
    assert got["mobility_hours"].value == approx(36.0)
    assert got["plan_on_time"].value == approx(100.0)  # its task I6, done on time
    # S2 (ШФНСУ) has no comparison school of its status: no estimate
    assert got["results_mean_score_did"].value is None
    assert got["results_mean_score_did"].note is not None
    assert "сравнимыми школами: 0, сравнимых школ: 0;" in got["results_mean_score_did"].note


async def test_nothing_to_compute_is_no_data(on_postgres: Analytics) -> None:
    analysis = await analyse(on_postgres.db, Scope(ScopeKind.region, "47"), Period.year(2025))
    got = by_id(analysis)
    assert got["coverage"].status == Status.no_data and got["coverage"].value is None
    widened = got["widened_services"]
    assert (widened.value, widened.schools, widened.status) == (None, 0, Status.no_data)
    assert widened.note is not None and widened.note.startswith("нет данных: ")
    assert analysis.schools_needing_attention == []


METHODOLOGIST = Identity("methodologist-39", frozenset({Role.expert}), "39")
"""A methodologist of the region the network is in: its analysis is theirs to see whole."""


def subgraph(url: str, **settings: Any) -> Any:
    """The analytics service, taking the gateway's internal tokens."""
    return analytics.build(
        AnalyticsSettings(database_url=url, INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET, **settings)
    )


async def ask(
    app: Any, query: str, variables: dict[str, Any] | None = None, caller: Identity | None = METHODOLOGIST
) -> dict[str, Any]:
    """Ask the subgraph as the gateway does for ``caller`` (None: anonymous)."""
    headers = {"authorization": f"Bearer {sign_internal(caller, DEV_INTERNAL_SECRET)}"} if caller else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://subgraph"
    ) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    body: dict[str, Any] = response.json()
    return body


ANALYSIS = """
query($id: String!, $year: Int, $quarter: Int, $from: Date, $to: Date, $schoolYear: Int) {
  effectivenessAnalysis(
    scope: network, id: $id, year: $year, quarter: $quarter, from: $from, to: $to, schoolYear: $schoolYear
  ) {
    scope { kind key }
    scopeTitle
    period { start end lastDay label }
    previousPeriod { start end }
    indicators {
      definition { id title unit better suggestion }
      value previous numerator denominator schools trend status note
      breakdown { key value }
      comparison { estimate low high supportedSchools comparisonSchools significant level }
    }
    schoolsNeedingAttention { organizationId name reasons organization { id } }
  }
}
"""


async def test_the_analysis_through_the_subgraph(on_postgres: Analytics) -> None:
    service = subgraph(on_postgres.url)
    app = service.asgi(analytics.schema)
    try:
        body = await ask(app, ANALYSIS, {"id": str(N), "year": 2025})
        assert "errors" not in body, body
        analysis = body["data"]["effectivenessAnalysis"]
        assert analysis["scope"] == {"kind": "network", "key": str(N)}
        assert analysis["period"] == {
            "start": "2025-01-01",
            "end": "2026-01-01",
            "lastDay": "2025-12-31",
            "label": "01.01.2025 – 31.12.2025",
        }
        assert analysis["previousPeriod"] == {"start": "2024-01-01", "end": "2025-01-01"}
        coverage = analysis["indicators"][0]
        assert coverage["definition"] == {
            "id": "coverage",
            "title": "Охват сопровождаемых школ сетевыми мероприятиями",
            "unit": "%",
            "better": "higher",
            "suggestion": 90.0,
        }
        assert coverage["value"] == approx(200 / 3) and coverage["previous"] == approx(100.0)
        assert (coverage["trend"], coverage["status"], coverage["schools"]) == ("down", "bad", 3)
        assert coverage["comparison"] is None  # no comparison of results
        results = next(i for i in analysis["indicators"] if i["definition"]["id"] == "results_mean_score_did")
        assert results["comparison"] == {
            "estimate": None,  # one school on each side: below the minimum of 10
            "low": None,
            "high": None,
            "supportedSchools": 1,
            "comparisonSchools": 1,
            "significant": False,
            "level": 0.95,
        }
        assert results["note"].startswith("нет данных: недостаточно данных")
        mobility = next(i for i in analysis["indicators"] if i["definition"]["id"] == "mobility_hours")
        assert mobility["breakdown"] == [
            {"key": "students", "value": 36.0},
            {"key": "teachers", "value": 16.0},
        ]
        first = analysis["schoolsNeedingAttention"][0]
        assert first["name"] == "Школа S2" and first["organization"] == {"id": str(ORG["S2"])}

        dates = await ask(app, ANALYSIS, {"id": str(N), "from": "2025-01-01", "to": "2025-03-31"})
        assert dates["data"]["effectivenessAnalysis"]["period"]["end"] == "2025-04-01"

        definitions = await ask(
            app, "{ indicatorDefinitions { id title definition unit better suggestion } }"
        )
        listed = [d["id"] for d in definitions["data"]["indicatorDefinitions"]]
        assert listed[:3] == ["coverage", "activities_per_school", "educator_engagement"]
        assert len(listed) == 13 and "assessment_unity" not in listed

        own = await ask(
            app,
            "query($r: [_Any!]!) { _entities(representations: $r) {"
            " ... on Organization { id indicators(year: 2025) { definition { id } value } } } }",
            {
                "r": [
                    {"__typename": "Organization", "id": str(ORG["S2"])},
                    {"__typename": "Organization", "id": "x"},
                ]
            },
        )
        assert "errors" not in own, own
        school, unknown = own["data"]["_entities"]
        assert school["indicators"][0] == {"definition": {"id": "coverage"}, "value": 100.0}
        assert unknown["indicators"] is None
    finally:
        await service.db.dispose()


async def test_the_analysis_through_the_gateway(on_postgres: Analytics) -> None:
    service = subgraph(on_postgres.url)
    try:
        async with served(service.asgi(analytics.schema), lifespan="off") as analytics_url:
            gateway = create_app(
                GatewaySettings(
                    analytics_url=f"{analytics_url}/graphql",
                    registry_url="http://127.0.0.1:9/graphql",
                    events_url="http://127.0.0.1:9/graphql",
                )
            )
            async with served(gateway) as gateway_url, httpx.AsyncClient() as client:
                token = issue_token(
                    GatewaySettings(), subject="methodologist-39", roles=["expert"], region_code="39"
                )
                response = await client.post(
                    f"{gateway_url}/graphql",
                    headers={"authorization": f"Bearer {token}"},
                    json={
                        "query": "query($id: String!) {"
                        " effectivenessAnalysis(scope: network, id: $id, year: 2025)"
                        " { scopeTitle indicators { definition { id } status } } }",
                        "variables": {"id": str(N)},
                    },
                )
    finally:
        await service.db.dispose()
    body = response.json()
    assert "errors" not in body, body
    analysis = body["data"]["effectivenessAnalysis"]
    assert analysis["scopeTitle"] == "Сеть «Школы эффективного роста»"
    assert analysis["indicators"][0] == {"definition": {"id": "coverage"}, "status": "bad"}


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        ({"id": "not-an-id", "year": 2025}, "INVALID_ID", "«not-an-id» — не идентификатор (network)"),
        ({"id": str(N), "quarter": 2}, "QUARTER_WITHOUT_YEAR", "Для квартала нужен год"),
        ({"id": str(N), "year": 2025, "quarter": 5}, "QUARTER_OUT_OF_RANGE", "Квартал — 1, 2, 3 или 4"),
        ({"id": str(N), "from": "2025-01-01"}, "PERIOD_INCOMPLETE", "нужны обе даты"),
        (
            {"id": str(N), "year": 2025, "from": "2025-01-01", "to": "2025-02-01"},
            "PERIOD_CONFLICT",
            "не то и другое",
        ),
        ({"id": str(N)}, "PERIOD_REQUIRED", "Укажите год (и квартал), учебный год или даты с и по"),
        ({"id": str(N), "year": 2025, "schoolYear": 2025}, "PERIOD_CONFLICT", "что-то одно"),
        ({"id": str(uuid.UUID(int=1)), "year": 2025}, None, f"no network with id {uuid.UUID(int=1)}"),
    ],
)
async def test_a_scope_or_period_that_cannot_be_analysed_is_a_clear_error(
    on_postgres: Analytics, arguments: dict[str, Any], code: str | None, message: str
) -> None:
    service = subgraph(on_postgres.url)
    try:
        body = await ask(service.asgi(analytics.schema), ANALYSIS, arguments)
    finally:
        await service.db.dispose()
    assert body["data"] is None
    assert len(body["errors"]) == 1 and message in body["errors"][0]["message"], body
    unknown = code is None  # not the caller's arguments: nothing to analyse
    assert body["errors"][0]["extensions"]["code"] == ("NOT_FOUND" if unknown else "BAD_USER_INPUT"), body
    assert body["errors"][0]["extensions"].get("validationCode") == code, body


async def test_outside_its_scope_a_small_group_and_a_school_are_not_analysed(on_postgres: Analytics) -> None:
    """Four schools of the network took part: with the default of five, an anonymous caller gets no
    analysis of it and no school's own figures (sign in), and a caller of another region is refused
    (outside your scope); a methodologist of its region gets both."""
    service = subgraph(on_postgres.url)
    school = (
        "query($r: [_Any!]!) { _entities(representations: $r) {"
        " ... on Organization { id indicators(year: 2025) { value } } } }"
    )
    of_s2 = {"r": [{"__typename": "Organization", "id": str(ORG["S2"])}]}
    elsewhere = Identity("methodologist-77", frozenset({Role.expert}), "77")
    try:
        app = service.asgi(analytics.schema)
        for caller, code in ((None, "UNAUTHENTICATED"), (elsewhere, "FORBIDDEN")):
            network = await ask(app, ANALYSIS, {"id": str(N), "year": 2025}, caller)
            assert network["data"] is None and network["errors"][0]["extensions"]["code"] == code, network
            assert "group of 4 schools" in network["errors"][0]["message"]
            own = await ask(app, school, of_s2, caller)
            assert own["errors"][0]["extensions"]["code"] == code, own
            assert own["data"]["_entities"] == [{"id": str(ORG["S2"]), "indicators": None}], own
        assert "errors" not in await ask(app, ANALYSIS, {"id": str(N), "year": 2025})
        assert "errors" not in await ask(app, school, of_s2)
    finally:
        await service.db.dispose()


async def test_outside_its_scope_a_figure_over_too_few_schools_is_withheld(on_postgres: Analytics) -> None:
    """With the setting at three, anonymous callers get the network's analysis, but no figure that
    stands on fewer than three schools and no list of the schools that need attention."""
    service = subgraph(on_postgres.url, disclosure_min_schools=3)
    try:
        app = service.asgi(analytics.schema)
        anonymous = await ask(app, ANALYSIS, {"id": str(N), "year": 2025}, None)
        whole = await ask(app, ANALYSIS, {"id": str(N), "year": 2025})
    finally:
        await service.db.dispose()
    assert "errors" not in anonymous, anonymous
    seen = {i["definition"]["id"]: i for i in anonymous["data"]["effectivenessAnalysis"]["indicators"]}
    full = {i["definition"]["id"]: i for i in whole["data"]["effectivenessAnalysis"]["indicators"]}
    few = [key for key, item in full.items() if item["schools"] < 3 and item["value"] is not None]
    many = [key for key, item in full.items() if item["schools"] >= 3 and item["value"] is not None]
    assert few and many, "the world should have figures on both sides of three schools"
    for key in few:
        assert seen[key]["value"] is None and seen[key]["numerator"] is None, seen[key]
        assert seen[key]["status"] == "no_data" and "менее чем по 3 школам" in seen[key]["note"]
    for key in many:
        assert seen[key] == full[key]
    assert whole["data"]["effectivenessAnalysis"]["schoolsNeedingAttention"]
    assert anonymous["data"]["effectivenessAnalysis"]["schoolsNeedingAttention"] == []


RESULT_WORDS = ("балл", "отметок", "результатов")


def reasons_of(analysis: Analysis) -> dict[str, list[str]]:
    return {school.name: school.reasons for school in analysis.schools_needing_attention}


async def test_results_are_not_flagged_before_their_procedures_due_month(on_postgres: Analytics) -> None:
    """ВПР results come after May, ОГЭ and ЕГЭ after July: the first quarter raises no result-related
    attention entry (S2's results did fall from 2024 to 2025), the second lists S2's fall, and the
    current year lists no school without results before any procedure is due, then does."""
    network = Scope(ScopeKind.network, str(N))
    first = reasons_of(await analyse(on_postgres.db, network, Period.quarter(2025, 1)))
    assert first, "the quarter still has schools to look at, for other reasons"
    assert not [r for reasons in first.values() for r in reasons if any(w in r for w in RESULT_WORDS)], first

    second = reasons_of(await analyse(on_postgres.db, network, Period.quarter(2025, 2)))
    assert "средний балл снизился на 0,46 ст. откл. относительно 2024 года" in second["Школа S2"]

    # 2026 in March: nobody has 2026 results, none is due yet
    march = reasons_of(await analyse(on_postgres.db, network, Period.year(2026)))
    assert not [r for reasons in march.values() for r in reasons if "результатов" in r], march
    # in mid-June ВПР results of 2026 are due (ОГЭ and ЕГЭ not yet): each supported school is told
    june = datetime(2026, 6, 15, tzinfo=UTC)
    later = reasons_of(await analyse(on_postgres.db, network, Period.year(2026), now=june))
    missing = "нет результатов оценочных процедур за 2026 год (ВПР)"
    assert {name for name, reasons in later.items() if missing in reasons} == {
        "Школа S1",
        "Школа S2",
        "Школа S3",
    }


async def test_the_report_and_the_alert_agree_on_which_deficits_were_addressed(
    on_postgres: Analytics,
) -> None:
    """One definition for the indicator, the attention list and the alert: a deficit is addressed
    by a training or a network activity naming its competency within N days. e1's deficit had only
    an activity on another subject (A2): not addressed, alerted; e3's had the master class on its
    competency (A3) and no training: addressed, not alerted; e6's course came after 90 days: late,
    alerted and counted as not addressed."""
    extra = {
        "e1": ("S1", "Работа с родителями", "2025-05-01"),
        "e3": ("S1", "Смысловое чтение", "2025-09-01"),
    }
    async with on_postgres.db.session() as session, session.begin():
        for educator, (school, competency, diagnosed) in extra.items():
            session.add(
                Deficit(
                    id=uuid.uuid4(),
                    educator_id=EDU[educator],
                    organization_id=ORG[school],
                    competency=competency,
                    level="high",
                    diagnosed_on=D(diagnosed),
                )
            )
    region = await analyse(on_postgres.db, Scope(ScopeKind.region, "39"), Period.year(2025))
    async with on_postgres.db.session() as session, session.begin():
        raised, _ = await alerts.evaluate(
            session, AnalyticsSettings(), NOW, rules=[AlertRule.deficit_without_training]
        )
        deficits = {
            ident: (educator, organization, diagnosed)
            for ident, educator, organization, diagnosed in (
                await session.execute(
                    select(Deficit.id, Deficit.educator_id, Deficit.organization_id, Deficit.diagnosed_on)
                )
            ).all()
        }
    alerted = [deficits[alert.subject_id] for alert in raised]
    of_2025 = [(educator, school) for educator, school, day in alerted if day.year == 2025]
    assert sorted(of_2025) == sorted([(EDU["e1"], ORG["S1"]), (EDU["e6"], ORG["S2"]), (EDU["e9"], ORG["Z"])])
    assert (EDU["e3"], ORG["S1"]) not in of_2025 and (EDU["e5"], ORG["S2"], D("2024-05-01")) in alerted

    # the indicator: of the six deficits of 2025 whose 90 days are over, three addressed (e4, e2, e3)
    got = by_id(region)["deficits_addressed"]
    assert (got.numerator, got.denominator) == (3, 6)
    assert got.denominator - got.numerator == len(of_2025)
    # the attention list: the same deficits, per school
    listed = {}
    for school in region.schools_needing_attention:
        for reason in school.reasons:
            if reason.startswith("дефицитов без курса"):
                listed[school.organization_id] = int(reason.rsplit(" ", 1)[1])
    names = {ORG[name]: name for name in ORG}
    per_school: dict[uuid.UUID, int] = {}
    for _, school in of_2025:
        per_school[school] = per_school.get(school, 0) + 1
    assert listed == per_school, {names[k]: v for k, v in listed.items()}


async def test_a_school_year_through_the_subgraph(on_postgres: Analytics) -> None:
    service = subgraph(on_postgres.url)
    try:
        body = await ask(service.asgi(analytics.schema), ANALYSIS, {"id": str(N), "schoolYear": 2024})
    finally:
        await service.db.dispose()
    assert "errors" not in body, body
    analysis = body["data"]["effectivenessAnalysis"]
    assert analysis["period"]["start"] == "2024-09-01" and analysis["period"]["lastDay"] == "2025-08-31"
    assert analysis["period"]["label"] == "2024/25 учебный год (01.09.2024 – 31.08.2025)"
    assert analysis["previousPeriod"] == {"start": "2023-09-01", "end": "2024-09-01"}
    coverage = analysis["indicators"][0]
    # 2024/25: S1, S2, S3 supported; S1 and S2 at A1 (March 2025): 2 of 3
    assert (coverage["numerator"], coverage["denominator"]) == (2, 3)


async def test_the_definitions_say_where_each_indicator_comes_from(on_postgres: Analytics) -> None:
    service = subgraph(on_postgres.url)
    try:
        body = await ask(
            service.asgi(analytics.schema),
            "{ indicatorDefinitions { id expectedResult regulation formula sources dataDue } }",
            caller=None,
        )
    finally:
        await service.db.dispose()
    assert "errors" not in body, body
    found = {item["id"]: item for item in body["data"]["indicatorDefinitions"]}
    assert found["widened_services"]["expectedResult"] == (
        "расширение сферы образовательных услуг за счёт привлечения ресурсов школ – партнёров"
    )
    assert "Балтийского муниципального района" in found["widened_services"]["regulation"]
    assert "п. 1.4" in found["mobility_hours"]["regulation"]
    assert all(item["formula"] and item["sources"] and item["dataDue"] for item in found.values())


ATTENTION = """
query($scope: ScopeKind!, $id: String!) {
  effectivenessAnalysis(scope: $scope, id: $id, year: 2025) { schoolsNeedingAttention { name } }
}
"""


async def test_the_attention_list_is_shown_as_alerts_are(on_postgres: Analytics) -> None:
    """The schools that need attention, with their reasons, are told only to signed-in callers, each
    of the schools in their reach (as alerts): nothing to an anonymous caller or one of another
    region, even where the group is large enough for its figures to be public."""
    service = subgraph(on_postgres.url, disclosure_min_schools=3)
    callers = {
        "anonymous": None,
        "viewer of 77": Identity("viewer-77", frozenset({Role.viewer}), "77"),
        "coordinator of M2": Identity(
            "coordinator-m2", frozenset({Role.municipal_coordinator}), municipality_id=str(M2)
        ),
        "coordinator of M1": Identity(
            "coordinator-m1", frozenset({Role.municipal_coordinator}), municipality_id=str(M1)
        ),
        "representative of S2": Identity(
            "rep-s2", frozenset({Role.school_representative}), organization_id=str(ORG["S2"])
        ),
        "methodologist of 39": METHODOLOGIST,
    }
    seen: dict[tuple[str, str], list[str]] = {}
    try:
        app = service.asgi(analytics.schema)
        for who, caller in callers.items():
            for scope, key in (("network", str(N)), ("region", "39")):
                body = await ask(app, ATTENTION, {"scope": scope, "id": key}, caller)
                assert "errors" not in body, (who, body)
                listed = body["data"]["effectivenessAnalysis"]["schoolsNeedingAttention"]
                seen[(who, scope)] = [school["name"] for school in listed]
    finally:
        await service.db.dispose()
    for scope in ("network", "region"):
        assert seen[("anonymous", scope)] == [] and seen[("viewer of 77", scope)] == []
        assert seen[("representative of S2", scope)] == ["Школа S2"]
    assert seen[("coordinator of M2", "region")] == ["Школа Z"]  # the region's list, its municipality's part
    assert seen[("coordinator of M2", "network")] == []
    assert sorted(seen[("coordinator of M1", "network")]) == ["Школа S2", "Школа S3"]
    assert sorted(seen[("methodologist of 39", "region")]) == ["Школа S2", "Школа S3", "Школа Z"]
