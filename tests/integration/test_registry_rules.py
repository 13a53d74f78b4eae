"""Every registry rule against real PostgreSQL: the refusal, and that nothing was written."""

from __future__ import annotations

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
from services.registry.models import Municipality, RegistryModel

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
    db: Database, command: Callable[[AsyncSession], Awaitable[Any]], field: str, match: str
) -> None:
    before = await counts(db)
    with pytest.raises(DomainError, match=match) as error:
        async with db.session() as session, session.begin():
            await command(session)
    assert error.value.field == field, error.value.message
    assert await counts(db) == before, "a refused command wrote something"


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

    await refused(registry, register(inn="3900000001"), "inn", "checksum")
    await refused(registry, register(ogrn="1023900000001"), "ogrn", "checksum")
    await refused(registry, register(school_code="390101"), "schoolCode", "sch")
    await refused(registry, register(inn=inn(3)), "inn", "already registered")
    await refused(registry, register(ogrn=ogrn(3)), "ogrn", "already registered")
    await refused(registry, register(kind="university"), "kind", "unknown value")
    await refused(registry, register(full_name="  "), "fullName", "empty")
    await refused(registry, register(website="not a site"), "website", "web address")
    await refused(registry, register(municipality_id=uuid.uuid4()), "municipalityId", "no such")
    await run(registry, register(school_code="sch390101"))
    await refused(registry, register(school_code="SCH390101"), "schoolCode", "already registered")
    update = orgs.UpdateOrganization(organization_id=w.low, inn=inn(3))
    await refused(registry, lambda s: orgs.update_organization(s, update), "inn", "already registered")


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
    await refused(registry, lambda s: orgs.archive_organization(s, w.plain), "id", "archived")
    update = orgs.UpdateOrganization(organization_id=w.plain, short_name="Новое")
    await refused(registry, lambda s: orgs.update_organization(s, update), "id", "archived")
    join = networks.JoinNetwork(w.network, w.plain, "partner", D("2030-01-01"))
    await refused(registry, lambda s: networks.join_network(s, join), "organizationId", "archived")


async def test_status_history_rules(registry: Database) -> None:
    w = await world(registry)

    def enter(
        org: uuid.UUID, status: str, on: str, left: str | None = None
    ) -> Callable[[AsyncSession], Awaitable[Any]]:
        command = statuses.EnterStatus(org, status, D(on), D(left) if left else None)
        return lambda s: statuses.enter_status(s, command)

    await refused(registry, enter(w.stable, "low_results", "2024-01-01"), "status", "cannot both hold")
    await refused(registry, enter(w.low, "stable_results", "2020-01-01"), "status", "cannot both hold")
    await refused(registry, enter(w.low, "low_results", "2022-01-01"), "enteredOn", "already holds")
    await refused(registry, enter(w.authority, "low_results", "2022-01-01"), "organizationId", "schools only")
    await refused(registry, enter(w.plain, "low_results", "2022-01-01", "2021-01-01"), "leftOn", "after")
    await refused(registry, enter(w.plain, "excellent", "2022-01-01"), "status", "unknown value")
    leave = statuses.LeaveStatus(w.plain, "low_results", D("2024-01-01"))
    await refused(registry, lambda s: statuses.leave_status(s, leave), "status", "does not hold")

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
        registry, assess(w.low, D("2024-01-01"), {"teacher_shortage": "high"}), "factors", "missing"
    )
    await refused(
        registry, assess(w.low, D("2024-01-01"), full | {"teacher_shortage": "huge"}), "factors", "unknown"
    )
    await refused(registry, assess(w.office, D("2024-01-01"), full), "organizationId", "schools only")
    tomorrow = date.today() + timedelta(days=1)
    await refused(registry, assess(w.low, tomorrow, full), "assessedOn", "future")
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

    await refused(registry, create(governing_body_id=w.office), "governingBodyId", "education authority")
    await refused(registry, create(level="municipal"), "municipalityId", "needs its municipality")
    await refused(registry, create(level="national"), "level", "unknown value")
    await refused(registry, create(region_code="08"), "governingBodyId", "another region")
    await refused(registry, create(ended_on=D("2021-01-01")), "endedOn", "after")
    await refused(registry, create(coordinator_id=uuid.uuid4()), "coordinatorId", "no such")


