"""Importing a file through the registry's API (``importFile``) on real PostgreSQL: the line
report of a file with good and bad rows, a dry run that writes nothing, a regional admin's rows
about another region refused by line, an XLSX workbook, the limits, who may do it, and the
audit entry that names the kind and the rows."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openpyxl import Workbook
from setka_contracts import topics
from setka_contracts.registry import FileImported
from setka_runtime.access import ALL_REGIONS, Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from services.registry.models import Organization
from services.registry.schema import schema

pytestmark = pytest.mark.integration

WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)

KALININGRAD = Identity(subject="admin-39", roles=frozenset({Role.regional_admin}), region_code="39")
EVERYWHERE = Identity(subject="admin-all", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)
COORDINATOR = Identity(
    subject="coordinator",
    roles=frozenset({Role.municipal_coordinator}),
    municipality_id="00000000-0000-0000-0000-000000000001",
)
SCHOOL = Identity(
    subject="school",
    roles=frozenset({Role.school_representative}),
    organization_id="00000000-0000-0000-0000-000000000002",
)

IMPORT = """mutation($kind: ImportKind!, $name: String!, $content: String!, $dry: Boolean) {
  importFile(kind: $kind, fileName: $name, contentBase64: $content, dryRun: $dry) {
    __typename
    ... on ImportReport { kind dryRun rowsRead accepted created updated unchanged rejected limitedToRegion
      rejectedRows { line column field code message key } }
    ... on ValidationError { field code message }
  }
}"""

HEADER = ["Полное наименование", "Тип ОО", "ИНН", "Код региона"]


def inn(region: str, number: int) -> str:
    body = f"{region}{number:07d}"
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


def broken(number: str) -> str:
    """The same ИНН with a wrong check digit."""
    return number[:9] + str((int(number[9]) + 1) % 10)


ROWS = [
    ["МБОУ СОШ № 1 г. Калининграда", "школа", inn("39", 1), "39"],  # line 2
    ["МБОУ СОШ № 2 г. Калининграда", "школа", broken(inn("39", 2)), "39"],  # line 3: bad ИНН
    ["МБОУ Гимназия № 5 г. Подольска", "школа", inn("50", 3), "50"],  # line 4: another region
    ["МАОУ Лицей № 18 г. Калининграда", "школа", inn("39", 4), "39"],  # line 5
]


def csv_file(rows: list[list[str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return base64.b64encode(text.getvalue().encode("utf-8")).decode()


def xlsx_file(rows: list[list[str]]) -> str:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return base64.b64encode(out.getvalue()).decode()


@pytest.fixture
async def registry(databases: Any) -> AsyncIterator[Database]:
    db = Database(databases.create("registry", migrate="registry"))
    yield db
    await db.dispose()


async def run(db: Database, who: Identity, variables: dict[str, Any], **context: Any) -> Any:
    return await schema.execute(
        IMPORT,
        variable_values=variables,
        context_value={"db": db, "identity": who, "service_name": "registry", **context},
    )


async def report(db: Database, who: Identity, variables: dict[str, Any], **context: Any) -> dict[str, Any]:
    result = await run(db, who, variables, **context)
    assert not result.errors, result.errors
    return result.data["importFile"]


async def organizations(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Organization)) or 0)


async def outbox_rows(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(outbox.c.topic, outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
        )
        return [(topic, kind, payload) for topic, kind, payload in rows.all()]


async def test_a_regional_admin_gets_the_line_report_and_only_their_region_is_written(
    registry: Database,
) -> None:
    variables = {"kind": "organizations", "name": "школы.csv", "content": csv_file(ROWS)}

    dry = await report(registry, KALININGRAD, {**variables, "dry": True})

    assert dry["__typename"] == "ImportReport" and dry["dryRun"] is True
    assert (dry["rowsRead"], dry["accepted"], dry["rejected"]) == (4, 2, 2)
    assert await organizations(registry) == 0 and await outbox_rows(registry) == [], (
        "a dry run writes nothing"
    )

    done = await report(registry, KALININGRAD, variables)

    assert (done["rowsRead"], done["accepted"], done["created"], done["rejected"]) == (4, 2, 2, 2)
    assert done["limitedToRegion"] == "39"
    bad_inn, elsewhere = done["rejectedRows"]
    assert (bad_inn["line"], bad_inn["column"], bad_inn["field"]) == (3, "ИНН", "inn")
    assert "ИНН" in bad_inn["message"] and bad_inn["code"]
    assert (elsewhere["line"], elsewhere["code"], elsewhere["column"]) == (4, "OUTSIDE_REGION", "Код региона")
    assert "региона 50" in elsewhere["message"] and "39" in elsewhere["message"]
    assert await organizations(registry) == 2

    rows = await outbox_rows(registry)
    audits = [json.loads(payload) for topic, _, payload in rows if topic == topics.AUDIT]
    # The rows' chunk (its events: organization.registered ×2) and the file as a whole, both the person's.
    chunks = [a for a in audits if a["operation"] == "import"]
    assert [a["subject"] for a in chunks] == ["admin-39"]
    assert (
        sorted(e["event_type"] for e in chunks[0]["events"]).count(
            "setka.registry.organization.registered.v1"
        )
        == 2
    )
    (entry,) = [a for a in audits if a["operation"] == "importFile"]
    assert entry["subject"] == "admin-39"
    assert entry["region_code"] == "39"
    (event,) = entry["events"]
    assert event["event_type"] == FileImported.event_type
    assert event["note"].startswith("организации: прочитано строк 4, принято 2")
    assert "отклонено 2" in event["note"]
    (imported,) = [json.loads(p) for _, kind, p in rows if kind == FileImported.event_type]
    assert (imported["kind"], imported["rows_read"], imported["created"], imported["rejected"]) == (
        "organizations",
        4,
        2,
        2,
    )

    again = await report(registry, KALININGRAD, variables)
    assert (again["created"], again["unchanged"], again["rejected"]) == (0, 2, 2), "a re-run changes nothing"


async def test_an_admin_of_every_region_imports_an_xlsx_workbook_with_every_region(
    registry: Database,
) -> None:
    done = await report(
        registry,
        EVERYWHERE,
        {"kind": "organizations", "name": "Реестр.XLSX", "content": xlsx_file(ROWS)},
    )

    assert (done["rowsRead"], done["created"], done["rejected"]) == (4, 3, 1)
    assert [r["line"] for r in done["rejectedRows"]] == [3]
    assert done["limitedToRegion"] is None
    assert await organizations(registry) == 3


@pytest.mark.parametrize(
    ("name", "content", "code", "words"),
    [
        ("школы.csv", "это не base64!", "INVALID_BASE64", "base64"),
        ("школы.pdf", base64.b64encode(b"%PDF-1.4").decode(), "UNKNOWN_FORMAT", ".pdf"),
        ("школы.xlsx", base64.b64encode(b"not a workbook").decode(), "FILE_UNREADABLE", "XLSX"),
        (
            "школы.csv",
            base64.b64encode("Столбец;Другой\n1;2\n".encode()).decode(),
            "HEADER_UNMAPPABLE",
            "нет столбца",
        ),
        ("школы.csv", base64.b64encode(b"x" * 2001).decode(), "FILE_TOO_LARGE", "0,002 МБ"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_refused_clearly_and_nothing_is_written(
    registry: Database, name: str, content: str, code: str, words: str
) -> None:
    refused = await report(
        registry,
        KALININGRAD,
        {"kind": "organizations", "name": name, "content": content},
        import_max_bytes=2000,
    )

    assert refused["__typename"] == "ValidationError"
    assert refused["code"] == code and words in refused["message"], refused
    assert await outbox_rows(registry) == []


@pytest.mark.parametrize("who", [COORDINATOR, SCHOOL, Identity()], ids=["coordinator", "school", "anonymous"])
async def test_nobody_but_an_admin_imports(registry: Database, who: Identity) -> None:
    result = await run(registry, who, {"kind": "organizations", "name": "a.csv", "content": csv_file(ROWS)})

    assert result.errors
    assert {e.extensions["code"] for e in result.errors} <= {"FORBIDDEN", "UNAUTHENTICATED"}
    assert await organizations(registry) == 0 and await outbox_rows(registry) == []
