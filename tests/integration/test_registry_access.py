# ruff: noqa: E501  (GraphQL documents read best on one line each)
"""Who may change the registry and read its personal data, on real PostgreSQL: each mutation in the
caller's scope, refusals with their code and nothing written, educators filtered by scope, and one
audit entry for each write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from setka_contracts import topics
from setka_contracts.audit import AuditRecorded
from setka_runtime.access import ALL_REGIONS, Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import select

from services.registry import reference
from services.registry.models import Municipality
from services.registry.schema import schema

pytestmark = pytest.mark.integration

_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)

ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)
ANONYMOUS = Identity()

UPDATE = "mutation($i: UpdateOrganizationInput!) { r: updateOrganization(input: $i) { __typename ... on Organization { id website } ... on ValidationError { field message code } } }"
REGISTER = "mutation($i: RegisterOrganizationInput!) { r: registerOrganization(input: $i) { __typename ... on Organization { id } } }"
REGISTER_EDUCATOR = "mutation($i: RegisterEducatorInput!) { r: registerEducator(input: $i) { __typename ... on Educator { id } } }"
OFFER = (
    "mutation($i: OfferResourceInput!) { r: offerResource(input: $i) { __typename ... on Resource { id } } }"
)
SIGN = (
    "mutation($i: SignAgreementInput!) { r: signAgreement(input: $i) { __typename ... on Agreement { id } } }"
)
EDUCATORS = "{ educators(first: 100) { edges { node { id lastName } } } }"
EDUCATOR = "query($id: ID!) { educator(id: $id) { id lastName } }"
ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Educator { id lastName } } }"


def inn(number: int) -> str:
    body = f"08{number:07d}"
    return body + str(sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11 % 10)


async def execute(db: Database, who: Identity, query: str, variables: dict[str, Any] | None = None) -> Any:
    return await schema.execute(
        query,
        variable_values=variables or {},
        context_value={"db": db, "identity": who, "service_name": "registry"},
    )


async def ok(db: Database, who: Identity, query: str, variables: dict[str, Any] | None = None) -> Any:
    result = await execute(db, who, query, variables)
    assert not result.errors, result.errors
    return result.data


async def done(db: Database, who: Identity, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A mutation's result, which must be the entity, not a ValidationError."""
    (result,) = (await ok(db, who, query, variables)).values()
    assert result["__typename"] != "ValidationError", result
    return result


async def refused(
    db: Database,
    who: Identity,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str = "FORBIDDEN",
) -> None:
    """The operation is refused with ``code`` and writes nothing at all (no event, no audit)."""
    before = await outbox_rows(db)
    result = await execute(db, who, query, variables)
    assert result.errors, result.data
    assert {e.extensions["code"] for e in result.errors} == {code}, result.errors
    assert not result.data or not any(result.data.values()), result.data
    assert await outbox_rows(db) == before


async def outbox_rows(db: Database) -> list[tuple[str, str, str, str]]:
    async with db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.topic, outbox.c.event_type, outbox.c.key, outbox.c.payload).order_by(
                    outbox.c.id
                )
            )
        ).all()
    return [(r.topic, r.event_type, r.key, r.payload) for r in rows]


def org(number: int, municipality: str, kind: str = "school") -> dict[str, Any]:
    return {
        "fullName": f"МКОУ «СОШ № {number}» (тест доступа)",
        "shortName": f"СОШ № {number}",
        "kind": kind,
        "regionCode": "08",
        "municipality": municipality,
        "inn": inn(number),
    }


ELISTA = "г. Элиста"
GORODOVIKOVSK = "Городовиковский район"


@dataclass
class World:
    db: Database
    municipality_a: str
    municipality_b: str
    a1: str
    a2: str
    b1: str
    educator_a: str
    educator_b: str

    @property
    def coordinator_a(self) -> Identity:
        return Identity(
            subject="coordinator-a",
            roles=frozenset({Role.municipal_coordinator}),
            region_code="08",
            municipality_id=self.municipality_a,
        )

    @property
    def representative_a1(self) -> Identity:
        return Identity(
            subject="school-a1",
            roles=frozenset({Role.school_representative}),
            region_code="08",
            municipality_id=self.municipality_a,
            organization_id=self.a1,
        )


