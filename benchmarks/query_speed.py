"""The registry's filtered-page queries at scale, next to hand-written SQL on the same data."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
from setka_runtime.db import Database

from services.registry import educators, organizations
from services.registry.demo.bulk import load_national

from .databases import ScratchDatabases
from .timing import Timing, ms, ratio, repeat

PAGE = 20

ORGANIZATION_COLUMNS = (
    "o.id, o.full_name, o.short_name, o.kind, o.region_code, o.municipality, o.inn, o.created_at, "
    "o.archived_at, o.municipality_id, o.ogrn, o.school_code, o.address, o.website, o.email, o.phone, "
    "o.search_text, o.updated_at"
)

RAW_STATUS_PAGE = f"""
SELECT {ORGANIZATION_COLUMNS} FROM organization o
WHERE o.archived_at IS NULL AND o.region_code = $1 AND o.kind = $2
  AND EXISTS (SELECT 1 FROM organization_status s WHERE s.organization_id = o.id AND s.status = $3
              AND s.entered_on <= $4 AND (s.left_on IS NULL OR s.left_on > $4))
ORDER BY o.full_name, o.id LIMIT $5
"""

RAW_SEARCH_PAGE = f"""
SELECT {ORGANIZATION_COLUMNS} FROM organization o
WHERE o.archived_at IS NULL AND o.search_text LIKE $1 AND o.search_text LIKE $2
ORDER BY o.full_name, o.id LIMIT $3
"""

RAW_STAFF_PAGE = """
SELECT e.* FROM educator e
WHERE EXISTS (SELECT 1 FROM employment m WHERE m.educator_id = e.id AND m.organization_id = $1
              AND (m.ended_on IS NULL OR m.ended_on > $2))
ORDER BY e.last_name, e.first_name, e.id LIMIT $3
"""


async def run(dbs: ScratchDatabases, *, organizations_count: int, educators_count: int, times: int) -> None:
    url = await dbs.create("query")
    print(
        f"\nFiltered pages at {organizations_count:,} organizations and {educators_count:,} educators "
        f"(median of {times} runs; reference: the same query as hand-written SQL over asyncpg)"
    )
    db = Database(url)
    raw = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        counts = await load_national(
            db,
            organizations=organizations_count,
            educators=educators_count,
            progress=lambda table, rows: print(f"  loaded {rows:>9,} {table} rows"),
        )
        print(f"  bulk load: {time.perf_counter() - started:.1f} s ({counts})")
        today = date.today()
        school = await raw.fetchval(
            "SELECT organization_id FROM employment GROUP BY organization_id ORDER BY count(*) DESC LIMIT 1"
        )

        async def in_session(query: Callable[[Any], Awaitable[object]]) -> None:
            async with db.session() as session:
                await query(session)

        status_filter = organizations.OrganizationFilter(
            region_code="39", kind="school", status="low_results"
        )
        search_filter = organizations.OrganizationFilter(search="школа № 12")
        cases: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
            (
                "schools of region 39 in the low-results list, page 1",
                lambda: in_session(
                    lambda s: organizations.list_organizations(s, status_filter, first=PAGE, after=None)
                ),
                lambda: raw.fetch(RAW_STATUS_PAGE, "39", "school", "low_results", today, PAGE + 1),
            ),
            (
                "text search «школа № 12» across the country, page 1",
                lambda: in_session(
                    lambda s: organizations.list_organizations(s, search_filter, first=PAGE, after=None)
                ),
                lambda: raw.fetch(RAW_SEARCH_PAGE, "%школа%", "%12%", PAGE + 1),
            ),
            (
                "educators working at the largest organization, page 1",
                lambda: in_session(
                    lambda s: educators.list_educators(
                        s, educators.EducatorFilter(organization_id=school), first=PAGE, after=None
                    )
                ),
                lambda: raw.fetch(RAW_STAFF_PAGE, school, today, PAGE + 1),
            ),
        ]
        for title, registry_query, raw_query in cases:
            ours: Timing = await repeat(registry_query, times=times)
            reference: Timing = await repeat(raw_query, times=times)
            print(f"  {title}")
            print(f"    registry  p50 {ms(ours.median)}  p95 {ms(ours.p95)}")
            print(f"    raw SQL   p50 {ms(reference.median)}  p95 {ms(reference.p95)}")
            print(f"    ratio     {ratio(ours.median, reference.median, what='the raw query (p50)')}")
    finally:
        await raw.close()
        await db.dispose()
