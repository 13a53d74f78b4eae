"""Every registry rule against real PostgreSQL: the refusal, and that nothing was written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from setka_contracts.registry import RiskFactor
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.tables import outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import agreements, educators, networks, reference, resources, statuses
from services.registry import organizations as orgs
from services.registry.models import Municipality, RegistryModel, Regulation

pytestmark = pytest.mark.integration

D = date.fromisoformat
_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn(number: int) -> str:
    body = f"39{number:07d}"
    return body + str(sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11 % 10)


def ogrn(number: int) -> str:
    body = f"1023900{number:05d}"
    return body + str(int(body) % 11 % 10)


@pytest.fixture
async def registry(service_databases: dict[str, str]) -> AsyncIterator[Database]:
    db = Database(service_databases["registry"])
    yield db
    await db.dispose()


async def counts(db: Database) -> dict[str, int]:
    """Rows of every registry table and of the outbox."""
    async with db.session() as session:
        result = {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in RegistryModel.metadata.sorted_tables
        }
        result["outbox"] = int(await session.scalar(select(func.count()).select_from(outbox)) or 0)
    return result


async def refused(
    db: Database, command: Callable[[AsyncSession], Awaitable[Any]], field: str | None, code: str
) -> DomainError:
    """``command`` is refused by the rule ``code`` at ``field``, with a message, and writes nothing."""
    before = await counts(db)
    with pytest.raises(DomainError) as error:
        async with db.session() as session, session.begin():
            await command(session)
    assert (error.value.code, error.value.field) == (code, field), error.value.message
    assert error.value.message
    assert await counts(db) == before, "a refused command wrote something"
    return error.value


async def run(db: Database, command: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async with db.session() as session, session.begin():
        return await command(session)


class World:
    """A Baltiysk-like setting: an authority, a methodological office, schools with statuses."""

    authority: uuid.UUID
    office: uuid.UUID
    stable: uuid.UUID
    low: uuid.UUID
    adverse: uuid.UUID
    plain: uuid.UUID
    network: uuid.UUID
    municipality: uuid.UUID


async def world(db: Database) -> World:
    w = World()

    async def build(session: AsyncSession) -> None:
        await reference.load_reference(session)
        w.municipality = (
            await session.scalars(select(Municipality.id).where(Municipality.name.startswith("Балтийский")))
        ).one()

        async def org(n: int, kind: str, name: str) -> uuid.UUID:
            command = orgs.RegisterOrganization(
                full_name=name,
                short_name=name,
                kind=kind,
                region_code="39",
                inn=inn(n),
                ogrn=ogrn(n),
                municipality="Балтийский муниципальный округ",
            )
            return (await orgs.register_organization(session, command)).id

        w.authority = await org(1, "education_authority", "Управление образования")
        w.office = await org(2, "methodological_service", "Методический кабинет")
        w.stable = await org(3, "school", "СОШ № 1")
        w.low = await org(4, "school", "СОШ № 2")
        w.adverse = await org(5, "school", "СОШ № 3")
        w.plain = await org(6, "school", "СОШ № 4")
        for school, status in (
            (w.stable, "stable_results"),
            (w.low, "low_results"),
            (w.adverse, "adverse_social_conditions"),
        ):
            await statuses.enter_status(session, statuses.EnterStatus(school, status, D("2021-01-01")))
        w.network = (
            await networks.create_network(
                session,
                networks.CreateNetwork(
                    name="Сеть Балтийского округа",
                    level="municipal",
                    region_code="39",
                    governing_body_id=w.authority,
                    started_on=D("2021-09-01"),
                    municipality_id=w.municipality,
                    coordinator_id=w.office,
                ),
            )
        ).id

    await run(db, build)
    return w


async def test_organization_identifiers_are_validated_and_unique(registry: Database) -> None:
    w = await world(registry)

    def register(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values = {"full_name": "Школа", "short_name": "Школа", "kind": "school", "region_code": "39"} | extra
        return lambda s: orgs.register_organization(s, orgs.RegisterOrganization(**values))

    await refused(registry, register(inn="3900000001"), "inn", "INN_CHECKSUM")
    await refused(registry, register(ogrn="1023900000001"), "ogrn", "OGRN_CHECKSUM")
    await refused(registry, register(school_code="390101"), "schoolCode", "SCHOOL_CODE_FORMAT")
    await refused(registry, register(inn=inn(3)), "inn", "IDENTIFIER_TAKEN")
    await refused(registry, register(ogrn=ogrn(3)), "ogrn", "IDENTIFIER_TAKEN")
    await refused(registry, register(kind="university"), "kind", "UNKNOWN_CHOICE")
    await refused(registry, register(full_name="  "), "fullName", "EMPTY")
    await refused(registry, register(website="not a site"), "website", "LINK_FORMAT")
    await refused(
        registry, register(municipality_id=uuid.uuid4()), "municipalityId", "MUNICIPALITY_NOT_FOUND"
    )
    await run(registry, register(school_code="sch390101"))
    await refused(registry, register(school_code="SCH390101"), "schoolCode", "IDENTIFIER_TAKEN")
    update = orgs.UpdateOrganization(organization_id=w.low, inn=inn(3))
    await refused(registry, lambda s: orgs.update_organization(s, update), "inn", "IDENTIFIER_TAKEN")


async def test_archived_organizations_are_kept_and_refuse_changes(registry: Database) -> None:
    w = await world(registry)
    await run(
        registry,
        lambda s: networks.join_network(
            s, networks.JoinNetwork(w.network, w.plain, "partner", D("2022-01-01"))
        ),
    )
    offer = resources.OfferResource(owner_id=w.plain, kind="staff", title="Учитель-логопед")
    await run(registry, lambda s: resources.offer_resource(s, offer))
    await run(registry, lambda s: orgs.archive_organization(s, w.plain, reason="реорганизация"))
    async with registry.session() as session:
        page = await orgs.list_organizations(session, orgs.OrganizationFilter(), first=100, after=None)
        assert w.plain not in {o.id for o in page.rows}
        archived = await orgs.list_organizations(
            session, orgs.OrganizationFilter(include_archived=True, search=inn(6)), first=10, after=None
        )
        assert [o.id for o in archived.rows] == [w.plain]
        membership = (await networks.memberships_in(session, w.network, w.plain))[0]
        assert membership.left_on == date.today()
    await refused(registry, lambda s: orgs.archive_organization(s, w.plain), "id", "ORGANIZATION_ARCHIVED")
    update = orgs.UpdateOrganization(organization_id=w.plain, short_name="Новое")
    await refused(registry, lambda s: orgs.update_organization(s, update), "id", "ORGANIZATION_ARCHIVED")
    join = networks.JoinNetwork(w.network, w.plain, "partner", D("2030-01-01"))
    await refused(
        registry, lambda s: networks.join_network(s, join), "organizationId", "ORGANIZATION_ARCHIVED"
    )


async def test_status_history_rules(registry: Database) -> None:
    w = await world(registry)

    def enter(
        org: uuid.UUID, status: str, on: str, left: str | None = None
    ) -> Callable[[AsyncSession], Awaitable[Any]]:
        command = statuses.EnterStatus(org, status, D(on), D(left) if left else None)
        return lambda s: statuses.enter_status(s, command)

    await refused(registry, enter(w.stable, "low_results", "2024-01-01"), "status", "STATUSES_EXCLUSIVE")
    await refused(registry, enter(w.low, "stable_results", "2020-01-01"), "status", "STATUSES_EXCLUSIVE")
    await refused(registry, enter(w.low, "low_results", "2022-01-01"), "enteredOn", "STATUS_ALREADY_HELD")
    await refused(registry, enter(w.authority, "low_results", "2022-01-01"), "organizationId", "NOT_A_SCHOOL")
    await refused(
        registry, enter(w.plain, "low_results", "2022-01-01", "2021-01-01"), "leftOn", "END_NOT_AFTER_START"
    )
    await refused(registry, enter(w.plain, "excellent", "2022-01-01"), "status", "UNKNOWN_CHOICE")
    leave = statuses.LeaveStatus(w.plain, "low_results", D("2024-01-01"))
    await refused(registry, lambda s: statuses.leave_status(s, leave), "status", "STATUS_NOT_HELD")

    # a school leaves the low-results list, then becomes stable the same day: allowed
    await run(
        registry,
        lambda s: statuses.leave_status(s, statuses.LeaveStatus(w.low, "low_results", D("2023-09-01"))),
    )
    await run(registry, enter(w.low, "stable_results", "2023-09-01"))
    async with registry.session() as session:
        assert await statuses.statuses_on(session, w.low, D("2023-08-31")) == ["low_results"]
        assert await statuses.statuses_on(session, w.low, D("2023-09-01")) == ["stable_results"]
        low_then = orgs.OrganizationFilter(status="low_results", on=D("2022-01-01"))
        assert {
            o.id for o in (await orgs.list_organizations(session, low_then, first=10, after=None)).rows
        } == {w.low}


async def test_risk_profile_rules(registry: Database) -> None:
    w = await world(registry)
    full = {factor.value: "low" for factor in RiskFactor}

    def assess(org: uuid.UUID, on: date, factors: dict[str, str]) -> Callable[[AsyncSession], Awaitable[Any]]:
        return lambda s: statuses.assess_risk_profile(s, statuses.AssessRiskProfile(org, on, factors))

    await refused(
        registry,
        assess(w.low, D("2024-01-01"), {"teacher_shortage": "high"}),
        "factors",
        "RISK_FACTORS_MISSING",
    )
    await refused(
        registry,
        assess(w.low, D("2024-01-01"), full | {"teacher_shortage": "huge"}),
        "factors",
        "UNKNOWN_CHOICE",
    )
    await refused(registry, assess(w.office, D("2024-01-01"), full), "organizationId", "NOT_A_SCHOOL")
    tomorrow = date.today() + timedelta(days=1)
    await refused(registry, assess(w.low, tomorrow, full), "assessedOn", "DATE_IN_FUTURE")
    first = await run(registry, assess(w.low, D("2024-01-01"), full))
    again = await run(registry, assess(w.low, D("2024-01-01"), full | {"teacher_shortage": "high"}))
    assert first.id == again.id, "a second assessment on one date replaces the first"
    async with registry.session() as session:
        levels = (await statuses.factor_levels(session, [first.id]))[first.id]
        assert {r.factor: r.level for r in levels}["teacher_shortage"] == "high"
        assert len(levels) == len(RiskFactor)


async def test_network_rules(registry: Database) -> None:
    w = await world(registry)

    def create(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {
            "name": "Сеть",
            "level": "regional",
            "region_code": "39",
            "governing_body_id": w.authority,
            "started_on": D("2022-01-01"),
        } | extra
        return lambda s: networks.create_network(s, networks.CreateNetwork(**values))

    await refused(
        registry, create(governing_body_id=w.office), "governingBodyId", "GOVERNING_BODY_NOT_AUTHORITY"
    )
    await refused(registry, create(level="municipal"), "municipalityId", "MUNICIPALITY_REQUIRED")
    await refused(registry, create(level="national"), "level", "UNKNOWN_CHOICE")
    await refused(registry, create(region_code="08"), "governingBodyId", "GOVERNING_BODY_IN_ANOTHER_REGION")
    await refused(registry, create(ended_on=D("2021-01-01")), "endedOn", "END_NOT_AFTER_START")
    await refused(registry, create(coordinator_id=uuid.uuid4()), "coordinatorId", "ORGANIZATION_NOT_FOUND")


async def test_membership_rules(registry: Database) -> None:
    w = await world(registry)

    def join(
        org: uuid.UUID, role: str, on: str, left: str | None = None
    ) -> Callable[[AsyncSession], Awaitable[Any]]:
        command = networks.JoinNetwork(w.network, org, role, D(on), D(left) if left else None)
        return lambda s: networks.join_network(s, command)

    await refused(registry, join(w.low, "centre", "2022-01-01"), "role", "CENTRE_NEEDS_STABLE_RESULTS")
    await refused(registry, join(w.plain, "centre", "2022-01-01"), "role", "CENTRE_NEEDS_STABLE_RESULTS")
    await refused(registry, join(w.stable, "centre", "2020-06-01"), "joinedOn", "NETWORK_NOT_RUNNING")
    await refused(registry, join(w.stable, "supported", "2022-01-01"), "role", "SUPPORTED_NEEDS_STATUS")
    await refused(registry, join(w.plain, "supported", "2022-01-01"), "role", "SUPPORTED_NEEDS_STATUS")
    await refused(registry, join(w.low, "chairman", "2022-01-01"), "role", "UNKNOWN_CHOICE")

    centre = await run(registry, join(w.stable, "centre", "2022-01-01"))
    await run(registry, join(w.low, "supported", "2022-01-01"))
    await run(registry, join(w.adverse, "supported", "2022-01-01", "2023-01-01"))
    await refused(registry, join(w.stable, "partner", "2023-01-01"), "joinedOn", "ALREADY_MEMBER")
    await refused(registry, join(w.adverse, "partner", "2022-12-31"), "joinedOn", "ALREADY_MEMBER")
    await run(registry, join(w.adverse, "partner", "2023-01-01"))  # the day the earlier one ended

    leave = lambda s: networks.leave_network(s, centre.id, D("2021-12-31"))  # noqa: E731
    await refused(registry, leave, "leftOn", "END_NOT_AFTER_START")
    await run(registry, lambda s: networks.leave_network(s, centre.id, D("2024-01-01")))
    await refused(
        registry,
        lambda s: networks.leave_network(s, centre.id, D("2025-01-01")),
        "membershipId",
        "MEMBERSHIP_ENDED",
    )
    # a partner can be made the centre only on a date it holds stable results
    await run(registry, join(w.plain, "partner", "2022-01-01"))
    designate = lambda s: networks.designate_centre(s, w.network, w.plain, D("2024-02-01"))  # noqa: E731
    await refused(registry, designate, "role", "CENTRE_NEEDS_STABLE_RESULTS")
    await run(
        registry,
        lambda s: statuses.enter_status(s, statuses.EnterStatus(w.plain, "stable_results", D("2024-01-01"))),
    )
    new = await run(registry, designate)
    async with registry.session() as session:
        rows = await networks.memberships_in(session, w.network, w.plain)
        assert [(r.role, r.joined_on, r.left_on) for r in rows] == [
            ("partner", D("2022-01-01"), D("2024-02-01")),
            ("centre", D("2024-02-01"), None),
        ]
        assert new.role == "centre"
    await run(registry, lambda s: networks.close_network(s, w.network, D("2025-09-01")))
    await refused(registry, join(w.low, "partner", "2025-01-01"), "networkId", "NETWORK_CLOSED")


async def test_interaction_group_rules(registry: Database) -> None:
    w = await world(registry)
    await run(
        registry,
        lambda s: networks.join_network(
            s, networks.JoinNetwork(w.network, w.low, "supported", D("2022-01-01"))
        ),
    )
    inside = await run(
        registry,
        lambda s: educators.register_educator(
            s, educators.RegisterEducator("Иванова", "Анна", posts=[educators.Post(w.low, "учитель")])
        ),
    )
    outside = await run(
        registry,
        lambda s: educators.register_educator(
            s, educators.RegisterEducator("Петров", "Олег", posts=[educators.Post(w.plain, "учитель")])
        ),
    )

    def form(
        educator_ids: list[uuid.UUID], organization_ids: list[uuid.UUID]
    ) -> Callable[[AsyncSession], Awaitable[Any]]:
        command = networks.FormInteractionGroup(
            w.network, "РМО математиков", "обмен опытом", educator_ids, organization_ids
        )
        return lambda s: networks.form_interaction_group(s, command)

    await refused(registry, form([], []), "educatorIds", "GROUP_EMPTY")
    await refused(registry, form([], [w.plain]), "organizationIds", "GROUP_ORGANIZATION_NOT_MEMBER")
    await refused(registry, form([outside.id], []), "educatorIds", "GROUP_EDUCATOR_NOT_AT_MEMBER")
    group = await run(registry, form([inside.id], [w.low]))
    change = networks.ChangeGroupMembers(
        group.id, remove_educator_ids=[inside.id], remove_organization_ids=[w.low]
    )
    await refused(
        registry, lambda s: networks.change_group_members(s, change), "removeEducatorIds", "GROUP_EMPTY"
    )


async def test_educator_rules(registry: Database) -> None:
    w = await world(registry)

    def register(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {"last_name": "Иванова", "first_name": "Анна"} | extra
        return lambda s: educators.register_educator(s, educators.RegisterEducator(**values))

    await refused(registry, register(last_name=" "), "lastName", "EMPTY")
    await refused(
        registry, register(qualification_category="supreme"), "qualificationCategory", "UNKNOWN_CHOICE"
    )
    await refused(
        registry,
        register(posts=[educators.Post(uuid.uuid4(), "учитель")]),
        "organizationId",
        "ORGANIZATION_NOT_FOUND",
    )
    twice = [educators.Post(w.low, "учитель"), educators.Post(w.low, "завуч")]
    await refused(registry, register(posts=twice), "organizationId", "ALREADY_EMPLOYED")
    person = await run(
        registry, register(external_id="T-1", posts=[educators.Post(w.low, "учитель", D("2020-09-01"))])
    )
    await refused(registry, register(external_id="T-1"), "externalId", "IDENTIFIER_TAKEN")
    # one person, two organizations
    second = await run(
        registry,
        lambda s: educators.employ(s, person.id, educators.Post(w.stable, "совместитель", D("2021-09-01"))),
    )
    await refused(
        registry,
        lambda s: educators.end_employment(s, second.id, D("1999-01-01")),
        "endedOn",
        "END_NOT_AFTER_START",
    )


async def test_resource_and_agreement_rules(registry: Database) -> None:
    w = await world(registry)

    def offer(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {
            "owner_id": w.stable,
            "kind": "methodological",
            "title": "Банк заданий",
        } | extra
        return lambda s: resources.offer_resource(s, resources.OfferResource(**values))

    await refused(registry, offer(kind="money"), "kind", "UNKNOWN_CHOICE")
    await refused(registry, offer(capacity=0), "capacity", "NOT_POSITIVE")
    await refused(
        registry,
        offer(available_from=D("2024-02-01"), available_to=D("2024-01-01")),
        "availableTo",
        "END_NOT_AFTER_START",
    )
    resource = await run(registry, offer(subjects=["Математика"]))
    await run(registry, lambda s: resources.withdraw_resource(s, resource.id))
    await refused(
        registry, lambda s: resources.withdraw_resource(s, resource.id), "resourceId", "RESOURCE_WITHDRAWN"
    )

    def sign(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {
            "number": "1/2024",
            "signed_on": D("2024-01-10"),
            "subject": "Сетевое взаимодействие",
            "party_ids": [w.stable, w.low],
            "valid_from": D("2024-01-10"),
        } | extra
        return lambda s: agreements.sign_agreement(s, agreements.SignAgreement(**values))

    await refused(registry, sign(party_ids=[w.stable]), "partyIds", "PARTIES_TOO_FEW")
    await refused(registry, sign(party_ids=[w.stable, w.stable]), "partyIds", "PARTIES_TOO_FEW")
    await refused(registry, sign(party_ids=[w.stable, uuid.uuid4()]), "partyIds", "ORGANIZATION_NOT_FOUND")
    await refused(registry, sign(valid_from=D("2024-01-01")), "validFrom", "EFFECT_BEFORE_SIGNING")
    await refused(registry, sign(valid_to=D("2024-01-10")), "validTo", "END_NOT_AFTER_START")
    agreement = await run(registry, sign())
    await run(registry, lambda s: agreements.terminate_agreement(s, agreement.id, D("2024-06-01")))
    await refused(
        registry,
        lambda s: agreements.terminate_agreement(s, agreement.id, D("2024-07-01")),
        "agreementId",
        "AGREEMENT_TERMINATED",
    )

    def issue(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {
            "kind": "order",
            "number": "474",
            "issued_on": D("2017-08-10"),
            "issuer_id": w.authority,
            "title": "О Положении о сетевом взаимодействии",
        } | extra
        return lambda s: agreements.issue_regulation(s, agreements.IssueRegulation(**values))

    await refused(registry, issue(kind="law"), "kind", "UNKNOWN_CHOICE")
    await refused(registry, issue(link="file:///etc/passwd"), "link", "LINK_FORMAT")
    await refused(registry, issue(issued_on=date.today() + timedelta(days=2)), "issuedOn", "DATE_IN_FUTURE")
    await run(registry, issue(link="https://uo-baltiysk.example.org/474.pdf"))


# -- corrections: a network updated, an agreement amended, a document's editions --------------------


async def published(db: Database, event_type: str) -> list[dict[str, Any]]:
    """The data of every ``event_type`` in the outbox, oldest first, with its message key."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.key, outbox.c.payload)
                .where(outbox.c.event_type == event_type)
                .order_by(outbox.c.id)
            )
        ).all()
    return [json.loads(row.payload) | {"_key": row.key} for row in rows]


