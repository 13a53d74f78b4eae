"""Import rows per second, next to a raw bulk insert of the same rows measured in the same run."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from setka_runtime.db import Database

from services.registry import rules
from services.registry.demo.dataset import national_educators, national_organizations
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


STAFF_HEADER = ["ФИО", "Должность", "Предметы", "Квалификационная категория", "ИНН ОО", "Табельный номер"]
CATEGORY_WORDS = {
    "highest": "высшая",
    "first": "первая",
    "none": "без категории",
    "methodologist": "педагог-методист",
    "mentor": "педагог-наставник",
}


def write_staff(path: Path, rows: int, organizations: int) -> None:
    inns = [org.inn for org in national_organizations(organizations, seed=11)]
    with path.open("w", encoding="cp1251", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(STAFF_HEADER)
        for person in national_educators(rows, organizations=organizations, seed=11):
            writer.writerow(
                [
                    person.full_name,
                    person.position,
                    "; ".join(person.subjects),
                    CATEGORY_WORDS[person.qualification_category],
                    inns[person.organization],
                    f"T-{person.number:07d}",
                ]
            )


def reference_staff(path: Path, organization_ids: dict[str, uuid.UUID]) -> tuple[list[Any], list[Any]]:
    now = datetime.now(UTC)
    people: list[tuple[Any, ...]] = []
    posts: list[tuple[Any, ...]] = []
    categories = {word: value for value, word in CATEGORY_WORDS.items()}
    with path.open(encoding="cp1251", newline="") as source:
        reader = csv.reader(source, delimiter=";")
        next(reader)
        for full, position, subjects, category, inn, number in reader:
            last, first, middle = full.split(" ", 2)
            ident = uuid.uuid4()
            people.append(
                (ident, number, last, first, middle, categories[category],
                 json.dumps(rules.normalize_subjects(subjects.split(";")), ensure_ascii=False),
                 rules.search_key(last, first, middle), now)
            )  # fmt: skip
            posts.append((uuid.uuid4(), ident, organization_ids[inn], position))
    return people, posts


EDUCATOR_COLUMNS = [
    "id", "external_id", "last_name", "first_name", "middle_name", "qualification_category", "subjects",
    "search_text", "created_at",
]  # fmt: skip
EMPLOYMENT_COLUMNS = ["id", "educator_id", "organization_id", "position"]


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
    source, staff = workdir / "organizations.csv", workdir / "staff.csv"
    write_source(source, rows)
    write_staff(staff, rows, rows)
    print(
        f"\nImport of {rows:,} organizations, then {rows:,} educators working at them, from cp1251 ';' CSV"
        " files (each row through the domain rules, one event each; new organizations registered a"
        " chunk at a time through the batch domain function, educators still a row at a time)"
    )
    db = Database(await dbs.create("import"))
    summaries: list[Any] = []

    def importing(path: Path, kind: ImportKind) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            summaries.append(await import_file(db, path, kind, chunk_size=1000))

        return go

    try:
        organizations_first = await once(importing(source, ImportKind.organizations))
        organizations_again = await once(importing(source, ImportKind.organizations))
        educators_first = await once(importing(staff, ImportKind.educators))
        educators_again = await once(importing(staff, ImportKind.educators))
    finally:
        await db.dispose()
    created = [s.created for s in summaries]
    unchanged = [s.unchanged for s in summaries]
    assert created == [rows, 0, rows, 0] and unchanged == [0, rows, 0, rows], summaries

    copy_url = await dbs.create("copy")
    many_url = await dbs.create("executemany")
    records = reference_records(source)
    people, posts = reference_staff(staff, {record[6]: record[0] for record in records})
    copying = await asyncpg.connect(copy_url)
    inserting = await asyncpg.connect(many_url)

    async def copy_organizations() -> None:
        await copying.copy_records_to_table("organization", records=records, columns=COLUMNS)

    async def copy_staff() -> None:
        await copying.copy_records_to_table("educator", records=people, columns=EDUCATOR_COLUMNS)
        await copying.copy_records_to_table("employment", records=posts, columns=EMPLOYMENT_COLUMNS)

    async def executemany() -> None:
        placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        async with inserting.transaction():
            await inserting.executemany(
                f"INSERT INTO organization ({', '.join(COLUMNS)}) VALUES ({placeholders})", records
            )

    try:
        copied = await once(copy_organizations)
        copied_staff = await once(copy_staff)
        inserted = await once(executemany)
    finally:
        await copying.close()
        await inserting.close()
    print("  organizations")
    print(f"    setka import, first run        {rate(rows, organizations_first)}")
    print(f"    setka import, re-run (no-op)   {rate(rows, organizations_again)}")
    print(f"    reference: COPY                {rate(rows, copied)}")
    print(f"    reference: executemany INSERT  {rate(rows, inserted)}")
    print(f"    import time / COPY time        {ratio(organizations_first, copied, what='slower than COPY')}")
    print(f"    import time / executemany time {ratio(organizations_first, inserted, what='slower')}")
    print(
        f"    re-run time / COPY time        {ratio(organizations_again, copied, what='COPY, re-checking')}"
    )
    print("  educators (with their employment)")
    print(f"    setka import, first run        {rate(rows, educators_first)}")
    print(f"    setka import, re-run (no-op)   {rate(rows, educators_again)}")
    print(f"    reference: COPY (two tables)   {rate(rows, copied_staff)}")
    print(
        f"    import time / COPY time        {ratio(educators_first, copied_staff, what='slower than COPY')}"
    )
    print(
        f"    re-run time / COPY time        {ratio(educators_again, copied_staff, what='COPY, re-checking')}"
    )
