# ruff: noqa: E501  (GraphQL documents read best on one line each)
"""The registry subgraph on real PostgreSQL: each mutation's outbox event, typed errors, pages, entities."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from setka_contracts import topics
from setka_contracts.registry import RiskFactor
from setka_runtime.access import ALL_REGIONS, Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import event, select

from services.registry import reference
from services.registry.schema import schema

pytestmark = pytest.mark.integration

_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn(number: int) -> str:
    body = f"08{number:07d}"
    return body + str(sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11 % 10)


@pytest.fixture
async def registry(service_databases: dict[str, str]) -> AsyncIterator[Database]:
    db = Database(service_databases["registry"])
    async with db.session() as session, session.begin():
        await reference.load_reference(session)
    yield db
    await db.dispose()


ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)
"""An admin of every region: these tests are about the subgraph, not about who may use it."""


async def gql(db: Database, query: str, variables: dict[str, Any] | None = None) -> Any:
    result = await schema.execute(
        query, variable_values=variables or {}, context_value={"db": db, "identity": ADMIN}
    )
    assert not result.errors, result.errors
    return result.data


async def last_events(db: Database, since: int) -> list[tuple[str, str]]:
    """The domain events recorded after the first ``since`` (the audit trail's entries aside)."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.id, outbox.c.event_type, outbox.c.key)
                .where(outbox.c.topic != topics.AUDIT)
                .order_by(outbox.c.id)
            )
        ).all()
    return [(r.event_type, r.key) for r in rows[since:]]


async def outbox_size(db: Database) -> int:
    """How many domain events the outbox holds (the audit trail's entries aside)."""
    async with db.session() as session:
        return len((await session.execute(select(outbox.c.id).where(outbox.c.topic != topics.AUDIT))).all())


