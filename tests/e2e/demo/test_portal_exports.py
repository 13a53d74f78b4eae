"""The workspace's lists as files (issue 17), in process over the demo stack, signed in as the demo
people: every list's export opens (openpyxl reads the workbook; the CSV file has the BOM and
``;``), with the same headings in both; an export holds the rows the page's filters find; a cell
that begins like a formula stays text; a viewer's export has no personal data."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import httpx
import pytest
from openpyxl import load_workbook

from tests.e2e.demo.test_portal_plans import (  # noqa: F401 - the module's world fixture
    Browser,
    World,
    coordinator_plans_an_activity,
    options,
    signed_in,
    world,
    zone_for,
)

pytestmark = pytest.mark.integration

Table = list[list[str]]


def read_csv(response: httpx.Response) -> Table:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "the BOM: Excel reads the file as UTF-8"
    text = response.content.decode("utf-8-sig")
    assert ";" in text.splitlines()[0], "cells are split on ';' as Excel in a Russian locale expects"
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def read_xlsx(response: httpx.Response) -> list[list[object]]:
    assert response.status_code == 200, response.text[:500]
    assert "spreadsheetml" in response.headers["content-type"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


async def both(person: Browser, path: str, query: str = "") -> tuple[Table, list[list[object]]]:
    """A list's CSV and XLSX exports (``path``: the list's address)."""
    suffix = f"?{query}" if query else ""
    table = read_csv(await person.get(f"{path}/export.csv{suffix}"))
    sheet = read_xlsx(await person.get(f"{path}/export.xlsx{suffix}"))
    return table, sheet


async def test_every_list_exports_to_xlsx_and_csv_filtered_as_on_screen(world: World) -> None:  # noqa: F811
    async with signed_in(world, "coordinator") as coordinator:
        ids = await coordinator_plans_an_activity(world, coordinator, title="=1+1 Вебинар «по ВПР»")
        start = datetime.now(zone_for("39")) - timedelta(hours=1)  # when the activity started
        network, activity, plan = world.network, ids["activity"], ids["plan"]
        lists = {
            # the list's address: (its page, the filters)
            "/organizations": ("/organizations", ""),
            "/networks": ("/networks", ""),
            f"/networks/{network}/members": (f"/networks/{network}", ""),
            f"/networks/{network}/groups": (f"/networks/{network}/groups", ""),
            "/alerts": ("/alerts", "show=all"),
            "/calendar": ("/calendar", f"month={start:%Y-%m}&network={network}"),
            "/calendar/week": ("/calendar/week", f"week={start:%Y-%m-%d}&network={network}"),
            "/resource-requests": ("/resource-requests", ""),
            "/agreements": ("/agreements", ""),
            "/regulations": ("/regulations", ""),
            "/mobility": ("/mobility", ""),
            f"/plans/{plan}": (f"/plans/{plan}", ""),
            f"/activities/{activity}/registrations": (None, ""),  # offered once someone registers
            "/analysis/attention": (None, f"scope=network&id={network}&year={start.year}"),
        }
        for path, (shown_at, query) in lists.items():
            if shown_at is not None:
                page = await coordinator.get(shown_at + (f"?{query}" if query else ""))
                assert f'href="{path}/export.csv' in page.text, f"{shown_at} offers its export"
            table, sheet = await both(coordinator, path, query)
            headings = [str(v) for v in sheet[5 if path.startswith("/plans/") else 0] if v is not None]
            assert table[0] == headings, f"{path}: the same headings in both"
            assert all(re.search("[а-яА-Я№]", h) for h in table[0]), f"{path}: headed in Russian"

        # filtered as the page: the network's calendar lists the activity, another network's not
        table, sheet = await both(coordinator, "/calendar", lists["/calendar"])
        row = next(r for r in table if r[2] == "'=1+1 Вебинар «по ВПР»")
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row[0]), "a moment as Excel reads one"
        cell = next(r for r in sheet if r[2] == "=1+1 Вебинар «по ВПР»")
        assert isinstance(cell[0], datetime), "a moment is a date in the workbook"
        networks = dict(options((await coordinator.get("/calendar")).text, "calendar-network"))
        other = next(n for n in networks if n and n != world.network)
        table, _ = await both(coordinator, "/calendar", f"month={start:%Y-%m}&network={other}")
        assert all("Вебинар «по ВПР»" not in r[2] for r in table[1:])

        # the organizations the page finds for a search are the rows of the export
        page = await coordinator.get("/organizations?search=СОШ")
        shown = set(re.findall(r'<td><a href="/organizations/[0-9a-f-]+">([^<]+)</a>', page.text))
        table, _ = await both(coordinator, "/organizations", "search=СОШ")
        assert shown and {r[0] for r in table[1:]} == {s.replace("&quot;", '"') for s in shown}

    async with signed_in(world, "school") as school:
        page = await school.get(f"/activities/{ids['activity']}")
        educators = [(v, t) for v, t in options(page.text, "register-educatorId") if v]
        registered = await school.post(
            f"/activities/{ids['activity']}/register",
            {"organizationId": world.school, "educatorId": educators[0][0]},
        )
        assert registered.status_code == 303, registered.text
    name = educators[0][1]

    async with signed_in(world, "coordinator") as coordinator:
        page = await coordinator.get(f"/activities/{ids['activity']}")
        assert f'href="/activities/{ids["activity"]}/registrations/export.csv"' in page.text
        table, _ = await both(coordinator, f"/activities/{ids['activity']}/registrations")
        assert any(name in r[2] for r in table[1:]), "those who may see educators' names export them"

    async with signed_in(world, "viewer") as viewer:
        table, sheet = await both(viewer, f"/activities/{ids['activity']}/registrations")
        assert len(table) == 2 and name not in table[1][2], "a viewer gets no personal data"
        assert name not in str(sheet)
        for path in (f"/networks/{world.network}/groups", "/mobility", "/admin/audit", "/agreements"):
            refused = await viewer.get(f"{path}/export.csv")
            assert refused.status_code == 403, f"{path}: no export of a list the viewer is not shown"
        table, _ = await both(viewer, "/networks")
        assert len(table) > 1

    async with signed_in(world, "admin") as admin:
        table, sheet = await both(admin, "/admin/audit", "operation=registerParticipant")
        assert table[0][0] == "Когда" and all(r[1] == "регистрация участника" for r in table[1:])
        assert len(table) > 1 and isinstance(sheet[1][0], datetime)
        wrong = await admin.get("/admin/audit/export.pdf")
        assert wrong.status_code == 404