def someone(role: Role, **scope: str) -> Identity:
    return Identity(subject=f"test-{role}", roles=frozenset({role}), **scope)


@pytest.fixture
async def world(service_databases: dict[str, str]) -> AsyncIterator[World]:
    db = Database(service_databases["registry"])
    async with db.session() as session, session.begin():
        await reference.load_reference(session)
        ids = {
            m.name: str(m.id)
            for m in (
                await session.scalars(select(Municipality).where(Municipality.region_code == "08"))
            ).all()
        }
    a1 = (await done(db, ADMIN, REGISTER, {"i": org(1, ELISTA)}))["id"]
    a2 = (await done(db, ADMIN, REGISTER, {"i": org(2, ELISTA)}))["id"]
    b1 = (await done(db, ADMIN, REGISTER, {"i": org(3, GORODOVIKOVSK)}))["id"]

    async def educator(last_name: str, organization: str) -> str:
        given = {
            "lastName": last_name,
            "firstName": "Ольга",
            "posts": [{"organizationId": organization, "position": "учитель"}],
        }
        return (await done(db, ADMIN, REGISTER_EDUCATOR, {"i": given}))["id"]

    yield World(
        db=db,
        municipality_a=ids[ELISTA],
        municipality_b=ids[GORODOVIKOVSK],
        a1=a1,
        a2=a2,
        b1=b1,
        educator_a=await educator("Бадмаева", a1),
        educator_b=await educator("Горяева", b1),
    )
    await db.dispose()


async def test_a_coordinator_changes_their_municipality_only(world: World) -> None:
    db, coordinator = world.db, world.coordinator_a
    updated = await done(db, coordinator, UPDATE, {"i": {"id": world.a2, "website": "a2.example.org"}})
    assert updated["website"] == "https://a2.example.org"
    await refused(db, coordinator, UPDATE, {"i": {"id": world.b1, "website": "b1.example.org"}})
    # nor may they move a school of theirs to another municipality
    await refused(db, coordinator, UPDATE, {"i": {"id": world.a2, "municipalityId": world.municipality_b}})
    # they register in their municipality, by its id or by its name, and nowhere else
    await done(db, coordinator, REGISTER, {"i": org(10, ELISTA)})
    await done(db, coordinator, REGISTER, {"i": org(11, "") | {"municipalityId": world.municipality_a}})
    await refused(db, coordinator, REGISTER, {"i": org(12, GORODOVIKOVSK)})
    # an agreement binds every party: all of them must be theirs
    agreement = {"number": "1", "signedOn": "2024-01-10", "subject": "Сеть", "validFrom": "2024-01-10"}
    await done(db, coordinator, SIGN, {"i": agreement | {"partyIds": [world.a1, world.a2]}})
    await refused(db, coordinator, SIGN, {"i": agreement | {"partyIds": [world.a1, world.b1]}})
    # educators: where the post is
    teacher = {"lastName": "Иванова", "firstName": "Анна"}
    await done(
        db,
        coordinator,
        REGISTER_EDUCATOR,
        {"i": teacher | {"posts": [{"organizationId": world.a2, "position": "учитель"}]}},
    )
    await refused(
        db,
        coordinator,
        REGISTER_EDUCATOR,
        {"i": teacher | {"posts": [{"organizationId": world.b1, "position": "учитель"}]}},
    )