async def test_membership_rules(registry: Database) -> None:
    w = await world(registry)

    def join(
        org: uuid.UUID, role: str, on: str, left: str | None = None
    ) -> Callable[[AsyncSession], Awaitable[Any]]:
        command = networks.JoinNetwork(w.network, org, role, D(on), D(left) if left else None)
        return lambda s: networks.join_network(s, command)

    await refused(registry, join(w.low, "centre", "2022-01-01"), "role", "only a school with stable_results")
    await refused(
        registry, join(w.plain, "centre", "2022-01-01"), "role", "only a school with stable_results"
    )
    await refused(registry, join(w.stable, "centre", "2020-06-01"), "joinedOn", "does not run")
    await refused(registry, join(w.stable, "supported", "2022-01-01"), "role", "must hold low_results")
    await refused(registry, join(w.plain, "supported", "2022-01-01"), "role", "must hold low_results")
    await refused(registry, join(w.low, "chairman", "2022-01-01"), "role", "unknown value")

    centre = await run(registry, join(w.stable, "centre", "2022-01-01"))
    await run(registry, join(w.low, "supported", "2022-01-01"))
    await run(registry, join(w.adverse, "supported", "2022-01-01", "2023-01-01"))
    await refused(registry, join(w.stable, "partner", "2023-01-01"), "joinedOn", "already a member")
    await refused(registry, join(w.adverse, "partner", "2022-12-31"), "joinedOn", "already a member")
    await run(registry, join(w.adverse, "partner", "2023-01-01"))  # the day the earlier one ended

    leave = lambda s: networks.leave_network(s, centre.id, D("2021-12-31"))  # noqa: E731
    await refused(registry, leave, "leftOn", "after")
    await run(registry, lambda s: networks.leave_network(s, centre.id, D("2024-01-01")))
    await refused(
        registry,
        lambda s: networks.leave_network(s, centre.id, D("2025-01-01")),
        "membershipId",
        "already ended",
    )
    # a partner can be made the centre only on a date it holds stable results
    await run(registry, join(w.plain, "partner", "2022-01-01"))
    designate = lambda s: networks.designate_centre(s, w.network, w.plain, D("2024-02-01"))  # noqa: E731
    await refused(registry, designate, "role", "only a school with stable_results")
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
    await refused(registry, join(w.low, "partner", "2025-01-01"), "networkId", "closed")


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

    await refused(registry, form([], []), "educatorIds", "at least one member")
    await refused(registry, form([], [w.plain]), "organizationIds", "not a member")
    await refused(registry, form([outside.id], []), "educatorIds", "does not work at a member")
    group = await run(registry, form([inside.id], [w.low]))
    change = networks.ChangeGroupMembers(
        group.id, remove_educator_ids=[inside.id], remove_organization_ids=[w.low]
    )
    await refused(
        registry, lambda s: networks.change_group_members(s, change), "removeEducatorIds", "at least one"
    )


async def test_educator_rules(registry: Database) -> None:
    w = await world(registry)

    def register(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {"last_name": "Иванова", "first_name": "Анна"} | extra
        return lambda s: educators.register_educator(s, educators.RegisterEducator(**values))

    await refused(registry, register(last_name=" "), "lastName", "empty")
    await refused(registry, register(qualification_category="supreme"), "qualificationCategory", "unknown")
    await refused(
        registry, register(posts=[educators.Post(uuid.uuid4(), "учитель")]), "organizationId", "no such"
    )
    twice = [educators.Post(w.low, "учитель"), educators.Post(w.low, "завуч")]
    await refused(registry, register(posts=twice), "organizationId", "already works")
    person = await run(
        registry, register(external_id="T-1", posts=[educators.Post(w.low, "учитель", D("2020-09-01"))])
    )
    await refused(registry, register(external_id="T-1"), "externalId", "already registered")
    # one person, two organizations
    second = await run(
        registry,
        lambda s: educators.employ(s, person.id, educators.Post(w.stable, "совместитель", D("2021-09-01"))),
    )
    await refused(
        registry, lambda s: educators.end_employment(s, second.id, D("1999-01-01")), "endedOn", "after"
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

    await refused(registry, offer(kind="money"), "kind", "unknown value")
    await refused(registry, offer(capacity=0), "capacity", "positive")
    await refused(
        registry, offer(available_from=D("2024-02-01"), available_to=D("2024-01-01")), "availableTo", "after"
    )
    resource = await run(registry, offer(subjects=["Математика"]))
    await run(registry, lambda s: resources.withdraw_resource(s, resource.id))
    await refused(registry, lambda s: resources.withdraw_resource(s, resource.id), "resourceId", "already")

    def sign(**extra: Any) -> Callable[[AsyncSession], Awaitable[Any]]:
        values: dict[str, Any] = {
            "number": "1/2024",
            "signed_on": D("2024-01-10"),
            "subject": "Сетевое взаимодействие",
            "party_ids": [w.stable, w.low],
            "valid_from": D("2024-01-10"),
        } | extra
        return lambda s: agreements.sign_agreement(s, agreements.SignAgreement(**values))

    await refused(registry, sign(party_ids=[w.stable]), "partyIds", "at least two")
    await refused(registry, sign(party_ids=[w.stable, w.stable]), "partyIds", "at least two")
    await refused(registry, sign(party_ids=[w.stable, uuid.uuid4()]), "partyIds", "no such")
    await refused(registry, sign(valid_from=D("2024-01-01")), "validFrom", "before it is signed")
    await refused(registry, sign(valid_to=D("2024-01-10")), "validTo", "after")
    agreement = await run(registry, sign())
    await run(registry, lambda s: agreements.terminate_agreement(s, agreement.id, D("2024-06-01")))
    await refused(
        registry,
        lambda s: agreements.terminate_agreement(s, agreement.id, D("2024-07-01")),
        "agreementId",
        "already",
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

    await refused(registry, issue(kind="law"), "kind", "unknown value")
    await refused(registry, issue(link="file:///etc/passwd"), "link", "web address")
    await refused(registry, issue(issued_on=date.today() + timedelta(days=2)), "issuedOn", "future")
    await run(registry, issue(link="https://uo-baltiysk.example.org/474.pdf"))
