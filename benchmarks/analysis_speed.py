"""The effectiveness analysis of one region at national scale, next to the same figures computed by
one hand-written SQL query over the raw rows, in the same run and on the same database.

The data is synthetic and written straight into analytics' read models with ``COPY`` (CSV, in
chunks): organizations in regions of very different sizes, municipal networks of supported schools
with a centre and partners, educators and their posts, two years of activities with attendance
(10,000,000 rows by default), feedback, plans, mobility, deficits and trainings, and three years of
assessment results. The attendance indexes are dropped for the load and built again after it (the
migration's own definitions), as an operator loading history would.

The hand query computes, for the region's largest member, every indicator of this year and the
year before and the supported schools needing attention, in one statement of CTEs with one pass
over the region's attendance; its figures are checked against the analysis' before timing them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from setka_contracts.events import ActivityFormat, ActivityType, LearningProcess
from setka_runtime import migrations
from setka_runtime.db import Database

from services.analytics import effects
from services.analytics.analysis import build_analysis
from services.analytics.analysis_model import Analysis, AnalysisRules, Period, Scope, ScopeKind

from .databases import ScratchDatabases
from .timing import ms, ratio

ROOT = Path(__file__).resolve().parent.parent
ANALYTICS_MIGRATIONS = ROOT / "services" / "analytics" / "migrations"

YEAR = 2025
NOW = datetime(YEAR + 1, 3, 1, 12, tzinfo=UTC)
REGIONS = 85
ORGANIZATIONS_PER_MUNICIPALITY = 20
CHUNK = 250_000
FIRST_DAY = date(YEAR - 1, 1, 1)
DAYS = (date(YEAR + 1, 1, 1) - FIRST_DAY).days
ATTENDEES_PER_ACTIVITY = 25
COMPETENCIES = (
    "Формирующее оценивание",
    "Читательская грамотность",
    "Работа с детьми с ОВЗ",
    "Цифровая образовательная среда",
    "Проектная деятельность",
    "Классное руководство",
    "Функциональная грамотность",
    "Наставничество",
)
PROGRAMMES = ("Робототехника", "Химия на практике", "Астрономия", "Театр", "Шахматы", "Профильная физика")
OTHER_KINDS = ("additional_education", "methodological_service", "college", "kindergarten")


def uid(kind: int, number: int) -> str:
    """A stable id for the ``number``-th row of a kind: readable in a plan, cheap to generate."""
    return f"{kind:08x}-0000-4000-8000-{number:012x}"


@dataclass
class Org:
    id: str
    region: str
    municipality: str
    kind: str
    supported: bool
    stable: bool
    educators: list[str] = field(default_factory=list)


@dataclass
class World:
    """What was generated: ids by role, and the row count of each table."""

    organizations: list[Org] = field(default_factory=list)
    regions: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


class Loader:
    """``COPY … FROM STDIN (FORMAT csv)`` in chunks of :data:`CHUNK` rows."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.counts: dict[str, int] = {}

    async def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        buffer, writer, pending = io.StringIO(), None, 0
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            writer.writerow(row)
            pending += 1
            if pending == CHUNK:
                await self._flush(table, columns, buffer, pending)
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                pending = 0
        if pending:
            await self._flush(table, columns, buffer, pending)

    async def _flush(self, table: str, columns: Sequence[str], buffer: io.StringIO, rows: int) -> None:
        data = io.BytesIO(buffer.getvalue().encode())
        await self.connection.copy_to_table(table, source=data, columns=list(columns), format="csv")
        self.counts[table] = self.counts.get(table, 0) + rows


def _day(rng: random.Random) -> date:
    return FIRST_DAY + timedelta(days=rng.randrange(DAYS))


def _region_sizes(organizations: int) -> dict[str, int]:
    """Regions as unequal as Russia's: the n-th largest has a weight of 1/n^0.8."""
    weights = [1 / (rank**0.8) for rank in range(1, REGIONS + 1)]
    total = sum(weights)
    sizes = {f"{rank:02d}": max(1, round(organizations * w / total)) for rank, w in enumerate(weights, 1)}
    sizes["01"] += organizations - sum(sizes.values())
    return sizes