async def run(db: Database, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    data = await gql(db, query, variables)
    (result,) = data.values()
    assert result["__typename"] != "ValidationError", result
    return result


def org(number: int, kind: str = "school") -> dict[str, Any]:
    return {
        "fullName": f"МКОУ «СОШ № {number}» г. Элисты (тест)",
        "shortName": f"СОШ № {number}",
        "kind": kind,
        "regionCode": "08",
        "municipality": "г. Элиста",
        "inn": inn(number),
    }


async def test_each_mutation_records_its_event_with_the_aggregate_as_key(registry: Database) -> None:
    async def step(query: str, variables: dict[str, Any], expected: list[tuple[str, str]]) -> dict[str, Any]:
        before = await outbox_size(registry)
        result = await run(registry, query, variables)
        events = await last_events(registry, before)
        assert events == [(t, result["id"] if k == "id" else k) for t, k in expected], events
        return result

    register = "mutation($i: RegisterOrganizationInput!) { r: registerOrganization(input: $i) { __typename ... on Organization { id municipalityId } } }"
    authority = await step(
        register, {"i": org(1, "education_authority")}, [("setka.registry.organization.registered.v1", "id")]
    )
    assert authority["municipalityId"], "a known municipality name links the reference record"
    centre = await step(register, {"i": org(2)}, [("setka.registry.organization.registered.v1", "id")])
    school = await step(register, {"i": org(3)}, [("setka.registry.organization.registered.v1", "id")])

    status = "mutation($i: EnterStatusInput!) { r: enterStatus(input: $i) { __typename ... on StatusPeriod { id organizationId } } }"
    before = await outbox_size(registry)
    await run(
        registry,
        status,
        {"i": {"organizationId": centre["id"], "status": "stable_results", "enteredOn": "2020-01-01"}},
    )
    await run(
        registry,
        status,
        {"i": {"organizationId": school["id"], "status": "low_results", "enteredOn": "2020-01-01"}},
    )
    assert await last_events(registry, before) == [
        ("setka.registry.organization.status_changed.v1", centre["id"]),
        ("setka.registry.organization.status_changed.v1", school["id"]),
    ]
    before = await outbox_size(registry)
    await run(
        registry,
        "mutation($i: LeaveStatusInput!) { r: leaveStatus(input: $i) { __typename ... on StatusPeriod { id } } }",
        {"i": {"organizationId": school["id"], "status": "low_results", "leftOn": "2030-01-01"}},
    )
    assert await last_events(registry, before) == [
        ("setka.registry.organization.status_changed.v1", school["id"])
    ]

    before = await outbox_size(registry)
    await run(
        registry,
        "mutation($i: AssessRiskProfileInput!) { r: assessRiskProfile(input: $i) { __typename ... on RiskProfile { id } } }",
        {
            "i": {
                "organizationId": school["id"],
                "assessedOn": "2024-03-01",
                "factors": [{"factor": f.value, "level": "high"} for f in RiskFactor],
            }
        },
    )
    assert await last_events(registry, before) == [("setka.registry.risk_profile.assessed.v1", school["id"])]

    update = "mutation($i: UpdateOrganizationInput!) { r: updateOrganization(input: $i) { __typename ... on Organization { id website } } }"
    updated = await step(
        update,
        {"i": {"id": school["id"], "website": "school3.example.org"}},
        [("setka.registry.organization.updated.v1", "id")],
    )
    assert updated["website"] == "https://school3.example.org"

    network = await step(
        "mutation($i: CreateNetworkInput!) { r: createNetwork(input: $i) { __typename ... on Network { id } } }",
        {
            "i": {
                "name": "Региональная сеть (тест)",
                "level": "regional",
                "regionCode": "08",
                "governingBodyId": authority["id"],
                "startedOn": "2021-03-01",
            }
        },
        [("setka.registry.network.created.v1", "id")],
    )
    join = "mutation($i: JoinNetworkInput!) { r: joinNetwork(input: $i) { __typename ... on Membership { id networkId } } }"
    before = await outbox_size(registry)
    await run(
        registry,
        join,
        {
            "i": {
                "networkId": network["id"],
                "organizationId": centre["id"],
                "role": "centre",
                "joinedOn": "2021-03-01",
            }
        },
    )
    assert await last_events(registry, before) == [
        ("setka.registry.membership.joined.v1", network["id"]),
        ("setka.registry.network.centre_designated.v1", network["id"]),
    ]
    before = await outbox_size(registry)
    supported = await run(
        registry,
        join,
        {
            "i": {
                "networkId": network["id"],
                "organizationId": school["id"],
                "role": "supported",
                "joinedOn": "2021-03-01",
            }
        },
    )
    assert await last_events(registry, before) == [("setka.registry.membership.joined.v1", network["id"])]

    educator = await step(
        "mutation($i: RegisterEducatorInput!) { r: registerEducator(input: $i) { __typename ... on Educator { id } } }",
        {
            "i": {
                "lastName": "Бадмаева",
                "firstName": "Ольга",
                "subjects": ["Математика"],
                "posts": [{"organizationId": school["id"], "position": "учитель математики"}],
            }
        },
        [("setka.registry.educator.registered.v2", "id")],
    )
    before = await outbox_size(registry)
    employment = await run(
        registry,
        "mutation($e: ID!, $p: PostInput!) { r: employEducator(educatorId: $e, post: $p) { __typename ... on Employment { id } } }",
        {
            "e": educator["id"],
            "p": {"organizationId": centre["id"], "position": "совместитель", "startedOn": "2022-09-01"},
        },
    )
    await run(
        registry,
        'mutation($e: ID!) { r: endEmployment(employmentId: $e, endedOn: "2023-09-01") { __typename ... on Employment { id } } }',
        {"e": employment["id"]},
    )
    await run(
        registry,
        "mutation($i: UpdateEducatorInput!) { r: updateEducator(input: $i) { __typename ... on Educator { id } } }",
        {"i": {"id": educator["id"], "qualificationCategory": "highest"}},
    )
    assert await last_events(registry, before) == [("setka.registry.educator.updated.v2", educator["id"])] * 3

    group = await step(
        "mutation($i: FormInteractionGroupInput!) { r: formInteractionGroup(input: $i) { __typename ... on InteractionGroup { id } } }",
        {
            "i": {
                "networkId": network["id"],
                "name": "Творческая группа",
                "purpose": "взаимообучение",
                "educatorIds": [educator["id"]],
                "organizationIds": [school["id"]],
            }
        },
        [("setka.registry.interaction_group.formed.v1", "id")],
    )
    await step(
        "mutation($i: ChangeInteractionGroupInput!) { r: changeInteractionGroup(input: $i) { __typename ... on InteractionGroup { id } } }",
        {"i": {"groupId": group["id"], "addOrganizationIds": [centre["id"]]}},
        [("setka.registry.interaction_group.changed.v1", "id")],
    )
    resource = await step(
        "mutation($i: OfferResourceInput!) { r: offerResource(input: $i) { __typename ... on Resource { id subjects } } }",
        {
            "i": {
                "ownerId": centre["id"],
                "kind": "staff",
                "title": "Учитель-наставник",
                "subjects": ["Математика"],
            }
        },
        [("setka.registry.resource.offered.v1", "id")],
    )
    assert resource["subjects"] == ["математика"]
    await step(
        "mutation($r: ID!) { r: withdrawResource(resourceId: $r) { __typename ... on Resource { id } } }",
        {"r": resource["id"]},
        [("setka.registry.resource.withdrawn.v1", "id")],
    )
    agreement = await step(
        "mutation($i: SignAgreementInput!) { r: signAgreement(input: $i) { __typename ... on Agreement { id parties { id } } } }",
        {
            "i": {
                "number": "7",
                "signedOn": "2021-03-10",
                "subject": "Сетевое взаимодействие",
                "validFrom": "2021-03-10",
                "partyIds": [centre["id"], school["id"]],
                "networkId": network["id"],
            }
        },
        [("setka.registry.agreement.signed.v1", "id")],
    )
    assert {p["id"] for p in agreement["parties"]} == {centre["id"], school["id"]}
    await step(
        'mutation($a: ID!) { r: terminateAgreement(agreementId: $a, on: "2022-01-01") { __typename ... on Agreement { id } } }',
        {"a": agreement["id"]},
        [("setka.registry.agreement.terminated.v1", "id")],
    )
    await step(
        "mutation($i: IssueRegulationInput!) { r: issueRegulation(input: $i) { __typename ... on Regulation { id } } }",
        {
            "i": {
                "kind": "provision",
                "number": "52",
                "issuedOn": "2021-03-01",
                "issuerId": authority["id"],
                "title": "Положение о сетевом взаимодействии",
                "networkId": network["id"],
            }
        },
        [("setka.registry.regulation.issued.v1", "id")],
    )
    await step(
        'mutation($m: ID!) { r: leaveNetwork(membershipId: $m, leftOn: "2024-06-01") { __typename ... on Membership { id } } }',
        {"m": supported["id"]},
        [("setka.registry.membership.left.v1", network["id"])],
    )
    archived = await step(
        'mutation($o: ID!) { r: archiveOrganization(id: $o, reason: "реорганизация") { __typename ... on Organization { id archivedAt } } }',
        {"o": centre["id"]},
        [
            ("setka.registry.membership.left.v1", network["id"]),
            ("setka.registry.organization.archived.v1", "id"),
        ],
    )
    assert archived["archivedAt"]
    await step(
        'mutation($n: ID!) { r: closeNetwork(networkId: $n, endedOn: "2030-01-01") { __typename ... on Network { id status } } }',
        {"n": network["id"]},
        [("setka.registry.network.closed.v1", "id")],
    )


async def test_a_refused_mutation_is_a_typed_error_and_writes_nothing(registry: Database) -> None:
    data = await gql(
        registry,
        "mutation($i: RegisterOrganizationInput!) { registerOrganization(input: $i) {"
        " __typename ... on ValidationError { field message code } } }",
        {"i": org(1) | {"ogrn": "1027700132196"}},
    )
    assert data["registerOrganization"] == {
        "__typename": "ValidationError",
        "field": "ogrn",
        "message": "Контрольная цифра ОГРН не сходится: проверьте цифры",
        "code": "OGRN_CHECKSUM",
    }
    assert await outbox_size(registry) == 0
    data = await gql(
        registry,
        'mutation { joinNetwork(input: {networkId: "nope", organizationId: "x", role: "centre", joinedOn: "2024-01-01"}) { __typename ... on ValidationError { field } } }',
    )
    assert data["joinNetwork"] == {"__typename": "ValidationError", "field": "networkId"}


async def test_lists_filter_and_page_with_cursors_capped_at_100(registry: Database) -> None:
    register = "mutation($i: RegisterOrganizationInput!) { r: registerOrganization(input: $i) { __typename ... on Organization { id } } }"
    for number in range(1, 106):
        await run(registry, register, {"i": org(number)})
    query = 'query($after: String, $search: String) { organizations(first: 500, after: $after, regionCode: "08", search: $search) { edges { cursor node { id shortName } } pageInfo { hasNextPage endCursor } } }'
    first = (await gql(registry, query))["organizations"]
    assert len(first["edges"]) == 100 and first["pageInfo"]["hasNextPage"]
    rest = (await gql(registry, query, {"after": first["pageInfo"]["endCursor"]}))["organizations"]
    assert len(rest["edges"]) == 5 and not rest["pageInfo"]["hasNextPage"]
    assert not {e["node"]["id"] for e in first["edges"]} & {e["node"]["id"] for e in rest["edges"]}
    found = (await gql(registry, query, {"search": "сош № 17» ЭЛИСТЫ"}))["organizations"]["edges"]
    assert [e["node"]["shortName"] for e in found] == ["СОШ № 17"]
    by_inn = (await gql(registry, query, {"search": inn(42)}))["organizations"]["edges"]
    assert [e["node"]["shortName"] for e in by_inn] == ["СОШ № 42"]
    # a search box pasted full of text is the caller's error on «search», on every list
    for listing in ("organizations", "networks", "educators", "resources"):
        result = await schema.execute(
            f"query($s: String) {{ {listing}(search: $s) {{ edges {{ cursor }} }} }}",
            variable_values={"s": "школа " * 20_000},
            context_value={"db": registry, "identity": ADMIN},
        )
        (error,) = result.errors or [None]
        assert error is not None and error.extensions == {
            "code": "BAD_USER_INPUT",
            "validationCode": "TOO_LONG",
            "field": "search",
        }, listing


async def test_entities_and_nested_lists_resolve_in_batches(registry: Database) -> None:
    register = "mutation($i: RegisterOrganizationInput!) { r: registerOrganization(input: $i) { __typename ... on Organization { id } } }"
    ids = [(await run(registry, register, {"i": org(n)}))["id"] for n in range(1, 21)]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(registry.engine.sync_engine, "before_cursor_execute", count)
    try:
        data = await gql(
            registry,
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id shortName"
            " statuses memberships { role } riskProfiles { assessedOn } } } }",
            {"r": [{"__typename": "Organization", "id": i} for i in ids]},
        )
    finally:
        event.remove(registry.engine.sync_engine, "before_cursor_execute", count)
    assert [e["id"] for e in data["_entities"]] == ids
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4, selects  # organizations, statuses, memberships, risk profiles: one each


async def test_a_callers_mistake_is_one_info_line_and_a_failure_of_the_service_an_error(
    registry: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """ERROR in a service's log is for its operator: a bad cursor is the caller's business."""
    caplog.set_level(logging.INFO)
    refused = await schema.execute(
        '{ organizations(after: "not a cursor") { edges { cursor } } }',
        context_value={"db": registry, "identity": ADMIN},
    )
    assert refused.errors
    assert [r.levelname for r in caplog.records if "not a cursor" in r.getMessage() or r.exc_info] == []
    assert any(r.levelname == "INFO" and "refused at organizations" in r.getMessage() for r in caplog.records)

    caplog.clear()
    broken = Database("sqlite+aiosqlite:///file:nowhere?mode=ro&uri=true")  # a database that fails
    try:
        failed = await schema.execute(
            "{ organizations { edges { cursor } } }", context_value={"db": broken, "identity": ADMIN}
        )
    finally:
        await broken.dispose()
    assert failed.errors
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)
