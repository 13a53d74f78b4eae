"""Recommendations on real PostgreSQL: the partner a methodologist would name comes first, with its
reasons and the score the documented weights give; activities worth repeating."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import strawberry
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from sqlmodel import SQLModel

from services.analytics import recommendations as weights
from services.analytics.advice_schema import AdviceQuery
from services.analytics.analysis_model import Period
from services.analytics.models import (
    Activity,
    Attendance,
    Deficit,
    Educator,
    Employment,
    Feedback,
    Membership,
    Network,
    Organization,
    Resource,
    RiskProfile,
)
from services.analytics.recommendations import (
    ReasonKind,
    activities_worth_repeating,
    names_the_same,
    recommend_partners,
)
from tests.conftest import DatabaseFactory

pytestmark = pytest.mark.integration

TODAY = date(2026, 4, 1)
BALTIYSK, SVETLY = uuid.uuid4(), uuid.uuid4()


def at(day: date, hour: int = 7) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(databases.create("analytics", migrate="analytics"))
    yield database
    await database.dispose()


async def add(db: Database, *rows: SQLModel) -> None:
    async with db.session() as session, session.begin():
        session.add_all(rows)


def organization(name: str, municipality: uuid.UUID = BALTIYSK, **given: Any) -> Organization:
    return Organization(
        id=uuid.uuid4(),
        short_name=name,
        region_code=given.pop("region_code", "39"),
        kind="school",
        municipality="Балтийский муниципальный округ" if municipality == BALTIYSK else "г. Светлый",
        municipality_id=municipality,
        registered_at=at(date(2025, 9, 1)),
        **given,
    )


def member(org: Organization, net: Network, role: str) -> Membership:
    return Membership(
        id=uuid.uuid4(), network_id=net.id, organization_id=org.id, role=role, joined_on=date(2025, 9, 1)
    )


def resource(owner: Organization, kind: str, *subjects: str, **given: Any) -> Resource:
    return Resource(id=uuid.uuid4(), owner_id=owner.id, kind=kind, subjects=list(subjects), **given)


def held(
    host: Organization, net: Network | None, day: date, kind: str = "master_class", **given: Any
) -> Activity:
    return Activity(
        id=uuid.uuid4(),
        host_organization_id=host.id,
        network_id=net.id if net else None,
        activity_type=kind,
        processes=given.pop("processes", ["training", "peer_learning"]),
        format="in_person",
        starts_at=at(day),
        ends_at=at(day, 10),
        status=given.pop("status", "held"),
        held_on=given.pop("held_on", day),
        **given,
    )


def ratings(activity: Activity, *marks: int) -> list[Feedback]:
    return [Feedback(id=uuid.uuid4(), activity_id=activity.id, rating=mark) for mark in marks]


def attended(activity: Activity, organizations: list[Organization], people: int) -> list[Attendance]:
    return [
        Attendance(
            id=uuid.uuid4(),
            activity_id=activity.id,
            organization_id=organizations[n % len(organizations)].id,
            educator_id=uuid.uuid4(),
            hours=3,
            activity_day=activity.starts_at.date(),
            host_organization_id=activity.host_organization_id,
            network_id=activity.network_id,
        )
        for n in range(people)
    ]


def educator_with_deficit(school: Organization, subject: str, competency: str) -> list[SQLModel]:
    educator = Educator(id=uuid.uuid4(), qualification_category="first", subjects=[subject])
    return [
        educator,
        Employment(
            id=uuid.uuid4(), educator_id=educator.id, organization_id=school.id, started_on=date(2020, 9, 1)
        ),
        Deficit(
            id=uuid.uuid4(),
            educator_id=educator.id,
            organization_id=school.id,
            competency=competency,
            level="high",
            diagnosed_on=date(2026, 1, 15),
        ),
    ]


def test_competencies_and_subjects_are_matched_by_their_significant_words() -> None:
    assert names_the_same("формирующее оценивание", "Формирующее оценивание на уроках")
    assert names_the_same("оценивания", "формирующее оценивание")
    assert names_the_same("Математика", "математике")
    assert not names_the_same("смысловое чтение", "формирующее оценивание")
    assert not names_the_same("", "математика")


async def test_the_centre_of_the_schools_network_with_a_resource_on_its_deficit_comes_first(
    db: Database,
) -> None:
    network = Network(
        id=uuid.uuid4(),
        name="Школы эффективного роста",
        level="municipal",
        region_code="39",
        started_on=date(2025, 9, 1),
    )
    other_network = Network(
        id=uuid.uuid4(), name="Светлый", level="municipal", region_code="39", started_on=date(2025, 9, 1)
    )
    school = organization("СОШ № 5")
    centre = organization("Гимназия № 1")
    distant = organization("СОШ № 2 г. Светлый", SVETLY)
    close_but_unhelpful = organization("СОШ № 7")
    archived = organization("СОШ № 9", archived_at=at(date(2026, 1, 1)))
    elsewhere = organization("Лицей № 23", region_code="08")
    withdrawn_only = organization("СОШ № 3")
    await add(
        db,
        network,
        other_network,
        school,
        centre,
        distant,
        close_but_unhelpful,
        archived,
        elsewhere,
        withdrawn_only,
        RiskProfile(
            organization_id=school.id,
            assessed_on=date(2026, 1, 10),
            factors={
                "insufficient_subject_methodological_competence": "high",
                "low_parental_involvement": "medium",
                "teacher_shortage": "low",
            },
        ),
        *educator_with_deficit(school, "Математика", "формирующее оценивание"),
        *educator_with_deficit(school, "Математика", "Формирующее оценивание"),
        *educator_with_deficit(school, "Русский язык", "смысловое чтение"),
        member(school, network, "supported"),
        member(centre, network, "centre"),
        member(close_but_unhelpful, network, "partner"),
        member(distant, other_network, "partner"),
        resource(centre, "methodological", "математика", "формирующее оценивание"),
        resource(distant, "methodological", "математика"),
        resource(close_but_unhelpful, "material", "цифровая лаборатория"),
        resource(archived, "methodological", "формирующее оценивание"),
        resource(elsewhere, "methodological", "формирующее оценивание"),
        resource(
            withdrawn_only, "methodological", "формирующее оценивание", withdrawn_at=at(date(2026, 2, 1))
        ),
        resource(centre, "staff", "смысловое чтение", available_from=date(2026, 9, 1)),  # not yet available
        resource(school, "methodological", "формирующее оценивание"),  # the school's own
    )
    master_class = held(centre, network, date(2026, 2, 10))
    await add(db, master_class, *ratings(master_class, 5, 5, 4))

    async with db.session() as session:
        ranking = await recommend_partners(session, school.id, today=TODAY)

    assert [r.organization_id for r in ranking] == [centre.id, distant.id]
    best = ranking[0]
    assert best.name == "Гимназия № 1"
    points = {kind: sum(r.points for r in best.reasons if r.kind == kind) for kind in ReasonKind}
    high = weights.LEVEL_WEIGHT["high"]
    assert points == {
        ReasonKind.risk_factor: weights.RESOURCE_FOR_RISK * high,
        ReasonKind.activities: weights.ACTIVITY_FOR_RISK * high + weights.ACTIVITY_FOR_DEFICITS,
        ReasonKind.deficit: weights.RESOURCE_FOR_COMPETENCY,
        ReasonKind.deficit_subject: weights.RESOURCE_FOR_DEFICIT_SUBJECT,
        ReasonKind.centre: weights.CENTRE,
        ReasonKind.same_network: weights.SAME_NETWORK,
        ReasonKind.same_municipality: weights.SAME_MUNICIPALITY,
        ReasonKind.rating: round(weights.RATING * (14 / 3 - 3), 2),
    }
    assert best.score == 24.67
    texts = [reason.text for reason in best.reasons]
    assert any(
        "дефициту «формирующее оценивание»" in text.lower() and "(случаев: 2)" in text for text in texts
    ), texts
    assert any("по предмету «математика»" in text and "(педагогов: 2)" in text for text in texts), texts
    assert "Центр сетевого взаимодействия" in texts
    assert "Участник той же сети «Школы эффективного роста»" in texts
    assert "Из того же муниципалитета (Балтийский муниципальный округ)" in texts
    assert "Средняя оценка проведённых мероприятий: 4,7 из 5 (отзывов: 3)" in texts
    assert any(
        text.startswith("Методический ресурс («математика», «формирующее оценивание»)") for text in texts
    )
    assert len(best.resource_ids) == 1

    second = ranking[1]
    assert {r.kind for r in second.reasons} == {ReasonKind.risk_factor, ReasonKind.deficit_subject}
    assert second.score == weights.RESOURCE_FOR_RISK * high + weights.RESOURCE_FOR_DEFICIT_SUBJECT

    async with db.session() as session:
        assert [
            r.organization_id for r in await recommend_partners(session, school.id, today=TODAY, limit=1)
        ] == [centre.id]
        assert await recommend_partners(session, uuid.uuid4(), today=TODAY) == []  # unknown school
        assert await recommend_partners(session, centre.id, today=TODAY) == []  # no needs known


async def test_a_poorly_rated_host_loses_to_an_equal_well_rated_one(db: Database) -> None:
    school, liked, disliked = organization("СОШ № 5"), organization("СОШ № 1"), organization("СОШ № 4")
    await add(
        db,
        school,
        liked,
        disliked,
        RiskProfile(
            organization_id=school.id,
            assessed_on=date(2026, 1, 10),
            factors={"low_parental_involvement": "high"},
        ),
        resource(liked, "methodological", "работа с родителями"),
        resource(disliked, "methodological", "Семейное воспитание"),
    )
    good, poor = (
        held(liked, None, date(2026, 3, 1), "seminar"),
        held(disliked, None, date(2026, 3, 1), "seminar"),
    )
    await add(db, good, poor, *ratings(good, 5, 4), *ratings(poor, 2, 1))
    async with db.session() as session:
        ranking = await recommend_partners(session, school.id, today=TODAY)
    assert [r.organization_id for r in ranking] == [liked.id, disliked.id]
    assert ranking[0].score - ranking[1].score == pytest.approx(weights.RATING * (4.5 - 1.5))
    assert (
        "фактору риска «низкий уровень вовлечённости родителей» (высокий уровень)"
        in ranking[0].reasons[0].text
    )


async def test_activities_worth_repeating_are_well_attended_and_well_rated(db: Database) -> None:
    network = Network(
        id=uuid.uuid4(), name="Сеть", level="municipal", region_code="39", started_on=date(2025, 9, 1)
    )
    host, guests = organization("Гимназия № 1"), [organization(f"СОШ № {n}") for n in range(2, 6)]
    liked_and_full = held(host, network, date(2026, 3, 1))
    liked_but_small = held(host, network, date(2026, 3, 2), "seminar")
    full_but_disliked = held(host, network, date(2026, 3, 3), "webinar")
    rated_once = held(host, network, date(2026, 3, 4), "open_lesson")
    last_year = held(host, network, date(2025, 11, 4))
    cancelled = held(host, network, date(2026, 3, 5), status="cancelled", held_on=None)
    await add(
        db,
        network,
        host,
        *guests,
        liked_and_full,
        liked_but_small,
        full_but_disliked,
        rated_once,
        last_year,
        cancelled,
    )
    await add(
        db,
        *attended(liked_and_full, guests, 20),
        *ratings(liked_and_full, 5, 5, 4),
        *attended(liked_but_small, guests, 5),
        *ratings(liked_but_small, 5, 5),
        *attended(full_but_disliked, guests, 25),
        *ratings(full_but_disliked, 3, 3),
        *attended(rated_once, guests, 18),
        *ratings(rated_once, 5),
        *attended(last_year, guests, 30),
        *ratings(last_year, 5, 5),
    )
    async with db.session() as session:
        (found,) = await activities_worth_repeating(session, network.id, Period.year(2026))
        assert await activities_worth_repeating(session, uuid.uuid4(), Period.year(2026)) == []
    assert found.activity_id == liked_and_full.id
    assert (found.participants, found.organizations, found.hours, found.mean_rating, found.ratings) == (
        20,
        4,
        60.0,
        4.67,
        3,
    )
    assert found.reasons[0] == "Средняя оценка 4,7 из 5 (отзывов: 3)"
    assert "медиана 19" in found.reasons[1] and found.reasons[2] == "Вид мероприятия: мастер-класс"


ADVICE = strawberry.federation.Schema(query=AdviceQuery, federation_version="2.9")
ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")
"""Alerts and recommended partners are for signed-in users."""


async def ask(db: Database, query: str, **variables: Any) -> Any:
    result = await ADVICE.execute(
        query, variable_values=variables, context_value={"db": db, "identity": ADMIN}
    )
    if result.errors:
        return result.errors
    return result.data


async def test_the_advice_query_answers_recommended_partners_and_activities_worth_repeating(
    db: Database,
) -> None:
    today = date.today()
    network = Network(
        id=uuid.uuid4(), name="Сеть", level="municipal", region_code="39", started_on=date(2020, 1, 1)
    )
    school, centre = organization("СОШ № 5"), organization("Гимназия № 1")
    seminar = held(centre, network, today, "seminar")
    await add(
        db,
        network,
        school,
        centre,
        RiskProfile(
            organization_id=school.id, assessed_on=today, factors={"low_learning_motivation": "high"}
        ),
        member(school, network, "supported"),
        member(centre, network, "centre"),
        offered := resource(centre, "material", "Робототехника"),
        seminar,
    )
    await add(db, *attended(seminar, [school], 12), *ratings(seminar, 5, 4))

    data = await ask(
        db,
        """query($id: ID!) { recommendedPartners(organizationId: $id) {
            organizationId name score resourceIds reasons { kind text points } } }""",
        id=str(school.id),
    )
    (partner,) = data["recommendedPartners"]
    assert partner["organizationId"] == str(centre.id) and partner["name"] == "Гимназия № 1"
    assert partner["resourceIds"] == [str(offered.id)]
    assert partner["reasons"][0] == {
        "kind": "risk_factor",
        "text": "Материально-технический ресурс («Робототехника») отвечает фактору риска "
        "«низкая учебная мотивация обучающихся» (высокий уровень)",
        "points": weights.RESOURCE_FOR_RISK * weights.LEVEL_WEIGHT["high"],
    }
    assert partner["score"] == sum(reason["points"] for reason in partner["reasons"])
    assert {reason["kind"] for reason in partner["reasons"]} == {
        "risk_factor",
        "centre",
        "same_network",
        "same_municipality",
        "rating",
    }
    for malformed in ("не-id", str(uuid.uuid4())):
        assert (
            await ask(
                db,
                "query($id: ID!) { recommendedPartners(organizationId: $id, limit: 5) { score } }",
                id=malformed,
            )
        ) == {"recommendedPartners": []}

    worth = """query($id: ID!, $year: Int) { activitiesWorthRepeating(networkId: $id, year: $year) {
        activityId activityType startsAt participants organizations hours meanRating ratings reasons } }"""
    (found,) = (await ask(db, worth, id=str(network.id)))["activitiesWorthRepeating"]
    assert found["activityId"] == str(seminar.id) and found["activityType"] == "seminar"
    assert (
        found["participants"],
        found["organizations"],
        found["hours"],
        found["meanRating"],
        found["ratings"],
    ) == (12, 1, 36.0, 4.5, 2)
    assert datetime.fromisoformat(found["startsAt"]) == seminar.starts_at
    assert (await ask(db, worth, id=str(network.id), year=today.year - 1)) == {"activitiesWorthRepeating": []}
    (error,) = await ask(db, worth, id=str(network.id), year=1990)
    assert error.message == "Год — от 2000 до 2100"
    assert (error.original_error.code, error.original_error.field) == ("YEAR_OUT_OF_RANGE", "year")