async def test_a_school_representative_edits_their_own_school_only(world: World) -> None:
    db, representative = world.db, world.representative_a1
    await done(db, representative, UPDATE, {"i": {"id": world.a1, "website": "a1.example.org"}})
    await refused(db, representative, UPDATE, {"i": {"id": world.a2, "website": "a2.example.org"}})
    # the kind and the municipality are the registry's structure, not the school's details
    await refused(db, representative, UPDATE, {"i": {"id": world.a1, "kind": "education_authority"}})
    await done(
        db, representative, UPDATE, {"i": {"id": world.a1, "kind": "school", "phone": "+7 847 222-33-44"}}
    )
    # its resources and its educators, not another school's
    await done(db, representative, OFFER, {"i": {"ownerId": world.a1, "kind": "staff", "title": "Наставник"}})
    await refused(
        db, representative, OFFER, {"i": {"ownerId": world.a2, "kind": "staff", "title": "Наставник"}}
    )
    update_educator = "mutation($i: UpdateEducatorInput!) { r: updateEducator(input: $i) { __typename ... on Educator { id } } }"
    await done(
        db, representative, update_educator, {"i": {"id": world.educator_a, "qualificationCategory": "first"}}
    )
    await refused(
        db, representative, update_educator, {"i": {"id": world.educator_b, "qualificationCategory": "first"}}
    )
    # what only editors do, even at their own school
    await refused(
        db,
        representative,
        "mutation($i: EnterStatusInput!) { r: enterStatus(input: $i) { __typename } }",
        {"i": {"organizationId": world.a1, "status": "low_results", "enteredOn": "2024-01-01"}},
    )


async def test_anonymous_callers_experts_and_viewers_change_nothing_and_see_no_names(world: World) -> None:
    db = world.db
    change = {"i": {"id": world.a1, "website": "a1.example.org"}}
    await refused(db, ANONYMOUS, UPDATE, change, code="UNAUTHENTICATED")
    await refused(db, ANONYMOUS, EDUCATORS, code="UNAUTHENTICATED")
    for role in (Role.expert, Role.viewer):
        who = someone(role, region_code="08")
        await refused(db, who, UPDATE, change)
        await refused(db, who, REGISTER, {"i": org(20, ELISTA)})
        await refused(db, who, EDUCATORS)
        await refused(db, who, EDUCATOR, {"id": world.educator_a})
        await refused(db, who, ENTITIES, {"r": [{"__typename": "Educator", "id": world.educator_a}]})
        # whatever is public stays public
        data = await ok(db, who, '{ organizations(regionCode: "08") { edges { node { id } } } }')
        assert len(data["organizations"]["edges"]) == 3
    data = await ok(db, ANONYMOUS, '{ organizations(regionCode: "08") { edges { node { id } } } }')
    assert len(data["organizations"]["edges"]) == 3


async def test_personal_data_is_read_in_scope_only(world: World) -> None:
    db = world.db

    async def names(who: Identity) -> list[str]:
        data = await ok(db, who, EDUCATORS)
        return [e["node"]["lastName"] for e in data["educators"]["edges"]]

    assert await names(ADMIN) == ["Бадмаева", "Горяева"]
    assert await names(someone(Role.regional_admin, region_code="08")) == ["Бадмаева", "Горяева"]
    assert await names(someone(Role.regional_admin, region_code="39")) == []
    assert await names(world.coordinator_a) == ["Бадмаева"]
    assert await names(world.representative_a1) == ["Бадмаева"]
    assert await names(someone(Role.school_representative, organization_id=world.a2)) == []

    coordinator = world.coordinator_a
    assert (await ok(db, coordinator, EDUCATOR, {"id": world.educator_a}))["educator"][
        "lastName"
    ] == "Бадмаева"
    assert (await ok(db, coordinator, EDUCATOR, {"id": world.educator_b}))["educator"] is None
    representations = [{"__typename": "Educator", "id": i} for i in (world.educator_a, world.educator_b)]
    found = (await ok(db, coordinator, ENTITIES, {"r": representations}))["_entities"]
    assert [e and e["lastName"] for e in found] == ["Бадмаева", None]

    # an educator who moved on stays with the schools they work at now
    employ = 'mutation($e: ID!) { r: employEducator(educatorId: $e, post: {organizationId: "%s", position: "учитель"}) { __typename ... on Employment { id } } }'
    await done(db, ADMIN, employ % world.b1, {"e": world.educator_a})
    assert await names(world.representative_a1) == ["Бадмаева"]  # still works at A1 too
    employments = "query($id: ID!) { educator(id: $id) { employments { id organizationId } } }"
    posts = (await ok(db, ADMIN, employments, {"id": world.educator_a}))["educator"]["employments"]
    at_a1 = next(p["id"] for p in posts if p["organizationId"] == world.a1)
    # two schools concern them now: neither school alone may end a post
    close = 'mutation($e: ID!) { r: endEmployment(employmentId: $e, endedOn: "2030-01-01") { __typename } }'
    await refused(db, world.representative_a1, close, {"e": at_a1})
    await done(db, ADMIN, close, {"e": at_a1})


