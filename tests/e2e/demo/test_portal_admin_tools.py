"""The regional admin's tools in the workspace (issue 17), in process, over the demo stack: the
admin checks a CSV file with one bad row and reads its line number in the report; a region's
system sends a fact that is refused and the dead-letter page counts it by reason; a school's
representative gets neither page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from setka_contracts import CloudEvent, topics

from deploy.local_stack import Stack
from tests.e2e.demo.test_portal_plans import (  # noqa: F401 - the module's world fixture
    World,
    signed_in,
    world,
)
from tests.helpers import eventually, produce

pytestmark = pytest.mark.integration

WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn(body: str) -> str:
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


def schools_file() -> bytes:
    good = inn(f"39{uuid.uuid4().int % 10**7:07d}")
    bad = good[:9] + str((int(good[9]) + 1) % 10)  # a wrong check digit
    return (
        "Полное наименование;Тип ОО;ИНН;Код региона\n"
        f"МБОУ СОШ № 101 (проверка загрузки);школа;{good};39\n"
        f"МБОУ СОШ № 102 (проверка загрузки);школа;{bad};39\n"
    ).encode()


async def test_a_regional_admin_checks_a_file_and_sees_the_bad_rows_line(world: World) -> None:  # noqa: F811
    async with signed_in(world, "admin") as admin:
        index = await admin.get("/admin")
        assert 'href="/admin/imports"' in index.text and 'href="/admin/dead-letters"' in index.text
        assert "пока недоступн" not in index.text
        page = await admin.get("/admin/imports")
        assert page.status_code == 200
        assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text

        checked = await admin.client.post(
            "/admin/imports",
            data={"csrf": admin.csrf, "kind": "organizations", "dryRun": "on"},
            files={"file": ("школы.csv", schools_file(), "text/csv")},
        )

        assert checked.status_code == 200, checked.text
        assert "ничего не записано" in checked.text
        assert "Прочитано строк: 2" in checked.text and "отклонено: 1" in checked.text
        rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td>", checked.text)
        assert [(line, column) for line, column, _ in rows] == [("3", "ИНН")]
        assert "ИНН" in rows[0][2]

        forged = await admin.client.post(
            "/admin/imports",
            data={"csrf": "not-the-token", "kind": "organizations"},
            files={"file": ("школы.csv", schools_file(), "text/csv")},
        )
        assert forged.status_code == 400 and "Страница устарела" in forged.text
        assert "Прочитано строк" not in forged.text


async def test_the_dead_letter_page_counts_a_refused_fact_by_reason(
    world: World,  # noqa: F811
    demo_stack: Stack,
) -> None:
    refused = CloudEvent(
        type="setka.regional.assessment.published.v1",
        source="/regional/admin-tools-test",
        id=str(uuid.uuid4()),
        data={
            "source_system": "admin-tools-test",
            "external_id": f"R-{uuid.uuid4()}",
            "organization": {"id": world.school},
            "procedure": "vpr",
            "subject": "математика",
            "grade": 5,
            "year": 2026,
            "participants": 20,
            "mean_score": 3.5,
            "mark_shares": {"2": 0.5, "3": 0.2},  # does not sum to 1: the contract refuses it
            "recorded_at": datetime.now(UTC).isoformat(),
        },
    )
    bootstrap = f"127.0.0.1:{demo_stack.ports['kafka']}"
    await produce(bootstrap, topics.REGIONAL_ASSESSMENTS, [(b"R", refused.body(), refused.headers())])

    async with signed_in(world, "admin") as admin:

        async def counted() -> str | None:
            page = await admin.get("/admin/dead-letters?period=1")
            assert page.status_code == 200, page.text
            return page.text if "does not match setka.regional.assessment.published.vN" in page.text else None

        page = await eventually(counted, timeout=60, interval=1)
        assert "Недоставленные сообщения региона 39 за сутки" in page
        assert "/regional/admin-tools-test" in page, "the sending system is named"
        assert "Регион не определён" not in page, "a regional admin sees only their region's"

        bad_period = await admin.get("/admin/dead-letters?period=forever")
        assert bad_period.status_code == 400 and "Выберите период из списка" in bad_period.text


async def test_a_school_representative_gets_neither_page(world: World) -> None:  # noqa: F811
    async with signed_in(world, "school") as school:
        for path in ("/admin/imports", "/admin/dead-letters"):
            page = await school.get(path)
            assert page.status_code == 403, path
            assert "Загрузить" not in page.text and "Недоставленные сообщения региона" not in page.text
        posted = await school.client.post(
            "/admin/imports",
            data={"csrf": school.csrf, "kind": "organizations"},
            files={"file": ("школы.csv", schools_file(), "text/csv")},
        )
        assert posted.status_code == 403
        assert "Прочитано строк" not in posted.text
