"""Import rows per second, next to a raw bulk insert of the same rows measured in the same run.

Every import kind — organizations, educators (with their posts), network memberships and
municipalities — is timed on its first run (every row new) and on a re-run (every row unchanged),
next to ``executemany`` inserting the same rows into the same tables, and next to ``COPY``."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from setka_contracts.identifiers import inn_check_digit
from setka_runtime.db import Database

from services.registry import networks, organizations, rules
from services.registry.demo.dataset import national_educators, national_organizations
from services.registry.importing.cli import import_file
from services.registry.importing.mapping import ImportKind

from .databases import ScratchDatabases
from .timing import once, rate, ratio, share

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


MEMBERS_HEADER = ["Сеть", "ИНН ОО", "Роль в сети", "Дата вступления"]
NETWORK = "Сеть бенчмарка"
JOINED = date(2021, 9, 1)
AUTHORITY_INN = "398765432" + inn_check_digit("398765432")


def write_members(path: Path, rows: int) -> None:
    """Every organization joins one network as a partner."""
    with path.open("w", encoding="cp1251", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(MEMBERS_HEADER)
        for org in national_organizations(rows, seed=11):
            writer.writerow([NETWORK, org.inn, "партнёр", JOINED.strftime("%d.%m.%Y")])


MUNICIPALITIES_HEADER = ["Код региона", "Регион", "Муниципальное образование", "ОКТМО"]


def municipality_rows(rows: int) -> list[tuple[str, str, str]]:
    """(region code, name, ОКТМО) of ``rows`` municipalities, spread over 80 regions."""
    return [(f"{10 + n % 80:02d}", f"Муниципальный округ № {n} (бенчмарк)", f"{n:08d}") for n in range(rows)]


def write_municipalities(path: Path, rows: int) -> None:
    with path.open("w", encoding="cp1251", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(MUNICIPALITIES_HEADER)
        for code, name, oktmo in municipality_rows(rows):
            writer.writerow([code, f"Регион {code} (бенчмарк)", name, oktmo])


async def a_network(db: Database) -> uuid.UUID:
    """The network the memberships file names, under an education authority of its own."""
    async with db.session() as session, session.begin():
        authority = await organizations.register_organization(
            session,
            organizations.RegisterOrganization(
                full_name="Министерство образования (бенчмарк)",
                short_name="Минобр (бенчмарк)",
                kind="education_authority",
                region_code="39",
                inn=AUTHORITY_INN,
            ),
        )
        network = await networks.create_network(
            session,
            networks.CreateNetwork(
                name=NETWORK,
                level="regional",
                region_code="39",
                governing_body_id=authority.id,
                started_on=date(2020, 1, 1),
            ),
        )
        return network.id


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
    members, places = workdir / "members.csv", workdir / "municipalities.csv"
    write_source(source, rows)
    write_staff(staff, rows, rows)
    write_members(members, rows)
    write_municipalities(places, rows)
    print(
        f"\nImport of {rows:,} organizations, then {rows:,} educators working at them, {rows:,} network"
        f" memberships of them and {rows:,} municipalities, from cp1251 ';' CSV files (each row through"
        " the domain rules, one event per aggregate; new rows registered a chunk at a time through the"
        " batch domain functions)"
    )
    db = Database(await dbs.create("import"))
    summaries: list[Any] = []

    def importing(path: Path, kind: ImportKind) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            summaries.append(await import_file(db, path, kind, chunk_size=1000))

        return go

    first: dict[ImportKind, float] = {}
    again: dict[ImportKind, float] = {}
    try:
        for kind, path in (
            (ImportKind.organizations, source),
            (ImportKind.educators, staff),
            (ImportKind.memberships, members),
            (ImportKind.municipalities, places),
        ):
            if kind == ImportKind.memberships:
                await a_network(db)
            first[kind] = await once(importing(path, kind))
            again[kind] = await once(importing(path, kind))
    finally:
        await db.dispose()
    created = [s.created for s in summaries]
    unchanged = [s.unchanged for s in summaries]
    assert created == [rows, 0] * 4 and unchanged == [0, rows] * 4, summaries

    copy_url = await dbs.create("copy")
    many_url = await dbs.create("executemany")
    records = reference_records(source)
    organization_ids = {record[6]: record[0] for record in records}
    people, posts = reference_staff(staff, organization_ids)
    copying = await asyncpg.connect(copy_url)
    inserting = await asyncpg.connect(many_url)

    async def copy_organizations() -> None:
        await copying.copy_records_to_table("organization", records=records, columns=COLUMNS)

    async def copy_staff() -> None:
        await copying.copy_records_to_table("educator", records=people, columns=EDUCATOR_COLUMNS)
        await copying.copy_records_to_table("employment", records=posts, columns=EMPLOYMENT_COLUMNS)

    def values(columns: list[str]) -> str:
        return ", ".join(f"${i}" for i in range(1, len(columns) + 1))

    async def executemany() -> None:
        async with inserting.transaction():
            await inserting.executemany(
                f"INSERT INTO organization ({', '.join(COLUMNS)}) VALUES ({values(COLUMNS)})", records
            )

    async def executemany_staff() -> None:
        async with inserting.transaction():
            await inserting.executemany(
                f"INSERT INTO educator ({', '.join(EDUCATOR_COLUMNS)}) VALUES ({values(EDUCATOR_COLUMNS)})",
                people,
            )
            await inserting.executemany(
                f"INSERT INTO employment ({', '.join(EMPLOYMENT_COLUMNS)})"
                f" VALUES ({values(EMPLOYMENT_COLUMNS)})",
                posts,
            )

    try:
        copied = await once(copy_organizations)
        copied_staff = await once(copy_staff)
        inserted = await once(executemany)
        inserted_staff = await once(executemany_staff)
        reference_db = Database(many_url)
        try:
            network_id = await a_network(reference_db)
        finally:
            await reference_db.dispose()
        memberships = [
            (uuid.uuid4(), network_id, organization_ids[org.inn], "partner", JOINED)
            for org in national_organizations(rows, seed=11)
        ]

        async def executemany_members() -> None:
            async with inserting.transaction():
                await inserting.executemany(
                    "INSERT INTO membership (id, network_id, organization_id, role, joined_on)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    memberships,
                )

        regions = sorted({code for code, _, _ in municipality_rows(rows)})
        await inserting.executemany(
            "INSERT INTO region (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(code, f"Регион {code} (бенчмарк)") for code in regions],
        )
        places_rows = [(uuid.uuid4(), code, name, oktmo) for code, name, oktmo in municipality_rows(rows)]

        async def executemany_places() -> None:
            async with inserting.transaction():
                await inserting.executemany(
                    "INSERT INTO municipality (id, region_code, name, oktmo) VALUES ($1, $2, $3, $4)",
                    places_rows,
                )

        inserted_members = await once(executemany_members)
        inserted_places = await once(executemany_places)
    finally:
        await copying.close()
        await inserting.close()
    references = {
        ImportKind.organizations: inserted,
        ImportKind.educators: inserted_staff,
        ImportKind.memberships: inserted_members,
        ImportKind.municipalities: inserted_places,
    }
    copies = {ImportKind.organizations: copied, ImportKind.educators: copied_staff}
    titles = {
        ImportKind.organizations: "organizations",
        ImportKind.educators: "educators (with their employment: two tables)",
        ImportKind.memberships: "network memberships",
        ImportKind.municipalities: "municipalities",
    }
    for kind, title in titles.items():
        print(f"  {title}")
        print(f"    setka import, first run        {rate(rows, first[kind])}")
        print(f"    setka import, re-run (no-op)   {rate(rows, again[kind])}")
        print(f"    reference: executemany INSERT  {rate(rows, references[kind])}")
        if kind in copies:
            print(f"    reference: COPY                {rate(rows, copies[kind])}")
        print(
            "    first run: "
            + share(references[kind], first[kind], of="executemany's", goal=20)
            + "; re-run: "
            + share(references[kind], again[kind], of="executemany's")
        )
        if kind in copies:
            slower = ratio(first[kind], copies[kind], what="slower than COPY")
            print(f"    import time / COPY time        {slower}")