async def test_unknown_ids_are_refused_or_not_found_never_a_crash(world: World) -> None:
    db = world.db
    unknown = {"i": {"id": "00000000-0000-0000-0000-000000000000", "website": "x.example.org"}}
    data = await ok(db, ADMIN, UPDATE, unknown)
    assert data["r"] == {
        "__typename": "ValidationError",
        "field": "id",
        "message": "Такой организации нет",
        "code": "ORGANIZATION_NOT_FOUND",
    }
    await refused(db, someone(Role.regional_admin, region_code="08"), UPDATE, unknown)
    malformed = await ok(
        db, world.coordinator_a, UPDATE, {"i": {"id": "not-an-id", "website": "x.example.org"}}
    )
    assert malformed["r"] == {
        "__typename": "ValidationError",
        "field": "id",
        "message": "Это не идентификатор",
        "code": "INVALID_ID",
    }
    await refused(
        db,
        world.coordinator_a,
        'mutation { r: closeNetwork(networkId: "nope", endedOn: "2030-01-01") { __typename } }',
    )


async def test_each_write_is_audited_once_with_the_events_it_caused(world: World) -> None:
    db, coordinator = world.db, world.coordinator_a
    before = len(await outbox_rows(db))
    await done(db, coordinator, UPDATE, {"i": {"id": world.a2, "website": "a2.example.org"}})
    archive = "mutation($o: ID!) { r: archiveOrganization(id: $o) { __typename ... on Organization { id } } }"
    resource = await done(
        db, coordinator, OFFER, {"i": {"ownerId": world.a2, "kind": "material", "title": "Кабинет"}}
    )
    await done(db, coordinator, archive, {"o": world.a2})
    rows = (await outbox_rows(db))[before:]
    audits = [r for r in rows if r[0] == topics.AUDIT]
    assert [r[1] for r in audits] == [AuditRecorded.event_type] * 3
    assert all(r[2] == "coordinator-a" for r in audits), "keyed by the caller's subject"
    entries = [json.loads(r[3]) for r in audits]
    assert [e["operation"] for e in entries] == ["updateOrganization", "offerResource", "archiveOrganization"]
    domain = [r for r in rows if r[0] != topics.AUDIT]
    assert sum(len(e["events"]) for e in entries) == len(domain), "every event is in the trail, once"
    for entry in entries:
        assert entry["service"] == "registry"
        assert entry["subject"] == "coordinator-a"
        assert entry["roles"] == ["municipal_coordinator"]
        assert entry["actor_municipality_id"] == world.municipality_a
        assert entry["municipality_id"] == world.municipality_a
        assert entry["organization_ids"] == [world.a2]
    assert [e["event_type"] for e in entries[0]["events"]] == ["setka.registry.organization.updated.v1"]
    assert [(e["event_type"], e["key"]) for e in entries[2]["events"]] == [
        ("setka.registry.resource.withdrawn.v1", resource["id"]),
        ("setka.registry.organization.archived.v1", world.a2),
    ]
    # a write that changes nothing is still a write someone made: audited, with no events
    await done(db, coordinator, UPDATE, {"i": {"id": world.a1}})
    (last,) = [json.loads(r[3]) for r in (await outbox_rows(db))[before + len(rows) :]]
    assert last["operation"] == "updateOrganization" and last["events"] == []
