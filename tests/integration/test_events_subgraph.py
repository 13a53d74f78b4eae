"""The events subgraph: the lifecycle through mutations with typed errors, the calendar, entities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from setka_runtime.access import Identity, Role
from sqlalchemy import event

from services.events.schema import schema
from tests.conftest import DatabaseFactory
from tests.integration.events_world import NOW, World, make_world

pytestmark = pytest.mark.integration

ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")
"""An admin of every region: these tests are about the rules, not about access."""


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_subgraph"):
        yield made


async def run(world: World, query: str, **variables: Any) -> dict[str, Any]:
    result = await schema.execute(
        query, variable_values=variables, context_value={"db": world.db, "identity": ADMIN}
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


PLAN_ACTIVITY = """
mutation($input: PlanActivityInput!) {
  planActivity(input: $input) {
    __typename
    ... on Activity { id status }
    ... on ValidationError { field message code }
  }
}"""

TRANSITION = """
mutation($id: ID!) {
  holdActivity(activityId: $id) {
    __typename ... on Activity { status } ... on ValidationError { field message code }
  }
}"""


def activity_input(world: World, *, starts_in: timedelta, host: str | None = None) -> dict[str, Any]:
    starts = NOW + starts_in
    return {
        "title": "Вебинар «Разбор ВПР»",
        "activityType": "webinar",
        "format": "remote",
        "location": "https://example.org/room",
        "hostOrganizationId": host or str(world.host),
        "networkId": str(world.network),
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=2)).isoformat(),
        "processes": ["joint_discussion"],
        "capacity": 10,
    }


async def test_mutations_return_typed_validation_errors_and_change_nothing(world: World) -> None:
    refused = await run(
        world,
        PLAN_ACTIVITY,
        input=activity_input(world, starts_in=timedelta(days=1), host=str(world.outsider)),
    )
    assert refused["planActivity"]["__typename"] == "ValidationError"
    assert refused["planActivity"]["field"] == "hostOrganizationId"
    bad_type = activity_input(world, starts_in=timedelta(days=1)) | {"activityType": "party"}
    error = (await run(world, PLAN_ACTIVITY, input=bad_type))["planActivity"]
    assert (error["field"], error["code"]) == ("activityType", "UNKNOWN_CHOICE")
    assert error["message"].startswith("Неизвестное значение «party»"), error

    planned = (await run(world, PLAN_ACTIVITY, input=activity_input(world, starts_in=timedelta(days=1))))[
        "planActivity"
    ]
    assert planned["status"] == "planned"
    early = (await run(world, TRANSITION, id=planned["id"]))["holdActivity"]
    assert early["__typename"] == "ValidationError" and early["code"] == "HELD_BEFORE_START"
    assert "раньше его нельзя отметить проведённым" in early["message"]
    again = await run(world, "query($id: ID!) { activity(id: $id) { status } }", id=planned["id"])
    assert again["activity"]["status"] == "planned"


async def test_the_calendar_filters_and_pages_and_entities_resolve_in_one_query(world: World) -> None:
    ids = []
    for days in (-3, -2, -1):
        created = await run(world, PLAN_ACTIVITY, input=activity_input(world, starts_in=timedelta(days=days)))
        ids.append(created["planActivity"]["id"])
        held = await run(world, TRANSITION, id=ids[-1])
        assert held["holdActivity"]["status"] == "held"
    attend = """mutation($a: ID!, $o: ID!, $e: ID) {
      recordAttendance(activityId: $a, organizationId: $o, educatorId: $e, hours: 2) {
        __typename ... on ValidationError { message } } }"""
    result = await run(world, attend, a=ids[0], o=str(world.host), e=str(world.educator))
    assert result["recordAttendance"]["__typename"] == "AttendanceRecord"

    calendar = """query($net: ID!, $from: DateTime!, $after: String) {
      activities(networkId: $net, status: "held", startsFrom: $from, first: 2, after: $after) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    since = (NOW - timedelta(days=3, hours=1)).isoformat()
    first = (await run(world, calendar, net=str(world.network), **{"from": since}))["activities"]
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2] and first["pageInfo"]["hasNextPage"]
    rest = (
        await run(
            world, calendar, net=str(world.network), after=first["pageInfo"]["endCursor"], **{"from": since}
        )
    )["activities"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]

    mine = await run(
        world,
        "query($e: ID!) { activities(participantEducatorId: $e) { edges { node { id } } } "
        "participation(educatorId: $e) { activities hours } }",
        e=str(world.educator),
    )
    assert [e["node"]["id"] for e in mine["activities"]["edges"]] == ids[:1]
    assert mine["participation"] == {"activities": 1, "hours": 2.0}

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(world.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        representations = [{"__typename": "Activity", "id": i} for i in ids]
        entities = await run(
            world,
            "query($r: [_Any!]!) { _entities(representations: $r) {"
            " ... on Activity { id attendance { hours } } } }",
            r=representations,
        )
    finally:
        event.remove(world.db.engine.sync_engine, "before_cursor_execute", count)
    assert [e["id"] for e in entities["_entities"]] == ids
    assert len(statements) == 2, statements  # one for the activities, one for all their attendance


async def test_moments_with_no_time_in_utc_are_refused_as_the_callers_input(world: World) -> None:
    """Year 1 at +14:00 is before year 1 in UTC, 9999-12-31 at -05:00 after year 9999: a portal
    gets the field at fault, not an overflow from the database driver."""
    late = activity_input(world, starts_in=timedelta(days=1)) | {
        "startsAt": "9999-12-31T23:00:00-05:00",
        "endsAt": "9999-12-31T23:30:00-05:00",
    }
    refused = (await run(world, PLAN_ACTIVITY, input=late))["planActivity"]
    assert refused["__typename"] == "ValidationError" and refused["field"] == "startsAt"
    assert refused["code"] == "MOMENT_OUT_OF_RANGE" and "вне допустимого диапазона" in refused["message"]

    result = await schema.execute(
        'query { activities(startsFrom: "0001-01-01T00:00:00+14:00") { edges { node { id } } } }',
        context_value={"db": world.db, "identity": ADMIN},
    )
    assert result.data is None and result.errors is not None
    (error,) = result.errors
    assert error.extensions == {
        "code": "BAD_USER_INPUT",
        "validationCode": "MOMENT_OUT_OF_RANGE",
        "field": "startsFrom",
    }
    assert "вне допустимого диапазона" in error.message
