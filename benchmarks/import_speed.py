"""Import rows per second, next to a raw bulk insert of the same rows measured in the same run."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from setka_runtime.db import Database

from services.registry import rules
from services.registry.demo.dataset import national_organizations
from services.registry.importing.cli import import_file
from services.registry.importing.mapping import ImportKind

from .databases import ScratchDatabases
from .timing import once, rate, ratio

HEADER = ["Полное наименование", "Краткое наименование", "Тип ОО", "ИНН", "Код ОО", "Муниципалитет"]
COLUMNS = [
    "id", "full_name", "short_name", "kind", "region_code", "municipality", "inn", "school_code",
    "created_at", "search_text",
]  # fmt: skip


def write_source(path: Path, rows: int) -> None:
    """What an office exports: cp1251, ``;``, Russian headers."""
    with path.open("w", encoding="cp1251", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for org in national_organizations(rows, seed=11):
            writer.writerow(
                [org.full_name, org.short_name, "школа", org.inn, org.school_code, org.municipality]
            )


def reference_records(path: Path) -> list[tuple[Any, ...]]:
    """The same rows as the import would store them, parsed with nothing but ``csv``."""
    now = datetime.now(UTC)
    records: list[tuple[Any, ...]] = []
    with path.open(encoding="cp1251", newline="") as source:
        reader = csv.reader(source, delimiter=";")
        next(reader)
        for full, short, _kind, inn, code, municipality in reader:
            search = rules.search_key(full, short, inn, None, code)
            records.append(
                (uuid.uuid4(), full, short, "school", inn[:2], municipality, inn, code, now, search)
            )
    return records


async def run(dbs: ScratchDatabases, rows: int, workdir: Path) -> None:
    source = workdir / "organizations.csv"
    write_source(source, rows)
    print(f"\nImport of {rows:,} organizations from a cp1251 ';' CSV (each row validated, one event each)")

    db = Database(await dbs.create("import"))
    try:
        summary: list[Any] = []

        async def first() -> None:
            summary.append(await import_file(db, source, ImportKind.organizations, chunk_size=1000))

        async def again() -> None:
            summary.append(await import_file(db, source, ImportKind.organizations, chunk_size=1000))

        imported = await once(first)
        rerun = await once(again)
    finally:
        await db.dispose()
    done, repeated = summary
    assert done.created == rows and repeated.unchanged == rows, (done, repeated)

    copy_url = await dbs.create("copy")
    many_url = await dbs.create("executemany")
    records = reference_records(source)

    copying = await asyncpg.connect(copy_url)
    inserting = await asyncpg.connect(many_url)
    placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))

    async def copy() -> None:
        await copying.copy_records_to_table("organization", records=records, columns=COLUMNS)

    async def executemany() -> None:
        async with inserting.transaction():
            await inserting.executemany(
                f"INSERT INTO organization ({', '.join(COLUMNS)}) VALUES ({placeholders})", records
            )

    try:
        copied = await once(copy)
        inserted = await once(executemany)
    finally:
        await copying.close()
        await inserting.close()
    print(f"  setka import, first run        {rate(rows, imported)}")
    print(f"  setka import, re-run (no-op)   {rate(rows, rerun)}")
    print(f"  reference: COPY                {rate(rows, copied)}")
    print(f"  reference: executemany INSERT  {rate(rows, inserted)}")
    print(f"  import time / COPY time        {ratio(imported, copied, what='slower than COPY')}")
    print(f"  import time / executemany time {ratio(imported, inserted, what='slower than executemany')}")
    print(f"  re-run time / COPY time        {ratio(rerun, copied, what='COPY, re-checking')}")
