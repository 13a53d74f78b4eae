"""The workspace's meetings pages, in process, over a real gateway and services (the demo stack),
signed in as the demo people.

The coordinator finds the council's January meeting of the demo, schedules a meeting of their
own (a refused form shows the API's message at its input), holds it with the minutes, records a
decision and carries it into a draft plan of the network; the school's representative reads the
meeting without its forms; a visitor sees no meeting."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import httpx

from portal.pages.plans import zone_for
from tests.e2e.demo.test_portal_plans import World, signed_in, text, value_of
from tests.e2e.demo.test_portal_plans import world as world  # the module's world: the demo, a portal

MISSING = "00000000-0000-0000-0000-000000000000"


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_a_coordinator_schedules_holds_and_records_a_meeting_and_carries_a_decision_into_the_plan(
    world: World,
) -> None:
    async with signed_in(world, "coordinator") as coordinator:
        listed = await coordinator.get(f"/networks/{world.network}/meetings")
        assert listed.status_code == 200
        assert "Заседание совета сети № 1" in listed.text, "the demo's council meeting is listed"
        assert 'id="schedule-kind"' in listed.text, "the coordinator is offered to schedule one"

        now = datetime.now(zone_for("39")).replace(second=0, microsecond=0)  # the coordinator's clock
        meeting = {
            "kind": "methodological_association",
            "title": "Заседание РМО учителей математики",
            "startsAt": f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "endsAt": f"{now + timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "place": "",
            "onlineLink": "",
            "agenda": "1. О результатах ВПР\n\n2. О взаимопосещении уроков",
            f"participant.{world.school}": "1",
            f"participant.{world.host}": "1",
        }
        refused = await coordinator.post(f"/networks/{world.network}/meetings", meeting)
        assert refused.status_code == 400
        assert text(refused.text, "schedule-place-error").endswith(
            "Укажите место заседания или ссылку на онлайн-заседание"
        )
        assert value_of(refused.text, "schedule-title") == "Заседание РМО учителей математики", "kept"
        assert f'name="participant.{world.school}" value="1" checked' in refused.text

        scheduled = await coordinator.post(
            f"/networks/{world.network}/meetings", meeting | {"onlineLink": "https://vks.example.org/rmo"}
        )
        assert scheduled.status_code == 303, text(scheduled.text, "schedule-summary")
        path = scheduled.headers["location"]
        page = await coordinator.get(path)
        shown = visible_text(page.text)
        assert "Заседание РМО учителей математики" in shown and "методическое объединение" in shown
        assert re.search(r"<li>О результатах ВПР</li>\s*<li>О взаимопосещении уроков</li>", page.text)
        assert "назначено" in shown and 'id="hold-minutes"' in page.text

        held = await coordinator.post(
            f"{path}/hold", {"minutes": "Слушали: руководителя РМО.\n\nПостановили: провести семинар."}
        )
        assert held.status_code == 303, held.text
        page = await coordinator.get(path)
        assert "Заседание проведено: протокол записан" in page.text
        assert "<p>Слушали: руководителя РМО.</p><p>Постановили: провести семинар.</p>" in page.text
        assert 'id="hold-minutes"' not in page.text and 'id="decision-text"' in page.text

        # a draft plan of the network's next free year, for the decision to become its item
        plans = await coordinator.get(f"/networks/{world.network}/plans")
        year = value_of(plans.text, "draft-year")
        drafted = await coordinator.post(
            f"/networks/{world.network}/plans", {"year": year, "title": f"План сети на {year} год"}
        )
        assert drafted.status_code == 303, drafted.text
        plan = drafted.headers["location"].rsplit("/", 1)[-1]

        early = await coordinator.post(
            f"{path}/decisions",
            {"text": "Провести семинар", "responsibleOrganizationId": world.host, "dueOn": "2001-01-01"},
        )
        assert early.status_code == 400
        assert "не раньше дня заседания" in text(early.text, "decision-dueOn-error")
        decided = await coordinator.post(
            f"{path}/decisions",
            {
                "text": "Провести семинар по формирующему оцениванию",
                "responsibleOrganizationId": world.host,
                "dueOn": f"{year}-10-01",
            },
        )
        assert decided.status_code == 303, decided.text
        decision = decided.headers["location"].rsplit("#decision-", 1)[-1]
        page = await coordinator.get(path)
        assert "Решение № 1 записано" in page.text
        carried = await coordinator.post(f"{path}/decisions/{decision}/plan", {"kind": "task", "title": ""})
        assert carried.status_code == 303, carried.text
        assert carried.headers["location"].startswith(f"/plans/{plan}#item-")
        plan_page = await coordinator.get(f"/plans/{plan}")
        assert "Решение № 1 внесено в план" in plan_page.text
        assert "Провести семинар по формирующему оцениванию" in plan_page.text
        page = await coordinator.get(path)
        assert f'href="/plans/{plan}#item-' in page.text, "the decision links to its item"
        assert f"/decisions/{decision}/plan" not in page.text, "a decision in the plan is not offered again"

        overview = await coordinator.get("/meetings")
        assert overview.status_code == 200 and f"/networks/{world.network}/meetings" in overview.text

    async with signed_in(world, "school") as school:
        page = await school.get(path)
        assert page.status_code == 200
        assert "Заседание РМО учителей математики" in page.text and "Провести семинар" in page.text
        assert 'id="decision-text"' not in page.text and '/plan"' not in page.text, "no forms for a school"
        answer = await school.post(f"{path}/cancel", {"reason": "—"})
        assert answer.status_code == 403 and "проведено" in answer.text, (
            "refused; the meeting stays as it was"
        )

    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8010") as visitor:
        for address in (path, f"/meetings/{MISSING}"):
            answer = await visitor.get(address)
            assert answer.status_code == 404 and "Такого заседания нет или оно вам не видно" in answer.text
        listed = await visitor.get(f"/networks/{world.network}/meetings")
        assert "Заседание РМО учителей математики" not in listed.text
