"""Corrections and the registry's people through the workspace's forms (issue 17), in process over
the demo stack, signed in as the demo people: a coordinator renames a network; a submission the
API refuses shows the API's own message at the field it names, with what was entered kept; a form
is offered only to the roles that may use it, and a forged POST of another role is refused."""

from __future__ import annotations

import pytest

from tests.e2e.demo.test_portal_plans import (  # noqa: F401 - the module's world fixture
    World,
    options,
    signed_in,
    text,
    value_of,
    world,
)

pytestmark = pytest.mark.integration


async def test_a_coordinator_renames_a_network_and_a_refusal_is_shown_at_its_field(
    world: World,  # noqa: F811
) -> None:
    edit = f"/networks/{world.network}/edit"
    async with signed_in(world, "coordinator") as coordinator:
        page = await coordinator.get(f"/networks/{world.network}")
        assert f'href="{edit}"' in page.text, "the coordinator is offered the correction"
        form = await coordinator.get(edit)
        assert form.status_code == 200
        name = value_of(form.text, "f-name")

        # the API refuses a school as the network's governing body: its words, at that field
        refused = await coordinator.post(
            edit, {"name": "Сеть с опечаткой", "governingBodyId": world.school, "removeCoordinator": "keep"}
        )
        assert refused.status_code == 400
        assert "орган управления образованием" in text(refused.text, "e-governingBodyId")
        assert 'aria-describedby="e-governingBodyId"' in refused.text
        assert 'href="#f-governingBodyId"' in refused.text, "the summary above links to the field"
        assert value_of(refused.text, "f-name") == "Сеть с опечаткой", "what was entered stays"
        assert "e-name" not in refused.text, "only the field at fault is marked"

        try:
            renamed = await coordinator.post(
                edit, {"name": f"{name} (исправлено)", "governingBodyId": "", "removeCoordinator": "keep"}
            )
            assert renamed.status_code == 303, renamed.text
            page = await coordinator.get(renamed.headers["location"])
            assert f"{name} (исправлено)" in page.text and "исправлены" in page.text
        finally:  # the shared demo keeps its name for the other tests
            back = await coordinator.post(edit, {"name": name, "removeCoordinator": "keep"})
            assert back.status_code == 303, back.text


async def test_the_forms_are_offered_only_to_those_who_may_use_them(world: World) -> None:  # noqa: F811
    async with signed_in(world, "school") as school:
        network = await school.get(f"/networks/{world.network}")
        assert f"/networks/{world.network}/edit" not in network.text
        assert f"/networks/{world.network}/groups" not in network.text
        forged = await school.post(f"/networks/{world.network}/edit", {"name": "Чужая сеть"})
        assert forged.status_code == 403
        assert (await school.get("/mobility")).status_code == 403
        assert (await school.get("/regulations")).status_code == 403

        # their own school's people they change: a new educator, refused first at the position
        card = await school.get(f"/organizations/{world.school}")
        assert f"/organizations/{world.school}/educators/new" in card.text
        assert "/employ" in card.text and "/edit" in card.text
        new = f"/organizations/{world.school}/educators/new"
        entered = {"lastName": "Проверкина", "firstName": "Ольга", "qualificationCategory": "first"}
        refused = await school.post(new, {**entered, "position": "", "startedOn": ""})
        assert refused.status_code == 400 and text(refused.text, "e-position") == "Заполните это поле"
        registered = await school.post(new, {**entered, "position": "учитель", "subjects": "химия"})
        assert registered.status_code == 303, registered.text
        card = await school.get(f"/organizations/{world.school}")
        assert "Проверкина Ольга" in card.text

    async with signed_in(world, "viewer") as viewer:
        card = await viewer.get(f"/organizations/{world.school}")
        assert "educators/new" not in card.text and "/edit" not in card.text
        assert (await viewer.get(f"/networks/{world.network}/edit")).status_code == 403

    async with signed_in(world, "coordinator") as coordinator:
        groups = await coordinator.get(f"/networks/{world.network}/groups")
        assert groups.status_code == 200 and f"/networks/{world.network}/groups/new" in groups.text
        form = await coordinator.get(f"/networks/{world.network}/groups/new")
        members = [v for v, _ in options(form.text, "f-organizationIds.1") if v]
        assert world.school in members, "a group is formed of the network's members"
        agreements = await coordinator.get(f"/agreements?networkId={world.network}")
        assert "/amend" in agreements.text, "an agreement in force is offered its amendment"
