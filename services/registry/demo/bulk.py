"""National-scale synthetic data for benchmarks, written straight into the tables in bulk.

At ~40,000 organizations and ~1,000,000 educators the domain functions (one organization, one
event at a time) would take hours, and a benchmark needs data, not events: rows go in with
PostgreSQL ``COPY`` (or ``executemany`` on SQLite), and no outbox events are recorded. The
derived columns (``search_text``) are computed with the same :func:`rules.search_key` the domain
functions use, so the registry's queries see exactly what they would see after real imports.
Never use this on a registry other services consume: they would not hear of these rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import asyncpg
from setka_runtime.db import Database
from sqlalchemy import Table, insert, text
from sqlalchemy.engine import make_url

from .. import rules
from ..models import (
    Educator,
    Employment,
    Municipality,
    Organization,
    OrganizationStatus,
    Region,
)
from .dataset import DEFAULT_SEED, NATIONAL_REGION_CODES, national_educators, national_organizations

CHUNK = 20_000
MUNICIPALITIES_PER_REGION = 25
_NAMESPACE = uuid.UUID("6f1c1d0e-5e7a-4c55-9a53-2b1f0c0de000")


def _id(kind: str, number: int) -> uuid.UUID:
    """Stable ids, so the same seed and size give the same rows, ids included."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{number}")


@dataclass(frozen=True)
class NationalCounts:
    regions: int
    municipalities: int
    organizations: int
    statuses: int
    educators: int
    employments: int


def _columns(table: Table) -> list[str]:
    return [column.name for column in table.columns]


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


class _Writer:
    """COPY into PostgreSQL, executemany into SQLite; rows are tuples in the table's column order."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pg: asyncpg.Connection | None = None

    async def __aenter__(self) -> _Writer:
        if not self._db.is_sqlite:
            dsn = make_url(self._db.url).set(drivername="postgresql").render_as_string(hide_password=False)
            self._pg = await asyncpg.connect(dsn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pg is not None:
            await self._pg.close()

    async def write(self, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
        columns = _columns(table)
        written = 0
        iterator = iter(rows)
        while batch := list(islice(iterator, CHUNK)):
            if self._pg is not None:
                await self._pg.copy_records_to_table(table.name, records=batch, columns=columns)
            else:
                async with self._db.engine.begin() as connection:
                    await connection.execute(
                        insert(table), [dict(zip(columns, row, strict=True)) for row in batch]
                    )
            written += len(batch)
        return written


def _row(table: Table, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in _columns(table))


async def load_national(
    db: Database,
    *,
    organizations: int,
    educators: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str, int], None] | None = None,
) -> NationalCounts:
    """Write ``organizations`` and ``educators`` synthetic rows (with statuses and employments)."""
    now = datetime.now(UTC)
    region_table, municipality_table = _table(Region), _table(Municipality)
    organization_table, status_table = _table(Organization), _table(OrganizationStatus)
    educator_table, employment_table = _table(Educator), _table(Employment)

    def municipality_id(region: str, district: int) -> uuid.UUID:
        return _id("municipality", int(region) * 100 + district)

    def organization_rows() -> Iterator[tuple[Any, ...]]:
        for org in national_organizations(organizations, seed=seed):
            district = int(org.municipality.split("№ ")[1].split(" ")[0])
            yield _row(
                organization_table,
                {
                    "id": _id("organization", org.number),
                    "full_name": org.full_name,
                    "short_name": org.short_name,
                    "kind": org.kind,
                    "region_code": org.region_code,
                    "municipality": org.municipality,
                    "municipality_id": municipality_id(org.region_code, district),
                    "inn": org.inn,
                    "school_code": org.school_code,
                    "created_at": now,
                    # the same key the domain functions keep (organizations._refresh_search)
                    "search_text": rules.search_key(
                        org.full_name, org.short_name, org.inn, None, org.school_code
                    ),
                },
            )

    def status_rows() -> Iterator[tuple[Any, ...]]:
        # every 7th organization is in the low-results list, every 11th adverse, every 3rd stable
        # (never low and stable at once), so status filters select realistic shares
        for number in range(organizations):
            held: list[str] = []
            if number % 7 == 0:
                held.append("low_results")
            elif number % 3 == 0:
                held.append("stable_results")
            if number % 11 == 0:
                held.append("adverse_social_conditions")
            for status in held:
                yield _row(
                    status_table,
                    {
                        "id": _id(f"status-{status}", number),
                        "organization_id": _id("organization", number),
                        "status": status,
                        "entered_on": date(2021, 1, 15),
                        "recorded_at": now,
                    },
                )

    def educator_rows() -> Iterator[tuple[Any, ...]]:
        for person in national_educators(educators, organizations=max(organizations, 1), seed=seed):
            yield _row(
                educator_table,
                {
                    "id": _id("educator", person.number),
                    "external_id": f"bench-{person.number}",
                    "last_name": person.last_name,
                    "first_name": person.first_name,
                    "middle_name": person.middle_name,
                    "qualification_category": person.qualification_category,
                    "subjects": _json(list(person.subjects), db),
                    "search_text": rules.search_key(person.last_name, person.first_name, person.middle_name),
                    "created_at": now,
                },
            )

    def employment_rows() -> Iterator[tuple[Any, ...]]:
        for person in national_educators(educators, organizations=max(organizations, 1), seed=seed):
            yield _row(
                employment_table,
                {
                    "id": _id("employment", person.number),
                    "educator_id": _id("educator", person.number),
                    "organization_id": _id("organization", person.organization),
                    "position": person.position,
                    "started_on": date(2020, 9, 1),
                },
            )

    regions = NATIONAL_REGION_CODES
    async with _Writer(db) as writer:
        counts = NationalCounts(
            regions=await writer.write(
                region_table,
                (_row(region_table, {"code": c, "name": f"Субъект РФ {c} (демо)"}) for c in regions),
            ),
            municipalities=await writer.write(
                municipality_table,
                (
                    _row(
                        municipality_table,
                        {
                            "id": municipality_id(code, district),
                            "region_code": code,
                            "name": f"Муниципальный район № {district} (демо)",
                        },
                    )
                    for code in regions
                    for district in range(1, MUNICIPALITIES_PER_REGION + 1)
                ),
            ),
            organizations=await _step(writer, organization_table, organization_rows(), progress),
            statuses=await _step(writer, status_table, status_rows(), progress),
            educators=await _step(writer, educator_table, educator_rows(), progress),
            employments=await _step(writer, employment_table, employment_rows(), progress),
        )
    if not db.is_sqlite:
        async with db.engine.begin() as connection:
            for table in (organization_table, status_table, educator_table, employment_table):
                await connection.execute(text(f"ANALYZE {table.name}"))
    return counts


async def _step(
    writer: _Writer,
    table: Table,
    rows: Iterable[tuple[Any, ...]],
    progress: Callable[[str, int], None] | None,
) -> int:
    written = await writer.write(table, rows)
    if progress:
        progress(table.name, written)
    return written


def _json(value: Sequence[str], db: Database) -> Any:
    """COPY takes a JSON column as its text; SQLAlchemy's executemany serializes it itself."""
    return value if db.is_sqlite else json.dumps(value, ensure_ascii=False)
