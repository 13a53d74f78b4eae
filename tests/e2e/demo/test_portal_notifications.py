"""The workspace's notifications page (issue 18, item 5), in process, over the demo stack: the
coordinator agrees a plan and announces an activity of the network; the representative of a member
school finds both in their list, marks one read, then all, and turns a kind off in their settings
(the demo stack sends no e-mail, so the page says the list is where they are); at last they erase
their own notification data, which the page asks them to confirm."""

from __future__ import annotations

import re

import pytest

from tests.e2e.demo.test_portal_plans import (  # noqa: F401 - the module's world fixture
    World,
    coordinator_plans_an_activity,
    signed_in,
    world,
)
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_a_member_school_is_told_marks_read_and_chooses_what_it_is_told(
    world: World,  # noqa: F811
) -> None:
    title = "Семинар для уведомлений"
    async with signed_in(world, "coordinator") as coordinator:
        made = await coordinator_plans_an_activity(world, coordinator, title=title)

    async with signed_in(world, "school") as school:

        async def told() -> str | None:
            page = await school.get("/notifications")
            assert page.status_code == 200, page.text
            said = f"Объявлено мероприятие: {title}" in page.text
            return page.text if said and f"/plans/{made['plan']}" in page.text else None

        page = await eventually(told)
        assert "План согласован" in page, "the plan agreed is told to the network's members"
        assert f"/activities/{made['activity']}" in page, "with a link to the activity"
        assert "вашей организации" in page
        assert "не отправляет писем" in page, "without SMTP the list is the only way"
        assert re.search(r"Непрочитанных: <strong>\d+</strong>", page)

        one = re.search(r'name="id" value="([0-9a-f-]+)"', page)
        assert one
        marked = await school.post("/notifications/read", {"id": one[1]})
        assert marked.status_code == 303
        page = (await school.get("/notifications")).text
        assert "Отмечено как прочитанное" in page
        assert f'name="id" value="{one[1]}"' not in page, "a notification read is offered no more"

        async def all_read() -> str | None:
            # what the notifier delivers after the click is new, and unread: click again then
            everything = await school.post("/notifications/read", {})
            assert everything.status_code == 303
            page = (await school.get("/notifications?show=unread")).text
            return page if "Непрочитанных уведомлений нет" in page else None

        page = await eventually(all_read)

        kinds = re.findall(r'name="kind" value="([a-z_]+)"', page)
        assert "activity_announced" in kinds and "plan_agreed" in kinds
        kept = [kind for kind in kinds if kind != "activity_announced"]
        saved = await school.client.post(
            "/notifications/settings", data={"csrf": school.csrf, "kind": kept, "delivery": "now"}
        )
        assert saved.status_code == 303, saved.text
        page = (await school.get("/notifications")).text
        assert "Настройки уведомлений сохранены" in page
        assert 'value="activity_announced">' in page, "the kind turned off is unticked"
        assert 'value="plan_agreed" checked>' in page
        assert f"Объявлено мероприятие: {title}" not in page, "a kind turned off leaves the list"
        assert "План согласован" in page

    async with signed_in(world, "viewer") as viewer:
        page = (await viewer.get("/notifications")).text
        assert f"Объявлено мероприятие: {title}" not in page, "nobody else's notifications"

    async with signed_in(world, "school") as school:
        page = (await school.get("/notifications")).text
        assert "Удалить мои данные уведомлений" in page and 'action="/notifications/forget"' in page
        unconfirmed = await school.post("/notifications/forget", {})
        assert unconfirmed.status_code == 400, unconfirmed.text
        assert "Подтвердите, что ваши данные уведомлений удаляются безвозвратно" in unconfirmed.text
        assert 'value="activity_announced">' in unconfirmed.text, "refused: their settings stay"
        done = await school.post("/notifications/forget", {"confirm": "yes"})
        assert done.status_code == 303, done.text
        page = (await school.get("/notifications")).text
        assert "Ваши данные уведомлений удалены" in page
        assert 'value="activity_announced" checked>' in page, "their settings went: every kind is on again"
        assert "План согласован" in page, "their organization's notifications stay in its list"
