"""The workspace's plans, calendar and activity pages, in process, over a real gateway and services
(the demo stack: real processes, SQLite, the local broker), signed in as the demo people.

A coordinator drafts a plan, adds an item, agrees it, plans an activity from the item and
announces it; a school's representative registers their school and an educator and records
their attendance on the sign-in sheet; a refused form shows the API's message at its input; the
network's iCalendar feed and the plan's workbook are read back."""

from __future__ import annotations

import contextlib
import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from deploy.local_stack import Stack
from portal.app import create_app
from portal.pages.auth import demo_people
from portal.pages.plans import zone_for
from portal.settings import PortalSettings
from tests.helpers import eventually

pytestmark = pytest.mark.integration


class Browser:
    """A person at the workspace: a cookie jar, the page's CSRF token, forms sent as browsers do."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def get(self, path: str) -> httpx.Response:
        response = await self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found[1]
        return response

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        response = await self.client.post(path, data={"csrf": self.csrf, **data})
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found[1]
        return response


@dataclass
class World:
    app: Any
    network: str
    school: str
    """The demo school representative's organization (a supported member of the network)."""
    host: str
    """Another member of the network, which hosts the activities."""


def text(page: str, element_id: str) -> str:
    """The text of the element with this id (one inner span allowed, as an error has; tags dropped)."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>((?:<span[^>]*>[^<]*</span>)?[^<]*)', page)
    assert found, f"no #{element_id} on the page"
    return html.unescape(re.sub(r"<[^>]+>", "", found[1])).strip()


def value_of(page: str, element_id: str) -> str:
    found = re.search(
        rf'<(?:input|textarea)[^>]*id="{re.escape(element_id)}"[^>]*?(?:value="([^"]*)"|>([^<]*))', page
    )
    assert found, f"no input #{element_id} on the page"
    return html.unescape(found[1] if found[1] is not None else found[2])


def options(page: str, select_id: str) -> list[tuple[str, str]]:
    found = re.search(rf'<select[^>]*id="{re.escape(select_id)}".*?</select>', page, re.S)
    assert found, f"no select #{select_id} on the page"
    return [
        (v, html.unescape(t))
        for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found[0])
    ]


@pytest.fixture(scope="module")
async def world(demo_stack: Stack) -> AsyncIterator[World]:
    settings = PortalSettings(
        gateway_url=f"http://127.0.0.1:{demo_stack.ports['gateway']}",
        environment="development",
        host="127.0.0.1",
        port=8010,
        demo_sign_in=True,
        oidc_issuer=None,
    )
    app = create_app(settings)
    portal = app.state.portal

    async def demo_loaded() -> tuple[dict[str, Any], str] | None:
        people = {p["key"]: p for p in await demo_people(portal)}
        if "school" not in people or "coordinator" not in people:
            return None
        # the school's network: the first municipal one with supported members
        data = await portal.gateway.run("DemoPeople")
        network = next(
            e["node"]
            for e in data["networks"]["edges"]
            if e["node"]["municipalityId"] and e["node"]["members"]
        )
        plans = await portal.gateway.run("NetworkPlans", {"id": network["id"]})
        return (people, network["id"]) if plans["network"]["plans"] else None  # the events demo is in

    people, network = await eventually(demo_loaded, timeout=120, interval=1)
    school = people["school"]["org"]
    listed = await portal.gateway.run("Network", {"id": network})
    host = next(
        m["organization"]["id"]
        for m in listed["network"]["members"]
        if m["organization"]["id"] != school and m["role"] in ("centre", "partner")
    )
    yield World(app=app, network=network, school=school, host=host)
    await portal.gateway.http.aclose()


@contextlib.asynccontextmanager
async def signed_in(world: World, who: str) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8010") as client:
        person = Browser(client)
        await person.get("/sign-in")
        signed = await person.post("/sign-in/demo", {"person": who, "next": "/"})
        assert signed.status_code == 303, signed.text
        await person.get("/plans")
        yield person


async def coordinator_plans_an_activity(world: World, coordinator: Browser, *, title: str) -> dict[str, str]:
    """Through the pages: a draft plan for the network's next free year, one item given to the
    host, agreed; an activity planned from the item (started an hour ago, ends in two) and
    announced. Returns the ids."""
    page = await coordinator.get(f"/networks/{world.network}/plans")
    assert page.status_code == 200
    year = value_of(page.text, "draft-year")
    drafted = await coordinator.post(
        f"/networks/{world.network}/plans", {"year": year, "title": f"Совместный план на {year} год"}
    )
    assert drafted.status_code == 303, text(drafted.text, "draft-summary")
    plan = drafted.headers["location"].rsplit("/", 1)[-1]

    added = await coordinator.post(
        f"/plans/{plan}/items",
        {
            "title": title,
            "dueOn": f"{year}-06-15",
            "responsibleOrganizationId": world.host,
            "responsiblePerson": "заместитель директора по УВР",
            "expectedResult": "Методические материалы",
        },
    )
    assert added.status_code == 303, added.text
    agreed = await coordinator.post(f"/plans/{plan}/status", {"to": "agreed"})
    assert agreed.status_code == 303, agreed.text
    page = await coordinator.get(f"/plans/{plan}")
    assert "План теперь: согласован" in page.text
    item = re.search(rf"/plans/{plan}/items/([0-9a-f-]+)/activity", page.text)
    assert item, "an editor is offered to plan an activity from the item"

    form = await coordinator.get(f"/plans/{plan}/items/{item[1]}/activity")
    assert form.status_code == 200
    assert value_of(form.text, "plan-title") == title, "the item's title is offered"
    assert world.host in dict(options(form.text, "plan-hostOrganizationId")), "a member hosts it"
    now = datetime.now(zone_for("39")).replace(second=0, microsecond=0)  # the coordinator's clock
    planned = await coordinator.post(
        f"/plans/{plan}/items/{item[1]}/activity",
        {
            "title": title,
            "activityType": "seminar",
            "format": "in_person",
            "process-experience_exchange": "on",
            "hostOrganizationId": world.host,
            "startsAt": f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "endsAt": f"{now + timedelta(hours=2):%Y-%m-%dT%H:%M}",
            "location": "Актовый зал; корпус 2, этаж 3",
            "capacity": "30",
        },
    )
    assert planned.status_code == 303, planned.text
    activity = planned.headers["location"].rsplit("/", 1)[-1]
    announced = await coordinator.post(f"/activities/{activity}/announce", {})
    assert announced.status_code == 303, announced.text
    return {"plan": plan, "item": item[1], "activity": activity, "year": year}


async def test_a_coordinator_drafts_and_agrees_a_plan_then_plans_and_announces_an_activity(
    world: World,
) -> None:
    async with signed_in(world, "coordinator") as coordinator:
        ids = await coordinator_plans_an_activity(world, coordinator, title="Семинар «Смысловое чтение»")

        page = await coordinator.get(f"/activities/{ids['activity']}")
        assert page.status_code == 200
        assert "объявлено" in page.text and "Семинар «Смысловое чтение»" in page.text
        assert "Объявить" not in page.text, "announced once"

        plan = await coordinator.get(f"/plans/{ids['plan']}")
        assert f"/activities/{ids['activity']}" in plan.text, "the item lists its activity"
        assert "Добавить пункт" not in plan.text, "items are added to a draft only"
        assert "Начать выполнение" in plan.text

        network = await coordinator.get(f"/networks/{world.network}/plans")
        assert f"/plans/{ids['plan']}" in network.text

        start = datetime.now(zone_for("39")) - timedelta(hours=1)  # when the activity started
        month = await coordinator.get(f"/calendar?month={start:%Y-%m}&network={world.network}")
        assert month.status_code == 200 and f"/activities/{ids['activity']}" in month.text
        week = await coordinator.get(f"/calendar/week?week={start:%Y-%m-%d}&network={world.network}")
        assert week.status_code == 200 and f"/activities/{ids['activity']}" in week.text

    async with signed_in(world, "viewer") as viewer:
        plan = await viewer.get(f"/plans/{ids['plan']}")
        assert plan.status_code == 200
        assert "Начать выполнение" not in plan.text and "Запланировать мероприятие" not in plan.text
        network = await viewer.get(f"/networks/{world.network}/plans")
        assert "Составить план" not in network.text, "what a role may not do is not offered"


async def test_a_school_registers_and_records_attendance_on_the_sheet(world: World) -> None:
    async with signed_in(world, "coordinator") as coordinator:
        ids = await coordinator_plans_an_activity(world, coordinator, title="Мастер-класс для школ")
    activity = ids["activity"]

    async with signed_in(world, "school") as school:
        page = await school.get(f"/activities/{activity}")
        assert f'name="organizationId" value="{world.school}"' in page.text
        assert "Отметить проведённым" not in page.text, "the host's side holds it, not a participant"
        whole = await school.post(
            f"/activities/{activity}/register", {"organizationId": world.school, "educatorId": ""}
        )
        assert whole.status_code == 303, whole.text
        page = await school.get(f"/activities/{activity}")
        assert "Организация записана на мероприятие" in page.text
        educators = [(v, t) for v, t in options(page.text, "register-educatorId") if v]
        assert educators, "a school's representative chooses from the school's educators"
        one = await school.post(
            f"/activities/{activity}/register",
            {"organizationId": world.school, "educatorId": educators[0][0]},
        )
        assert one.status_code == 303, one.text
        page = await school.get(f"/activities/{activity}")
        assert educators[0][1] in page.text and "Записались (2)" in page.text

    async with signed_in(world, "coordinator") as coordinator:
        held = await coordinator.post(f"/activities/{activity}/hold", {})
        assert held.status_code == 303, held.text

    async with signed_in(world, "school") as school:
        page = await school.get(f"/activities/{activity}")
        rows = re.findall(r'name="(hours-[0-9a-f-]+)"', page.text)
        assert len(rows) == 2, "a row for each registration"
        refused = await school.post(f"/activities/{activity}/attendance", {rows[0]: "1,5", rows[1]: "99"})
        assert refused.status_code == 400
        assert "Больше, чем длилось мероприятие (3 ч)" in text(refused.text, f"attendance-{rows[1]}-error")
        assert value_of(refused.text, f"attendance-{rows[1]}") == "99", "what was entered stays"
        assert "Записано строк: 1 из 2" in refused.text

        recorded = await school.post(f"/activities/{activity}/attendance", {rows[0]: "1,5", rows[1]: "2"})
        assert recorded.status_code == 303, recorded.text
        page = await school.get(f"/activities/{activity}")
        assert "Посещаемость записана: строк — 2" in page.text
        assert value_of(page.text, f"attendance-{rows[0]}") == "1,50"
        assert value_of(page.text, f"attendance-{rows[1]}") == "2,00"
        assert "Посещаемость: 3,50 ч" in page.text

        rated = await school.post(f"/activities/{activity}/feedback", {"rating": "5", "comment": "Полезно"})
        assert rated.status_code == 303, rated.text
        page = await school.get(f"/activities/{activity}")
        assert "5 из 5" in page.text and "Полезно" in page.text


async def test_a_refused_form_shows_the_apis_message_at_its_input(world: World) -> None:
    async with signed_in(world, "coordinator") as coordinator:
        page = await coordinator.get(f"/networks/{world.network}/plans")
        taken = re.search(r"<td>(\d{4})</td>", page.text)
        assert taken, "the demo network has a plan"
        refused = await coordinator.post(
            f"/networks/{world.network}/plans", {"year": taken[1], "title": "Ещё один план"}
        )
        assert refused.status_code == 400
        assert text(refused.text, "draft-year-error") == f"Ошибка: У сети уже есть план на {taken[1]} год"
        assert value_of(refused.text, "draft-title") == "Ещё один план"

        year = value_of(page.text, "draft-year")
        drafted = await coordinator.post(
            f"/networks/{world.network}/plans", {"year": year, "title": "Черновик"}
        )
        assert drafted.status_code == 303
        plan = drafted.headers["location"].rsplit("/", 1)[-1]
        refused = await coordinator.post(
            f"/plans/{plan}/items", {"title": "Вебинар по ВПР", "dueOn": f"{int(year) - 1}-03-01"}
        )
        assert refused.status_code == 400
        assert text(refused.text, "item-dueOn-error") == f"Ошибка: Срок пункта должен быть в {year} году"
        assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="item-dueOn"[^>]*>', refused.text)[0]
        assert value_of(refused.text, "item-title") == "Вебинар по ВПР"
        assert value_of(refused.text, "item-dueOn") == f"{int(year) - 1}-03-01"
        assert f'href="#item-dueOn">Срок пункта должен быть в {year} году' in refused.text, (
            "the summary links to it"
        )

        empty = await coordinator.post(f"/plans/{plan}/status", {"to": "agreed"})
        assert empty.status_code == 400 and "План без пунктов нельзя согласовать" in empty.text


def unfolded(body: bytes) -> list[str]:
    """The content lines of an iCalendar, checked as RFC 5545 writes them."""
    assert body.endswith(b"\r\n")
    physical = body[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in physical), "CRLF line ends only"
    assert all(len(line) <= 75 for line in physical), "lines are folded at 75 octets"
    lines: list[str] = []
    for line in physical:
        if line.startswith(b" "):
            lines[-1] += line[1:].decode("utf-8")
        else:
            lines.append(line.decode("utf-8"))
    return lines


def events_of(lines: list[str]) -> list[dict[str, str]]:
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines[1:-1]:
        if line == "BEGIN:VEVENT":
            assert current is None
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    assert current is None
    return events


def unescaped(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


async def test_the_calendar_feed_parses_and_the_plan_opens_as_a_workbook(world: World) -> None:
    async with signed_in(world, "coordinator") as coordinator:
        ids = await coordinator_plans_an_activity(world, coordinator, title="=1+1; вебинар, «по ВПР»")
        workbook = await coordinator.get(f"/plans/{ids['plan']}/export.xlsx")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://127.0.0.1:8010"
    ) as anonymous:
        feed = await anonymous.get(f"/networks/{world.network}/calendar.ics")
        hosted = await anonymous.get(f"/organizations/{world.host}/calendar.ics")
        missing = await anonymous.get("/networks/00000000-0000-0000-0000-000000000000/calendar.ics")
        visited = {
            path: await anonymous.get(path)
            for path in (f"/activities/{ids['activity']}", f"/plans/{ids['plan']}", "/plans", "/calendar")
        }
    for path, page in visited.items():
        assert page.status_code == 200, path
        assert 'method="post" action="/activities' not in page.text and "/status" not in page.text, path
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert missing.status_code == 404
    events = events_of(unfolded(feed.content))
    assert events, "the network has announced activities"
    for event in events:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} <= event.keys()
        for name in ("DTSTAMP", "DTSTART", "DTEND"):
            assert re.fullmatch(r"\d{8}T\d{6}Z", event[name]), "times in UTC"
        assert event["DTSTART"] < event["DTEND"]
    ours = next(e for e in events if e["UID"] == f"activity-{ids['activity']}@setka")
    assert ours["SUMMARY"] == "=1+1\\; вебинар\\, «по ВПР»"
    assert unescaped(ours["SUMMARY"]) == "=1+1; вебинар, «по ВПР»"
    assert unescaped(ours["LOCATION"]) == "Актовый зал; корпус 2, этаж 3"
    assert ours["URL"].endswith(f"/activities/{ids['activity']}")
    assert any(e["UID"] == ours["UID"] for e in events_of(unfolded(hosted.content)))

    assert workbook.status_code == 200
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    cells = {cell.value: cell for row in sheet.iter_rows() for cell in row if cell.value is not None}
    title = cells["=1+1; вебинар, «по ВПР»"]
    assert title.data_type == "s", "a title that looks like a formula stays text"
    row = [c.value for c in sheet[title.row]]
    assert row[0] == 1 and row[6] == "нет"
    assert row[2].date().isoformat() == f"{ids['year']}-06-15"
    assert "Мероприятие (пункт плана)" in cells


async def test_a_schools_card_shows_its_educators_and_partners_only_to_those_who_may_see_them(
    world: World,
) -> None:
    """The school's representative sees its educators (personal data in scope) and the partners
    recommended to it; a viewer of the region sees the partners (its region's schools' needs) but
    no educator; a visitor neither."""
    async with signed_in(world, "school") as school:
        card = (await school.get(f"/organizations/{world.school}")).text
    assert "<h2>Педагоги</h2>" in card and "<caption>Педагоги организации" in card
    assert "<h2>Рекомендуемые партнёры</h2>" in card
    async with signed_in(world, "viewer") as viewer:
        seen = (await viewer.get(f"/organizations/{world.school}")).text
    assert "<h2>Педагоги</h2>" not in seen and "<h2>Рекомендуемые партнёры</h2>" in seen
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8010") as visitor:
        public = (await visitor.get(f"/organizations/{world.school}")).text
    assert "<h2>Педагоги</h2>" not in public and "<h2>Рекомендуемые партнёры</h2>" not in public