async def generate(
    connection: asyncpg.Connection, *, organizations: int, educators: int, attendance: int
) -> World:
    rng = random.Random(2025)
    world = World(regions=_region_sizes(organizations))
    loader = Loader(connection)
    registered = datetime(2020, 1, 1, tzinfo=UTC)

    number = 0
    for region, size in world.regions.items():
        municipalities = max(1, size // ORGANIZATIONS_PER_MUNICIPALITY)
        for index in range(size):
            school = rng.random() < 0.8
            supported = school and (number % 7 == 0 or number % 11 == 0)
            world.organizations.append(
                Org(
                    id=uid(1, number),
                    region=region,
                    municipality=uid(6, int(region) * 10_000 + index % municipalities),
                    kind="school" if school else rng.choice(OTHER_KINDS),
                    supported=supported,
                    stable=school and not supported and number % 3 == 0,
                )
            )
            number += 1
    orgs = world.organizations
    await loader.copy(
        "organization",
        ("id", "region_code", "kind", "registered_at", "short_name", "municipality", "municipality_id"),
        (
            (
                o.id,
                o.region,
                o.kind,
                registered,
                f"Организация {n}",
                f"МО {o.municipality[-4:]}",
                o.municipality,
            )
            for n, o in enumerate(orgs)
        ),
    )
    await loader.copy(
        "organization_status",
        ("organization_id", "status", "entered_on"),
        (
            (o.id, "low_results" if n % 7 == 0 else "adverse_social_conditions", date(2021, 1, 15))
            for n, o in enumerate(orgs)
            if o.supported
        ),
    )
    await loader.copy(
        "organization_status",
        ("organization_id", "status", "entered_on"),
        ((o.id, "stable_results", date(2021, 1, 15)) for o in orgs if o.stable),
    )

    # educators and their posts, about five an organization
    educator_rows = []
    for n in range(educators):
        owner = orgs[rng.randrange(len(orgs))]
        ident = uid(2, n)
        owner.educators.append(ident)
        educator_rows.append((ident, owner.id))
    await loader.copy("educator", ("id", "subjects"), ((ident, "[]") for ident, _ in educator_rows))
    await loader.copy(
        "employment",
        ("id", "educator_id", "organization_id", "started_on"),
        ((uid(7, n), ident, owner, date(2020, 9, 1)) for n, (ident, owner) in enumerate(educator_rows)),
    )

    # a network in three municipalities of five: its supported schools, a centre, partners
    by_municipality: dict[str, list[Org]] = {}
    for o in orgs:
        by_municipality.setdefault(o.municipality, []).append(o)
    networks: list[tuple[str, list[Org], list[Org]]] = []  # id, members, hosts
    network_rows, membership_rows = [], []
    for municipality, members in by_municipality.items():
        if rng.random() >= 0.6:
            continue
        supported = [o for o in members if o.supported]
        centre = next((o for o in members if o.stable), None) or next(o for o in members)
        partners = [o for o in members if o is not centre and not o.supported][:3]
        if not supported:
            continue
        ident = uid(8, len(networks))
        network_rows.append((ident, f"Сеть {len(networks)}", "municipal", members[0].region, municipality))
        for o, role in [
            (centre, "centre"),
            *((p, "partner") for p in partners),
            *((s, "supported") for s in supported),
        ]:
            membership_rows.append((uid(9, len(membership_rows)), ident, o.id, role, date(2022, 1, 1)))
        networks.append((ident, [centre, *partners, *supported], [centre, *partners]))
    await loader.copy(
        "network",
        ("id", "name", "level", "region_code", "municipality_id", "started_on"),
        ((*row, date(2022, 1, 1)) for row in network_rows),
    )
    await loader.copy(
        "membership", ("id", "network_id", "organization_id", "role", "joined_on"), membership_rows
    )

    # plans: an item a month for each network and year
    plan_rows, item_rows = [], []
    items_of: dict[tuple[str, int], list[str]] = {}
    for ident, members, _hosts in networks:
        for year in (YEAR - 1, YEAR):
            plan = uid(10, len(plan_rows))
            plan_rows.append((plan, ident, year, "in_progress"))
            for month in range(1, 13):
                item = uid(11, len(item_rows))
                responsible = rng.choice(members).id
                item_rows.append((item, plan, ident, date(year, month, 15), responsible))
                items_of.setdefault((ident, year), []).append(item)
    await loader.copy("plan", ("id", "network_id", "year", "status"), plan_rows)
    await loader.copy(
        "plan_item", ("id", "plan_id", "network_id", "due_on", "responsible_organization_id"), item_rows
    )

    # activities of the networks (one in ten of no network: the institute's courses), two years
    count = max(len(networks), attendance // ATTENDEES_PER_ACTIVITY)
    types, processes = [t.value for t in ActivityType], [p.value for p in LearningProcess]
    formats = [f.value for f in ActivityFormat]
    activity_rows, held = [], []
    for n in range(count):
        ident, members, hosts = networks[n % len(networks)]
        day = _day(rng)
        roll = rng.random()
        status = "cancelled" if roll < 0.04 else "reported" if roll < 0.1 else "held"
        networked = rng.random() >= 0.1
        host = rng.choice(hosts if rng.random() < 0.8 else members)
        item = rng.choice(items_of[(ident, day.year)]) if networked and rng.random() < 0.2 else None
        starts = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        activity_id = uid(3, n)
        activity_rows.append(
            (
                activity_id,
                ident if networked else None,
                host.id,
                item,
                rng.choice(types),
                json.dumps(rng.sample(processes, rng.randint(1, 2))),
                rng.choice(formats),
                starts,
                starts + timedelta(hours=2),
                status,
                day if status != "cancelled" else None,
            )
        )
        if status != "cancelled":
            held.append((activity_id, ident if networked else "", host.id, day, members))
    await loader.copy(
        "activity",
        (
            "id",
            "network_id",
            "host_organization_id",
            "plan_item_id",
            "activity_type",
            "processes",
            "format",
            "starts_at",
            "ends_at",
            "status",
            "held_on",
        ),
        activity_rows,
    )
    await loader.copy(
        "feedback",
        ("id", "activity_id", "rating"),
        ((uid(12, n), activity_id, rng.randint(2, 5)) for n, (activity_id, *_) in enumerate(held)),
    )

    def attendance_rows() -> Iterable[tuple[Any, ...]]:
        per, extra = divmod(attendance, len(held))
        number = 0
        for index, (activity_id, network, host, day, members) in enumerate(held):
            pool = [(o.id, e) for o in members for e in o.educators] or [(members[0].id, "")]
            for org, educator in rng.choices(pool, k=per + (index < extra)):
                whole = number % 33 == 0  # now and then an organization as a whole, no educator
                yield (uid(4, number), activity_id, org, "" if whole else educator, 2.0, day, host, network)
                number += 1

    print(f"  writing {attendance:,} attendance rows (indexes dropped for the load, then built)")
    indexes = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE tablename = 'attendance' AND indexname NOT LIKE '%pkey'"
    )
    for index in indexes:
        await connection.execute(f'DROP INDEX "{index["indexname"]}"')
    await loader.copy(
        "attendance",
        (
            "id",
            "activity_id",
            "organization_id",
            "educator_id",
            "hours",
            "activity_day",
            "host_organization_id",
            "network_id",
        ),
        attendance_rows(),
    )
    await connection.execute("SET maintenance_work_mem = '512MB'")
    for index in indexes:
        await connection.execute(index["indexdef"])

    # mobility, deficits and the trainings after them, assessment results
    mobility_rows = []
    for ident, members, hosts in networks:
        for _ in range(8):
            start = _day(rng)
            home = rng.choice([o for o in members if o.supported])
            mobility_rows.append(
                (
                    uid(13, len(mobility_rows)),
                    rng.choice(("students", "teachers")),
                    home.id,
                    rng.choice(hosts).id,
                    ident,
                    rng.choice(PROGRAMMES),
                    rng.randint(5, 20),
                    start,
                    start + timedelta(days=60),
                    float(rng.choice((8, 16, 36, 72))),
                )
            )
    await loader.copy(
        "mobility",
        (
            "id",
            "kind",
            "home_organization_id",
            "host_organization_id",
            "network_id",
            "programme",
            "participants",
            "starts_on",
            "ends_on",
            "hours",
        ),
        mobility_rows,
    )
    deficit_rows, training_rows = [], []
    for n, (educator, owner) in enumerate(educator_rows):
        if n % 20:
            continue
        competency, diagnosed = rng.choice(COMPETENCIES), _day(rng)
        deficit_rows.append((uid(14, n), educator, owner, competency, "high", diagnosed))
        if rng.random() < 0.6:
            course = f"Курс «{competency.upper()}»" if rng.random() < 0.5 else "Курс «Общие вопросы»"
            completed = diagnosed + timedelta(days=rng.randint(0, 150))
            training_rows.append((uid(15, n), educator, owner, course, 36, completed))
    await loader.copy(
        "deficit",
        ("id", "educator_id", "organization_id", "competency", "level", "diagnosed_on"),
        deficit_rows,
    )
    await loader.copy(
        "training", ("id", "educator_id", "organization_id", "course", "hours", "completed_on"), training_rows
    )

    def results() -> Iterable[tuple[Any, ...]]:
        number = 0
        for o in orgs:
            if o.kind != "school":
                continue
            for subject in ("математика", "русский язык"):
                base = rng.uniform(2.8, 4.2)
                for year in (YEAR - 2, YEAR - 1, YEAR):
                    if rng.random() < 0.05:
                        continue  # now and then a school does not report
                    mean = base + rng.uniform(-0.3, 0.3)
                    lowest = max(0.0, min(1.0, (4.2 - mean) / 4 + rng.uniform(-0.05, 0.05)))
                    yield (
                        uid(16, number),
                        o.id,
                        "vpr",
                        subject,
                        5,
                        year,
                        25,
                        round(mean, 2),
                        round(lowest, 3),
                    )
                    number += 1

    await loader.copy(
        "assessment_result",
        (
            "id",
            "organization_id",
            "procedure",
            "subject",
            "grade",
            "year",
            "participants",
            "mean_score",
            "lowest_mark_share",
        ),
        results(),
    )
    await connection.execute("ANALYZE")
    world.counts = loader.counts
    return world


HAND_SQL = """
WITH periods(label, s, e, y) AS (
  VALUES ('previous', $2::date, $3::date, $6::int - 1), ('current', $3::date, $4::date, $6::int)
),
members AS MATERIALIZED (
  SELECT p.label, o.id, o.kind FROM periods p
  JOIN organization o ON o.region_code = $1 AND (o.archived_at IS NULL OR o.archived_at >= p.s)
),
supported AS MATERIALIZED (
  SELECT m.label, m.id FROM members m JOIN periods p USING (label)
  JOIN organization_status st ON st.organization_id = m.id
   AND st.status IN ('low_results', 'adverse_social_conditions')
   AND st.entered_on < p.e AND (st.left_on IS NULL OR st.left_on > p.s)
  WHERE m.kind = 'school'
  UNION
  SELECT m.label, m.id FROM members m JOIN periods p USING (label)
  JOIN membership ms ON ms.organization_id = m.id AND ms.role = 'supported'
   AND ms.joined_on < p.e AND (ms.left_on IS NULL OR ms.left_on > p.s)
  WHERE m.kind = 'school'
),
hosted AS MATERIALIZED (
  SELECT p.label, act.id, act.host_organization_id FROM periods p
  JOIN activity act ON act.starts_at >= (p.s::timestamp AT TIME ZONE 'UTC')
                   AND act.starts_at < (p.e::timestamp AT TIME ZONE 'UTC')
  WHERE act.status IN ('held', 'reported') AND act.network_id IS NOT NULL
    AND act.host_organization_id IN (SELECT id FROM organization WHERE region_code = $1)
),
reach AS MATERIALIZED (
  SELECT s.label, s.id,
    EXISTS (SELECT 1 FROM attendance a WHERE a.organization_id = s.id AND a.activity_day >= p.s
            AND a.activity_day < p.e AND a.network_id IS NOT NULL)
    OR EXISTS (SELECT 1 FROM activity act WHERE act.host_organization_id = s.id
               AND act.status IN ('held', 'reported') AND act.network_id IS NOT NULL
               AND act.starts_at >= (p.s::timestamp AT TIME ZONE 'UTC')
               AND act.starts_at < (p.e::timestamp AT TIME ZONE 'UTC')) AS took_part
  FROM supported s JOIN periods p USING (label)
),
coverage AS (
  SELECT label, count(*) AS schools, count(*) FILTER (WHERE took_part) AS reached FROM reach GROUP BY label
),
per_activity AS (
  SELECT label, activity_id,
         count(DISTINCT organization_id) FILTER (
           WHERE (label, organization_id) IN (SELECT label, id FROM supported)) AS schools,
         max(CASE WHEN organization_id <> host_organization_id THEN 1 ELSE 0 END) AS visited
  FROM (
    SELECT CASE WHEN a.activity_day >= $3 THEN 'current' ELSE 'previous' END AS label,
           a.activity_id, a.organization_id, a.host_organization_id
    FROM attendance a
    WHERE a.activity_day >= $2 AND a.activity_day < $4 AND a.network_id IS NOT NULL
      AND a.organization_id IN (SELECT id FROM organization WHERE region_code = $1)
    UNION ALL
    SELECT label, id, host_organization_id, host_organization_id FROM hosted
    WHERE (label, host_organization_id) IN (SELECT label, id FROM supported)
  ) taking_part
  WHERE (label, organization_id) IN (SELECT label, id FROM members)
  GROUP BY label, activity_id
),
kinds AS (
  SELECT pa.label, act.activity_type, act.processes::text AS processes, sum(pa.schools) AS pairs,
         sum(CASE WHEN act.format IN ('in_person', 'blended') THEN pa.visited ELSE 0 END) AS visited
  FROM per_activity pa JOIN activity act ON act.id = pa.activity_id GROUP BY 1, 2, 3
),
employed AS MATERIALIZED (
  SELECT DISTINCT s.label, e.organization_id, e.educator_id
  FROM supported s JOIN periods p USING (label)
  JOIN employment e ON e.organization_id = s.id
   AND (e.started_on IS NULL OR e.started_on < p.e) AND (e.ended_on IS NULL OR e.ended_on > p.s)
),
per_educator AS MATERIALIZED (
  SELECT e.label, e.organization_id, e.educator_id, x.attended, x.hours
  FROM employed e JOIN periods p USING (label)
  CROSS JOIN LATERAL (
    SELECT count(*) AS attended, coalesce(sum(a.hours), 0) AS hours FROM attendance a
    WHERE a.educator_id = e.educator_id AND a.organization_id = e.organization_id
      AND a.activity_day >= p.s AND a.activity_day < p.e AND a.network_id IS NOT NULL
  ) x
),
engagement AS (
  SELECT label, count(DISTINCT educator_id) AS educators,
         count(DISTINCT educator_id) FILTER (WHERE attended > 0) AS engaged, sum(hours) AS hours
  FROM per_educator GROUP BY label
),
partners AS (
  SELECT DISTINCT m.label, ms.organization_id AS id
  FROM members m JOIN periods p USING (label)
  JOIN membership ms ON ms.organization_id = m.id AND ms.role IN ('centre', 'partner')
   AND ms.joined_on < p.e AND (ms.left_on IS NULL OR ms.left_on > p.s)
),
activation AS (
  SELECT pa.label, count(*) AS partners, count(*) FILTER (
    WHERE (pa.label, pa.id) IN (SELECT label, host_organization_id FROM hosted)
       OR EXISTS (SELECT 1 FROM mobility mo WHERE mo.host_organization_id = pa.id
                  AND mo.starts_on >= p.s AND mo.starts_on < p.e)) AS active
  FROM partners pa JOIN periods p USING (label) GROUP BY pa.label
),
mob AS (
  SELECT m.label, mo.kind, mo.home_organization_id, mo.host_organization_id, mo.programme, mo.hours
  FROM members m JOIN periods p USING (label)
  JOIN mobility mo ON mo.home_organization_id = m.id AND mo.starts_on >= p.s AND mo.starts_on < p.e
),
programmes AS (
  SELECT label, sum(hours) AS hours, count(DISTINCT (host_organization_id, programme)) AS programmes
  FROM mob GROUP BY label
),
deficits AS MATERIALIZED (
  SELECT m.label, d.organization_id, d.diagnosed_on,
    EXISTS (SELECT 1 FROM training t WHERE t.educator_id = d.educator_id
            AND t.completed_on >= d.diagnosed_on AND t.completed_on <= d.diagnosed_on + 90
            AND lower(t.course) LIKE '%' || lower(d.competency) || '%')
    OR EXISTS (SELECT 1 FROM attendance a JOIN activity act ON act.id = a.activity_id
               WHERE a.educator_id = d.educator_id
               AND a.activity_day >= d.diagnosed_on AND a.activity_day <= d.diagnosed_on + 90
               AND a.network_id IS NOT NULL
               AND lower(act.title) LIKE '%' || lower(d.competency) || '%') AS addressed
  FROM members m JOIN periods p USING (label)
  JOIN deficit d ON d.organization_id = m.id AND d.diagnosed_on >= p.s AND d.diagnosed_on < p.e
),
deficit_figures AS (
  SELECT label, count(*) AS diagnosed, count(*) FILTER (WHERE addressed) AS addressed,
         count(*) FILTER (WHERE NOT addressed AND diagnosed_on > $5::date - 90) AS pending
  FROM deficits GROUP BY label
),
cells AS MATERIALIZED (
  SELECT r.organization_id, r.procedure, r.subject, r.grade, r.year,
         avg(r.mean_score) AS mean, avg(r.lowest_mark_share) AS lowest
  FROM assessment_result r JOIN organization o ON o.id = r.organization_id AND o.region_code = $1
  WHERE o.kind = 'school' AND r.year BETWEEN $6::int - 2 AND $6::int
  GROUP BY 1, 2, 3, 4, 5
),
scored AS MATERIALIZED (
  SELECT organization_id, procedure, subject, grade, year,
    CASE WHEN count(*) OVER w < 2 THEN NULL WHEN stddev_pop(mean) OVER w <= 1e-9 THEN 0.0
         ELSE (mean - avg(mean) OVER w) / stddev_pop(mean) OVER w END AS z_mean,
    CASE WHEN count(*) OVER w < 2 THEN NULL WHEN stddev_pop(lowest) OVER w <= 1e-9 THEN 0.0
         ELSE (lowest - avg(lowest) OVER w) / stddev_pop(lowest) OVER w END AS z_lowest
  FROM cells WINDOW w AS (PARTITION BY procedure, subject, grade, year)
),
changes AS MATERIALIZED (
  SELECT p.label, n.organization_id, avg(n.z_mean - b.z_mean) AS mean_change,
         avg(n.z_lowest - b.z_lowest) AS lowest_change, avg(b.z_mean) AS baseline
  FROM periods p JOIN scored n ON n.year = p.y
  JOIN scored b ON b.year = p.y - 1 AND b.organization_id = n.organization_id
   AND b.procedure = n.procedure AND b.subject = n.subject AND b.grade = n.grade
  WHERE n.z_mean IS NOT NULL AND b.z_mean IS NOT NULL
  GROUP BY p.label, n.organization_id
),
sided AS MATERIALIZED (
  SELECT p.label, o.id, c.baseline, c.mean_change, c.lowest_change,
    (p.label, o.id) IN (SELECT label, id FROM supported)
      AND EXISTS (SELECT 1 FROM membership ms WHERE ms.organization_id = o.id
                  AND ms.joined_on < p.e AND (ms.left_on IS NULL OR ms.left_on > p.s)) AS treated,
    EXISTS (SELECT 1 FROM membership ms WHERE ms.organization_id = o.id
            AND ms.joined_on < make_date(p.y + 1, 1, 1)
            AND (ms.left_on IS NULL OR ms.left_on > make_date(p.y - 1, 1, 1))) AS networked,
    CASE WHEN EXISTS (SELECT 1 FROM organization_status st WHERE st.organization_id = o.id
                      AND st.status = 'low_results' AND st.entered_on < p.e
                      AND (st.left_on IS NULL OR st.left_on > p.s)) THEN 'low_results'
         WHEN EXISTS (SELECT 1 FROM organization_status st WHERE st.organization_id = o.id
                      AND st.status = 'adverse_social_conditions' AND st.entered_on < p.e
                      AND (st.left_on IS NULL OR st.left_on > p.s)) THEN 'adverse_social_conditions'
         ELSE 'other' END AS status,
    CASE WHEN x.educators <= 0 THEN 'none' WHEN x.educators < 15 THEN 'small'
         WHEN x.educators < 40 THEN 'medium' ELSE 'large' END AS band
  FROM periods p JOIN organization o ON o.region_code = $1 AND o.kind = 'school'
  JOIN changes c ON c.label = p.label AND c.organization_id = o.id
  CROSS JOIN LATERAL (
    SELECT count(DISTINCT e.educator_id) AS educators FROM employment e WHERE e.organization_id = o.id
      AND (e.started_on IS NULL OR e.started_on < p.e) AND (e.ended_on IS NULL OR e.ended_on > p.s)
  ) x
),
matched AS MATERIALIZED (
  SELECT t.label, t.id, t.mean_change, t.lowest_change, array_agg(m.id::text) AS neighbours
  FROM sided t CROSS JOIN LATERAL (
    SELECT c.id FROM sided c
    WHERE c.label = t.label AND NOT c.treated AND NOT c.networked AND c.status = t.status
      AND c.band = t.band AND abs(c.baseline - t.baseline) <= 0.5
    ORDER BY abs(c.baseline - t.baseline), c.id::text LIMIT 3
  ) m
  WHERE t.treated
  GROUP BY t.label, t.id, t.mean_change, t.lowest_change
),
plan AS (
  SELECT p.label, count(*) FILTER (WHERE x.on_time OR i.due_on < $5) AS counted,
         count(*) FILTER (WHERE x.on_time) AS on_time
  FROM periods p JOIN plan_item i ON i.due_on >= p.s AND i.due_on < p.e
  CROSS JOIN LATERAL (SELECT EXISTS (
    SELECT 1 FROM activity act WHERE act.plan_item_id = i.id AND act.status IN ('held', 'reported')
    AND act.held_on IS NOT NULL AND act.held_on <= i.due_on) AS on_time) x
  WHERE i.network_id IN (SELECT id FROM network WHERE region_code = $1)
  GROUP BY p.label
),
ratings AS (
  SELECT h.label, sum(f.rating) AS total, count(*) AS ratings
  FROM hosted h JOIN feedback f ON f.activity_id = h.id
  WHERE (h.label, h.host_organization_id) IN (SELECT label, id FROM members)
  GROUP BY h.label
),
school_engagement AS (
  SELECT organization_id, count(DISTINCT educator_id) AS educators,
         count(DISTINCT educator_id) FILTER (WHERE attended > 0) AS engaged
  FROM per_educator WHERE label = 'current' GROUP BY organization_id
),
attention AS (
  SELECT s.id FROM supported s
  WHERE s.label = 'current' AND (
    s.id IN (SELECT id FROM reach WHERE label = 'current' AND NOT took_part)
    OR s.id IN (SELECT organization_id FROM school_engagement WHERE engaged < 0.3 * educators)
    OR s.id IN (SELECT organization_id FROM changes
                WHERE label = 'current' AND (mean_change <= -0.2 OR lowest_change >= 0.2))
    OR s.id NOT IN (SELECT organization_id FROM assessment_result WHERE year = $6)
    OR s.id IN (SELECT organization_id FROM deficits
                WHERE label = 'current' AND NOT addressed AND diagnosed_on <= $5::date - 90))
)
SELECT json_build_object(
  'coverage', (SELECT json_object_agg(label, json_build_array(schools, reached)) FROM coverage),
  'kinds', (SELECT json_agg(json_build_array(label, activity_type, processes, pairs, visited)) FROM kinds),
  'engagement', (SELECT json_object_agg(label, json_build_array(educators, engaged, hours)) FROM engagement),
  'activation', (SELECT json_object_agg(label, json_build_array(partners, active)) FROM activation),
  'mobility', (SELECT json_object_agg(label, json_build_array(hours, programmes)) FROM programmes),
  'deficits', (SELECT json_object_agg(label, json_build_array(diagnosed, addressed, pending))
               FROM deficit_figures),
  'treated', (SELECT json_agg(json_build_array(label, id, mean_change, lowest_change, neighbours))
              FROM matched),
  'pool', (SELECT json_agg(json_build_array(s.label, s.id, s.mean_change, s.lowest_change)) FROM sided s
           WHERE EXISTS (SELECT 1 FROM matched m
                         WHERE m.label = s.label AND s.id::text = ANY (m.neighbours))),
  'plan', (SELECT json_object_agg(label, json_build_array(counted, on_time)) FROM plan),
  'ratings', (SELECT json_object_agg(label, json_build_array(total, ratings)) FROM ratings),
  'attention', (SELECT json_agg(id) FROM attention)
)
"""


def _share(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def _mean(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def hand_comparison(figures: dict[str, Any], label: str) -> tuple[effects.Estimate, effects.Estimate]:
    """The results' difference in differences from the hand query's matches: the estimate is the
    query's (the same arithmetic), the interval the same seeded bootstrap the analysis draws
    (:func:`services.analytics.effects.difference_in_differences`, in this process: SQL has no
    such generator), both sides ordered by id as the analysis orders them."""
    treated = sorted((row for row in figures.get("treated") or [] if row[0] == label), key=lambda row: row[1])
    pool = sorted((row for row in figures.get("pool") or [] if row[0] == label), key=lambda row: row[1])
    position = {row[1]: index for index, row in enumerate(pool)}
    neighbours = [[position[ident] for ident in row[4]] for row in treated]
    minimum = AnalysisRules().results_min_schools

    def estimate(column: int) -> effects.Estimate:
        ours = np.array([row[column] for row in treated], dtype=np.float64)
        theirs = np.array([row[column] for row in pool], dtype=np.float64)
        return effects.difference_in_differences(ours, neighbours, theirs, min_schools=minimum)

    return estimate(2), estimate(3)


def hand_values(figures: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    """Each indicator's value by (indicator, period label), from the hand query's figures."""
    values: dict[tuple[str, str], float | None] = {}

    def of(name: str) -> dict[str, Any]:
        return figures.get(name) or {}

    pairs: dict[str, int] = {}
    visited: dict[str, int] = {}
    for label, _type, _processes, count, on_premises in figures.get("kinds") or []:
        pairs[label] = pairs.get(label, 0) + count
        visited[label] = visited.get(label, 0) + on_premises
    comparisons = {label: hand_comparison(figures, label) for label in ("current", "previous")}
    for label in ("current", "previous"):
        schools, reached = of("coverage").get(label, (0, 0))
        educators, engaged, hours_attended = of("engagement").get(label, (0, 0, 0.0))
        partners, active = of("activation").get(label, (0, 0))
        hours, programmes = of("mobility").get(label, (0, 0))
        diagnosed, addressed, pending = of("deficits").get(label, (0, 0, 0))
        counted, on_time = of("plan").get(label, (0, 0))
        total, ratings = of("ratings").get(label, (0, 0))
        values |= {
            ("coverage", label): _share(reached, schools),
            ("activities_per_school", label): _mean(pairs.get(label, 0), schools),
            ("educator_engagement", label): _share(engaged, educators),
            ("hours_per_educator", label): _mean(hours_attended or 0.0, educators),
            ("partner_activation", label): _share(active, partners),
            ("widened_services", label): float(visited.get(label, 0)),
            ("mobility_hours", label): float(hours or 0),
            ("joint_programmes", label): float(programmes or 0),
            ("deficits_addressed", label): _share(addressed, diagnosed - pending),
            ("results_mean_score_did", label): comparisons[label][0].estimate,
            ("results_lowest_mark_did", label): comparisons[label][1].estimate,
            ("plan_on_time", label): _share(on_time, counted),
            ("feedback_rating", label): _mean(total or 0, ratings),
        }
    return values


def differences(analysis: Analysis, figures: dict[str, Any]) -> list[str]:
    """Where the analysis and the hand query disagree (nothing, if they compute the same)."""
    expected = hand_values(figures)
    found: list[str] = []
    for value in analysis.indicators:
        for label, got in (("current", value.value), ("previous", value.previous)):
            want = expected[(value.definition.id, label)]
            if (got is None) != (want is None) or (
                got is not None and want is not None and abs(got - want) > 1e-6 * max(1.0, abs(want))
            ):
                found.append(f"{value.definition.id} ({label}): analysis {got}, hand SQL {want}")
    for value in analysis.indicators:
        if value.comparison is None:
            continue
        mean, lowest = hand_comparison(figures, "current")
        want = mean if value.definition.id == "results_mean_score_did" else lowest
        got = (value.comparison.low, value.comparison.high, value.comparison.supported_schools)
        if got != (want.low, want.high, want.supported_schools) and not (
            None not in (*got[:2], want.low, want.high)
            and abs(got[0] - want.low) < 1e-9  # type: ignore[operator]
            and abs(got[1] - want.high) < 1e-9  # type: ignore[operator]
        ):
            found.append(f"{value.definition.id} interval: analysis {got}, hand {want}")
    flagged = {str(school.organization_id) for school in analysis.schools_needing_attention}
    if flagged != set(figures.get("attention") or []):
        found.append(
            f"schools needing attention: analysis {len(flagged)}, hand SQL {len(figures['attention'])}"
        )
    return found


async def run(
    dbs: ScratchDatabases, *, organizations: int, educators: int, attendance_rows: int, times: int
) -> None:
    print(
        f"\nEffectiveness analysis of the largest region at {organizations:,} organizations, {educators:,} "
        f"educators, {attendance_rows:,} attendance rows (median of {times} runs; reference: the same "
        "figures as one hand-written SQL query over asyncpg)"
    )
    url = await dbs.create("analysis", migrate=False)
    await asyncio.to_thread(migrations.upgrade, ANALYTICS_MIGRATIONS, url, "analytics")
    raw = await asyncpg.connect(url)
    db = Database(url)
    try:
        started = time.perf_counter()
        world = await generate(
            raw, organizations=organizations, educators=educators, attendance=attendance_rows
        )
        loaded = ", ".join(f"{table} {rows:,}" for table, rows in world.counts.items())
        print(f"  generated and loaded in {time.perf_counter() - started:.0f} s: {loaded}")
        region = max(world.regions, key=lambda code: world.regions[code])
        scope, period = Scope(ScopeKind.region, region), Period.year(YEAR)
        previous = period.previous()
        in_region = await raw.fetchval(
            "SELECT count(*) FROM attendance a JOIN organization o ON o.id = a.organization_id"
            " WHERE o.region_code = $1",
            region,
        )
        print(
            f"  region {region}: {world.regions[region]:,} organizations, {in_region:,} attendance rows "
            f"of its organizations; year {YEAR} against {YEAR - 1}"
        )

        async def analysed() -> Analysis:
            async with db.session() as session:
                return await build_analysis(session, scope, period, now=NOW)

        # as the analysis does for its own transaction: JIT compilation of these plans takes
        # longer than running them (seconds for the hand query)
        await raw.execute("SET jit = off")

        async def by_hand() -> dict[str, Any]:
            text = await raw.fetchval(
                HAND_SQL, region, previous.start, period.start, period.end, NOW.date(), YEAR
            )
            return json.loads(text)  # type: ignore[no-any-return]

        analysis, figures = await analysed(), await by_hand()  # also the warm-up
        disagree = differences(analysis, figures)
        print("  figures: " + ("the same in both" if not disagree else "DIFFERENT: " + "; ".join(disagree)))
        ours, reference = [], []
        for _ in range(times):
            started = time.perf_counter()
            await analysed()
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            await by_hand()
            reference.append(time.perf_counter() - started)
        ours.sort()
        reference.sort()
        ours_median, reference_median = ours[len(ours) // 2], reference[len(reference) // 2]
        print(f"    hand SQL, one query        p50 {ms(reference_median)}")
        print(f"    build_analysis             p50 {ms(ours_median)}")
        print(f"    ratio     {ratio(ours_median, reference_median, what='the hand query (p50)')}")
    finally:
        await raw.close()
        await db.dispose()
