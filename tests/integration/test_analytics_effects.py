"""The comparison of results through the read models and the analysis, on one synthetic region
(:mod:`tests.synthetic_worlds`) in PostgreSQL: the database gives the same estimate as the method on
the generated arrays, the GraphQL-facing figure carries the interval and the counts, and the first
quarter, before any results are due, raises no result-related attention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from setka_runtime.db import Database

from services.analytics import effects
from services.analytics.analysis import build_analysis
from services.analytics.analysis_model import Analysis, Period, Scope, ScopeKind
from tests.conftest import DatabaseFactory
from tests.synthetic_worlds import REGION, SyntheticWorld, generate

pytestmark = pytest.mark.integration

SEED = 3


async def loaded(databases: DatabaseFactory, world: SyntheticWorld) -> Database:
    db = Database(databases.create("analytics", migrate="analytics"))
    async with db.session() as session, session.begin():
        session.add_all(world.models())
    return db


@pytest.fixture
async def year_world(databases: DatabaseFactory) -> AsyncIterator[tuple[SyntheticWorld, Database]]:
    world = generate(SEED, effect=0.3)
    db = await loaded(databases, world)
    yield world, db
    await db.dispose()


async def analyse(db: Database, period: Period, now: datetime) -> Analysis:
    async with db.session() as session:
        return await build_analysis(session, Scope(ScopeKind.region, REGION), period, now=now)


async def test_the_database_gives_the_estimate_of_the_method(
    year_world: tuple[SyntheticWorld, Database],
) -> None:
    world, db = year_world
    analysis = await analyse(db, Period.year(2025), datetime(2026, 3, 1, 12, tzinfo=UTC))
    expected = effects.comparison_of(world.facts(Period.year(2025), 2025), 2025, min_schools=10)
    found = {value.definition.id: value for value in analysis.indicators}
    mean = found["results_mean_score_did"]
    assert mean.definition.unit == "ст. откл."
    assert mean.comparison is not None
    assert mean.value == pytest.approx(expected.mean_score.estimate)
    assert (mean.comparison.low, mean.comparison.high) == (
        pytest.approx(expected.mean_score.low),
        pytest.approx(expected.mean_score.high),
    )
    assert (mean.comparison.supported_schools, mean.comparison.comparison_schools) == (
        expected.mean_score.supported_schools,
        expected.mean_score.comparison_schools,
    )
    assert mean.schools == mean.comparison.supported_schools + mean.comparison.comparison_schools
    truth = world.truth(expected.matched, 2025)
    assert mean.comparison.low <= truth <= mean.comparison.high
    lowest = found["results_lowest_mark_did"]
    assert lowest.comparison is not None and lowest.value == pytest.approx(expected.lowest_mark.estimate)
    # the year before (2024 against 2023): no network yet, so few supported schools in one
    assert mean.previous is None or abs(mean.previous) < 1
    # the attention list reads the same standardised changes
    falls = [
        reason
        for school in analysis.schools_needing_attention
        for reason in school.reasons
        if reason.startswith("средний балл снизился на ")
    ]
    assert all(reason.endswith("ст. откл. относительно 2024 года") for reason in falls)


async def test_the_first_quarter_raises_no_result_attention(databases: DatabaseFactory) -> None:
    now = datetime(2025, 4, 10, 12, tzinfo=UTC)
    world = generate(SEED, effect=0.3, as_of=now.date())
    assert not [row for row in world.rows if row.year == 2025]  # nothing of 2025 has arrived yet
    db = await loaded(databases, world)
    try:
        analysis = await analyse(db, Period.quarter(2025, 1), now)
    finally:
        await db.dispose()
    assert analysis.schools_needing_attention  # schools are listed, for other reasons
    reasons = [reason for school in analysis.schools_needing_attention for reason in school.reasons]
    results = ("средний балл", "низших отметок", "результатов оценочных процедур")
    assert not [reason for reason in reasons if any(word in reason for word in results)]
    assert date(2025, 1, 1) == analysis.period.start
