"""The school holidays (каникулы) of each region, which the alert rules do not count.

A region's school year has four breaks: autumn, winter, spring and summer. A regional admin sets
them a school year at a time (``setSchoolBreaks``), an operator loads them from a CSV file or
fills the usual ones (``python -m services.analytics school-breaks``), and the demo seeds the usual
ones for its regions. Setting a year's breaks replaces that year's earlier ones and publishes
``SchoolBreaksSet``, in one transaction.

The usual breaks are those the federal basic educational programmes (ФОП) recommend for the
five-day week, close to what most regions adopt: autumn from 27 October to 4 November, winter
from 29 December to 11 January, spring from 28 March to 5 April, summer from 27 May to 31 August.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from setka_contracts.analytics import BreakKind, SchoolBreaksSet
from setka_contracts.analytics import SchoolBreak as BreakData
from setka_runtime import outbox
from setka_runtime.cli import Command
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from setka_runtime.settings import ServiceSettings
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import SchoolBreak

DEMO_REGIONS = ("39", "08")
"""The regions of the demo (Kaliningrad, Kalmykia), seeded with the usual breaks."""
OPERATOR = "operator"
"""Who set breaks an operator's command or the demo's seed loaded."""
LONGEST_BREAK_DAYS = 120
"""A break longer than this is a mistake (the summer is about 97 days)."""

Span = tuple[date, date]
"""The first and the last day (included) of a break."""


@dataclass(frozen=True)
class Break:
    """One break of a school year, as given (by a person, a file or the defaults)."""

    kind: BreakKind
    starts_on: date
    ends_on: date


def school_year_of(day: date) -> int:
    """The school year a day belongs to, by the year it starts in (1 September to 31 August)."""
    return day.year if day.month >= 9 else day.year - 1


def usual_breaks(school_year: int) -> list[Break]:
    """The usual breaks of a school year (see the module's docstring)."""
    year, next_year = school_year, school_year + 1
    return [
        Break(BreakKind.autumn, date(year, 10, 27), date(year, 11, 4)),
        Break(BreakKind.winter, date(year, 12, 29), date(next_year, 1, 11)),
        Break(BreakKind.spring, date(next_year, 3, 28), date(next_year, 4, 5)),
        Break(BreakKind.summer, date(next_year, 5, 27), date(next_year, 8, 31)),
    ]


BREAK_NAMES: dict[str, str] = {
    BreakKind.autumn: "Осенние",
    BreakKind.winter: "Зимние",
    BreakKind.spring: "Весенние",
    BreakKind.summer: "Летние",
}
"""The breaks as Russians name them, for messages."""


def check_region_code(code: str, *, field: str = "regionCode") -> str:
    value = code.strip()
    if not re.fullmatch(r"\d{2,3}", value):
        raise DomainError(
            "Код региона — двузначный код субъекта РФ, например 39", code="REGION_CODE_FORMAT", field=field
        )
    return value


def check_breaks(school_year: int, breaks: Sequence[Break]) -> list[Break]:
    """The breaks of a school year, by first day; a DomainError names what is wrong: a kind given
    twice, a break that ends before it starts, lasts too long, falls outside the school year
    (1 September to 31 August) or overlaps another."""
    if not 2000 <= school_year <= 2100:
        raise DomainError("Учебный год — от 2000 до 2100", code="YEAR_OUT_OF_RANGE", field="schoolYear")
    first, last = date(school_year, 9, 1), date(school_year + 1, 8, 31)
    kinds = [item.kind for item in breaks]
    if len(set(kinds)) != len(kinds):
        raise DomainError(
            "Каждые каникулы указывают один раз за учебный год", code="BREAK_REPEATED", field="breaks"
        )
    ordered = sorted(breaks, key=lambda item: item.starts_on)
    for item in ordered:
        if item.ends_on < item.starts_on:
            raise DomainError(
                f"{BREAK_NAMES[item.kind]} каникулы заканчиваются раньше, чем начинаются",
                code="END_BEFORE_START",
                field="breaks",
            )
        if (item.ends_on - item.starts_on).days + 1 > LONGEST_BREAK_DAYS:
            raise DomainError(
                f"{BREAK_NAMES[item.kind]} каникулы длиннее {LONGEST_BREAK_DAYS} дней",
                code="BREAK_TOO_LONG",
                field="breaks",
            )
        if item.starts_on < first or item.ends_on > last:
            raise DomainError(
                f"{BREAK_NAMES[item.kind]} каникулы — вне {school_year}/{school_year + 1} учебного года"
                f" ({day(first)} — {day(last)})",
                code="BREAK_OUTSIDE_SCHOOL_YEAR",
                field="breaks",
            )
    for before, after in itertools.pairwise(ordered):
        if after.starts_on <= before.ends_on:
            raise DomainError(
                f"{BREAK_NAMES[before.kind]} и {BREAK_NAMES[after.kind].lower()} каникулы пересекаются",
                code="BREAKS_OVERLAP",
                field="breaks",
            )
    return ordered


async def set_breaks(
    session: AsyncSession,
    region_code: str,
    school_year: int,
    breaks: Sequence[Break],
    *,
    by: str,
    at: datetime,
    source: str,
) -> list[SchoolBreak]:
    """Replace a region's breaks of a school year with ``breaks`` (checked) and publish
    ``SchoolBreaksSet``, in the session's transaction; return the rows."""
    region = check_region_code(region_code)
    ordered = check_breaks(school_year, breaks)
    await session.execute(
        delete(SchoolBreak).where(
            col(SchoolBreak.region_code) == region, col(SchoolBreak.school_year) == school_year
        )
    )
    rows = [
        SchoolBreak(
            region_code=region,
            school_year=school_year,
            kind=item.kind.value,
            starts_on=item.starts_on,
            ends_on=item.ends_on,
            set_by=by,
            set_at=at,
        )
        for item in ordered
    ]
    session.add_all(rows)
    await session.flush()
    await outbox.record(
        session,
        SchoolBreaksSet(
            region_code=region,
            school_year=school_year,
            breaks=[BreakData(kind=i.kind, starts_on=i.starts_on, ends_on=i.ends_on) for i in ordered],
            set_by=by,
            set_at=at,
        ),
        source=source,
    )
    return rows


async def breaks_of(
    session: AsyncSession, region_code: str, school_year: int | None = None
) -> list[SchoolBreak]:
    query = select(SchoolBreak).where(col(SchoolBreak.region_code) == region_code)
    if school_year is not None:
        query = query.where(col(SchoolBreak.school_year) == school_year)
    return list(await session.scalars(query.order_by(col(SchoolBreak.starts_on))))


async def spans_by_region(session: AsyncSession, since: date, until: date) -> dict[str, list[Span]]:
    """Every region's breaks that touch the days from ``since`` to ``until``, by first day."""
    rows = await session.execute(
        select(SchoolBreak.region_code, SchoolBreak.starts_on, SchoolBreak.ends_on)
        .where(col(SchoolBreak.ends_on) >= since, col(SchoolBreak.starts_on) <= until)
        .order_by(col(SchoolBreak.region_code), col(SchoolBreak.starts_on))
    )
    found: dict[str, list[Span]] = {}
    for region, starts_on, ends_on in rows:
        found.setdefault(region, []).append((starts_on, ends_on))
    return found


def school_days_cutoff(today: date, days: int, spans: Iterable[Span]) -> date:
    """The latest day ``c`` such that the days after ``c`` up to ``today`` (included) hold ``days``
    days outside every break: a school whose last activity was on ``c`` or before has gone
    ``days`` school days without one. Without breaks it is ``today - days``."""
    counted, day = 0, today  # school days counted after ``day``; ``day`` is the next to look at
    for starts_on, ends_on in sorted(spans, key=lambda span: span[0], reverse=True):
        if starts_on > day:
            continue  # after the days still to count (a break to come, or one already passed)
        if ends_on < day:
            free = (day - ends_on).days  # the school days after the break, up to ``day``
            if counted + free >= days:
                break
            counted += free
        day = starts_on - timedelta(days=1)
    return day - timedelta(days=days - counted)


async def seed_usual(
    db: Database, regions: Sequence[str], school_years: Iterable[int], *, source: str
) -> int:
    """Set the usual breaks of each region's school years that have none; how many breaks."""
    made = 0
    now = datetime.now(UTC)
    async with db.session() as session, session.begin():
        for region in regions:
            for year in school_years:
                if not await breaks_of(session, region, year):
                    made += len(
                        await set_breaks(
                            session, region, year, usual_breaks(year), by=OPERATOR, at=now, source=source
                        )
                    )
    return made


def _around(today: date) -> range:
    """The school years the rules look at now: the last two and the next one."""
    current = school_year_of(today)
    return range(current - 1, current + 2)


async def seed_demo(db: Database) -> int:
    """The demo's breaks: the usual ones of its regions, for the school years around today."""
    return await seed_usual(db, DEMO_REGIONS, _around(date.today()), source="/setka/analytics")


# -- the operator's command ------------------------------------------------------------------------

CSV_COLUMNS = ("region_code", "school_year", "kind", "starts_on", "ends_on")


def read_csv(path: Path) -> dict[tuple[str, int], list[Break]]:
    """Breaks from a CSV file with the header ``region_code,school_year,kind,starts_on,ends_on``
    (days as YYYY-MM-DD), by region and school year; a ValueError names the faulty line."""
    found: dict[tuple[str, int], list[Break]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ValueError(f"{path}: the header must be {','.join(CSV_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                key = (check_region_code(row["region_code"]), int(row["school_year"]))
                item = Break(
                    BreakKind(row["kind"].strip()),
                    date.fromisoformat(row["starts_on"].strip()),
                    date.fromisoformat(row["ends_on"].strip()),
                )
            except (DomainError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from None
            found.setdefault(key, []).append(item)
    return found


async def load(db: Database, given: dict[tuple[str, int], list[Break]], *, source: str) -> int:
    """Set every region's and school year's breaks from ``given`` in one transaction."""
    now = datetime.now(UTC)
    made = 0
    async with db.session() as session, session.begin():
        for (region, year), breaks in sorted(given.items()):
            try:
                made += len(
                    await set_breaks(session, region, year, breaks, by=OPERATOR, at=now, source=source)
                )
            except DomainError as exc:
                raise ValueError(f"region {region}, school year {year}: {exc.message}") from None
    return made


async def listing(db: Database, region: str | None) -> list[SchoolBreak]:
    async with db.session() as session:
        query = select(SchoolBreak)
        if region:
            query = query.where(col(SchoolBreak.region_code) == region)
        return list(await session.scalars(query.order_by(SchoolBreak.region_code, SchoolBreak.starts_on)))


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    usual = actions.add_parser("usual", help="set the usual breaks of regions' school years that have none")
    usual.add_argument("regions", nargs="+", metavar="REGION", help="region codes, e.g. 39 08")
    usual.add_argument(
        "--years",
        nargs="+",
        type=int,
        metavar="YEAR",
        help="school years by the year they start in (default: the last, this and the next)",
    )
    load_file = actions.add_parser("load", help="set breaks from a CSV file (replacing those school years')")
    load_file.add_argument("file", type=Path, help="columns: " + ",".join(CSV_COLUMNS))
    show = actions.add_parser("list", help="list the breaks")
    show.add_argument("region", nargs="?", help="only this region's")


def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    source = f"/setka/{settings.service_name}"

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            if args.action == "usual":
                years = args.years or _around(date.today())
                regions = [check_region_code(code, field="region") for code in args.regions]
                made = await seed_usual(db, regions, years, source=source)
                print(f"{made} breaks set (school years that had breaks were left as they were)")
            elif args.action == "load":
                made = await load(db, read_csv(args.file), source=source)
                print(f"{made} breaks set from {args.file}")
            else:
                for row in await listing(db, args.region):
                    print(
                        f"{row.region_code}\t{row.school_year}/{row.school_year + 1}\t{row.kind}\t"
                        f"{row.starts_on.isoformat()}\t{row.ends_on.isoformat()}\t{row.set_by}"
                    )
            return 0
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except (ValueError, DomainError, OSError) as exc:
        print(f"nothing changed: {exc}")
        return 1


COMMAND = Command(
    help="the school holidays of each region, which the alert rules do not count: set the usual ones, "
    "load them from a CSV file, list them",
    arguments=_arguments,
    run=_run,
)