async def test_a_network_is_corrected_by_the_rules_of_its_creation(registry: Database) -> None:
    w = await world(registry)
    updated = "setka.registry.network.updated.v1"

    def update(**given: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        return lambda s: networks.update_network(s, networks.UpdateNetwork(w.network, **given))

    renamed = await run(registry, update(name="  Сеть   школ Балтийска "))
    assert (renamed.name, renamed.version, renamed.search_text) == (
        "Сеть школ Балтийска",
        2,
        "сеть школ балтийска",
    )
    (event,) = await published(registry, updated)
    assert event["_key"] == str(w.network)
    assert (event["version"], event["name"], event["changed"]) == (2, "Сеть школ Балтийска", ["name"])
    assert (event["level"], event["municipality_id"]) == ("municipal", str(w.municipality))
    assert event["coordinator_id"] == str(w.office) and event["governing_body_id"] == str(w.authority)

    # the same name again changes nothing and records nothing, as for an organization
    same = await run(registry, update(name="Сеть школ Балтийска"))
    assert same.version == 2 and len(await published(registry, updated)) == 1

    async with registry.session() as session:
        elsewhere = (
            await session.scalars(select(Municipality.id).where(Municipality.region_code != "39"))
        ).first()
    await refused(registry, update(name=" "), "name", "EMPTY")
    await refused(registry, update(level="national"), "level", "UNKNOWN_CHOICE")
    await refused(
        registry, update(municipality_id=elsewhere), "municipalityId", "MUNICIPALITY_IN_ANOTHER_REGION"
    )
    await refused(registry, update(municipality_id=uuid.uuid4()), "municipalityId", "MUNICIPALITY_NOT_FOUND")
    await refused(
        registry,
        update(level="regional", municipality_id=w.municipality),
        "municipalityId",
        "MUNICIPALITY_NOT_FOR_LEVEL",
    )
    await refused(
        registry, update(governing_body_id=w.office), "governingBodyId", "GOVERNING_BODY_NOT_AUTHORITY"
    )
    await refused(registry, update(coordinator_id=uuid.uuid4()), "coordinatorId", "ORGANIZATION_NOT_FOUND")
    await refused(
        registry,
        update(coordinator_id=w.stable, remove_coordinator=True),
        "coordinatorId",
        "COORDINATOR_CONFLICT",
    )

    # made regional it is no one municipality's; made municipal again it needs one
    regional = await run(registry, update(level="regional", coordinator_id=w.stable))
    assert (regional.level, regional.municipality_id, regional.coordinator_id) == ("regional", None, w.stable)
    event = (await published(registry, updated))[-1]
    assert (event["version"], event["changed"]) == (3, ["level", "municipality_id", "coordinator_id"])
    await refused(registry, update(level="municipal"), "municipalityId", "MUNICIPALITY_REQUIRED")
    back = await run(
        registry, update(level="municipal", municipality_id=w.municipality, remove_coordinator=True)
    )
    assert (back.level, back.municipality_id, back.coordinator_id, back.version) == (
        "municipal",
        w.municipality,
        None,
        4,
    )

    # closing is a version too; a closed network is no longer corrected
    closed = await run(registry, lambda s: networks.close_network(s, w.network, D("2025-09-01")))
    assert closed.version == 5
    (closing,) = await published(registry, "setka.registry.network.closed.v1")
    assert closing["version"] == 5
    await refused(registry, update(name="Другая"), "networkId", "NETWORK_CLOSED")


async def test_an_agreement_is_amended_and_terminated_version_by_version(registry: Database) -> None:
    w = await world(registry)
    signed = await run(
        registry,
        lambda s: agreements.sign_agreement(
            s,
            agreements.SignAgreement(
                "7/2024",
                D("2024-01-10"),
                "Сетевое взаимодействие",
                [w.stable, w.low],
                D("2024-01-10"),
                D("2026-01-10"),
            ),
        ),
    )
    assert signed.version == 1

    def amend(**given: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {"number": "ДС-1", "amended_on": D("2024-03-01")} | given
        return lambda s: agreements.amend_agreement(s, agreements.AmendAgreement(signed.id, **values))

    await refused(registry, amend(), None, "NOTHING_CHANGED")
    await refused(registry, amend(number=" ", valid_to=D("2027-01-10")), "number", "EMPTY")
    await refused(
        registry,
        amend(amended_on=D("2024-01-01"), valid_to=D("2027-01-10")),
        "amendedOn",
        "AMENDMENT_BEFORE_AGREEMENT",
    )
    tomorrow = date.today() + timedelta(days=1)
    await refused(
        registry, amend(amended_on=tomorrow, valid_to=D("2099-01-10")), "amendedOn", "DATE_IN_FUTURE"
    )
    await refused(registry, amend(remove_party_ids=[w.adverse]), "removePartyIds", "NOT_A_PARTY")
    await refused(registry, amend(remove_party_ids=[w.low]), "removePartyIds", "PARTIES_TOO_FEW")
    await refused(registry, amend(add_party_ids=[uuid.uuid4()]), "addPartyIds", "ORGANIZATION_NOT_FOUND")
    # adding a party already there is no change
    await refused(registry, amend(add_party_ids=[w.low]), None, "NOTHING_CHANGED")
    await refused(registry, amend(valid_to=D("2024-01-05")), "validTo", "END_NOT_AFTER_START")
    await refused(registry, amend(valid_to=D("2024-02-01")), "validTo", "VALID_TO_BEFORE_AMENDMENT")
    await refused(registry, amend(valid_to=D("2027-01-10"), open_ended=True), "validTo", "VALID_TO_CONFLICT")

    amended = await run(
        registry,
        amend(
            add_party_ids=[w.adverse],
            remove_party_ids=[w.low],
            valid_to=D("2027-01-10"),
            basis="Решение совета сети от 20.02.2024",
        ),
    )
    assert (amended.version, amended.valid_to, amended.subject) == (
        2,
        D("2027-01-10"),
        "Сетевое взаимодействие",
    )
    async with registry.session() as session:
        assert set((await agreements.parties_of(session, [signed.id]))[signed.id]) == {w.stable, w.adverse}
        (row,) = (await agreements.amendments_of(session, [signed.id]))[signed.id]
    assert (row.version, row.number, row.added_party_ids, row.removed_party_ids) == (
        2,
        "ДС-1",
        [str(w.adverse)],
        [str(w.low)],
    )
    assert (row.valid_to_before, row.valid_to_after, row.changes_valid_to) == (
        D("2026-01-10"),
        D("2027-01-10"),
        True,
    )
    (event,) = await published(registry, "setka.registry.agreement.amended.v1")
    assert event["_key"] == str(signed.id)
    assert (event["version"], event["amendment_number"], event["amended_on"]) == (2, "ДС-1", "2024-03-01")
    assert (event["added_party_ids"], event["removed_party_ids"]) == ([str(w.adverse)], [str(w.low)])
    assert set(event["party_ids"]) == {str(w.stable), str(w.adverse)} and len(event["party_inns"]) == 2
    assert (event["number"], event["valid_to"], event["basis"]) == (
        "7/2024",
        "2027-01-10",
        "Решение совета сети от 20.02.2024",
    )

    await refused(registry, amend(subject="Другое"), "number", "AMENDMENT_NUMBER_TAKEN")
    second = await run(
        registry, amend(number="ДС-2", open_ended=True, subject="Сетевое взаимодействие и наставничество")
    )
    assert (second.version, second.valid_to, second.subject) == (
        3,
        None,
        "Сетевое взаимодействие и наставничество",
    )

    ended = await run(registry, lambda s: agreements.terminate_agreement(s, signed.id, D("2025-01-01")))
    assert (ended.status, ended.version) == ("terminated", 4)
    (terminated,) = await published(registry, "setka.registry.agreement.terminated.v1")
    assert terminated["version"] == 4
    await refused(
        registry, amend(number="ДС-3", valid_to=D("2030-01-01")), "agreementId", "AGREEMENT_TERMINATED"
    )

    short = await run(
        registry,
        lambda s: agreements.sign_agreement(
            s,
            agreements.SignAgreement(
                "8/2024", D("2024-01-10"), "Обмен", [w.stable, w.low], D("2024-01-10"), D("2024-02-01")
            ),
        ),
    )
    expired = agreements.AmendAgreement(short.id, "ДС-1", D("2024-03-01"), valid_to=D("2025-01-01"))
    await refused(
        registry, lambda s: agreements.amend_agreement(s, expired), "amendedOn", "AGREEMENT_EXPIRED"
    )


async def test_a_regulation_gets_new_editions_and_is_withdrawn_staying_readable(registry: Database) -> None:
    w = await world(registry)
    first = await run(
        registry,
        lambda s: agreements.issue_regulation(
            s,
            agreements.IssueRegulation(
                "provision",
                "474",
                D("2017-08-10"),
                w.authority,
                "Положение о сетевом взаимодействии",
                network_id=w.network,
            ),
        ),
    )
    assert (first.status, first.edition, first.first_edition_id) == ("in_force", 1, first.id)

    def revise(regulation: uuid.UUID, **given: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {"number": "112", "issued_on": D("2021-03-01")} | given
        return lambda s: agreements.revise_regulation(s, agreements.ReviseRegulation(regulation, **values))

    await refused(
        registry, revise(first.id, issued_on=D("2016-01-01")), "issuedOn", "EDITION_BEFORE_PREVIOUS"
    )
    await refused(
        registry, revise(first.id, issued_on=date.today() + timedelta(days=1)), "issuedOn", "DATE_IN_FUTURE"
    )
    await refused(registry, revise(first.id, link="ftp://x"), "link", "LINK_FORMAT")
    await refused(registry, revise(uuid.uuid4()), "regulationId", "REGULATION_NOT_FOUND")
    second = await run(registry, revise(first.id, link="https://uo.example.org/112.pdf"))
    assert (second.edition, second.status, second.first_edition_id, second.supersedes_id) == (
        2,
        "in_force",
        first.id,
        first.id,
    )
    assert (second.kind, second.issuer_id, second.network_id, second.title) == (
        "provision",
        w.authority,
        w.network,
        "Положение о сетевом взаимодействии",
    )
    async with registry.session() as session:
        old = await session.get(Regulation, first.id)
        assert old is not None and (old.status, old.superseded_by_id) == ("superseded", second.id)
        editions = (await agreements.editions_of(session, [first.id]))[first.id]
        assert [e.edition for e in editions] == [1, 2]
        in_force = await agreements.list_regulations(
            session, network_id=w.network, issuer_id=None, first=10, after=None, status="in_force"
        )
        assert [r.id for r in in_force.rows] == [second.id]
    (event,) = await published(registry, "setka.registry.regulation.revised.v1")
    assert event["_key"] == str(first.id), "every edition is keyed by the first: in order on one partition"
    assert (event["regulation_id"], event["supersedes_id"], event["edition"]) == (
        str(second.id),
        str(first.id),
        2,
    )
    await refused(registry, revise(first.id), "regulationId", "REGULATION_SUPERSEDED")

    def withdraw(regulation: uuid.UUID, on: date, reason: str = "Утратил силу приказом № 15") -> Any:
        return lambda s: agreements.withdraw_regulation(s, regulation, on, reason)

    await refused(registry, withdraw(second.id, D("2021-03-01")), "on", "END_NOT_AFTER_START")
    await refused(registry, withdraw(second.id, D("2024-01-01"), " "), "reason", "EMPTY")
    await refused(registry, withdraw(first.id, D("2024-01-01")), "regulationId", "REGULATION_SUPERSEDED")
    gone = await run(registry, withdraw(second.id, D("2024-01-01")))
    assert (gone.status, gone.withdrawn_on, gone.withdrawal_reason) == (
        "withdrawn",
        D("2024-01-01"),
        "Утратил силу приказом № 15",
    )
    (withdrawn,) = await published(registry, "setka.registry.regulation.withdrawn.v1")
    assert (withdrawn["_key"], withdrawn["regulation_id"], withdrawn["withdrawn_on"]) == (
        str(first.id),
        str(second.id),
        "2024-01-01",
    )
    await refused(registry, withdraw(second.id, D("2025-01-01")), "regulationId", "REGULATION_WITHDRAWN")
    await refused(registry, revise(second.id), "regulationId", "REGULATION_WITHDRAWN")
