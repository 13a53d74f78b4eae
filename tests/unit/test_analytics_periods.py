"""What a request names (a scope, a period) and how an indicator is judged: plain functions, no I/O."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from services.analytics.analysis import (
    AnalysisRequestError,
    parse_scope,
    parse_scope_reference,
    period_of,
    status_of,
    trend_of,
)
from services.analytics.analysis_model import (
    Better,
    IndicatorDefinition,
    Period,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from services.analytics.indicators import DEFINITIONS, INDICATORS, Frame

pytestmark = pytest.mark.unit

D = date.fromisoformat
NETWORK = uuid.UUID("5f0c1a7e-9d1b-4d38-a3d4-9f0e6c1b2a33")


def test_a_year_a_quarter_and_dates() -> None:
    assert period_of(year=2025) == Period(D("2025-01-01"), D("2026-01-01"))
    assert period_of(year=2025, quarter=4) == Period(D("2025-10-01"), D("2026-01-01"))
    assert period_of(year=2025, quarter=2) == Period(D("2025-04-01"), D("2025-07-01"))
    # ``to`` is the last day, included
    assert period_of(start=D("2025-09-01"), last=D("2025-09-01")) == Period(D("2025-09-01"), D("2025-09-02"))


def test_the_previous_period() -> None:
    assert Period.year(2025).previous() == Period.year(2024)
    assert Period.quarter(2025, 1).previous() == Period.quarter(2024, 4)
    assert Period.quarter(2025, 3).previous() == Period.quarter(2025, 2)
    assert period_of(start=D("2025-03-01"), last=D("2025-03-10")).previous() == Period(
        D("2025-02-19"), D("2025-03-01")
    )


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({}, "PERIOD_REQUIRED"),
        ({"quarter": 1}, "QUARTER_WITHOUT_YEAR"),
        ({"year": 2025, "quarter": 0}, "QUARTER_OUT_OF_RANGE"),
        ({"year": 1812}, "YEAR_OUT_OF_RANGE"),
        ({"start": D("2025-01-01")}, "PERIOD_INCOMPLETE"),
        ({"start": D("2025-02-01"), "last": D("2025-01-31")}, "END_BEFORE_START"),
        ({"year": 2025, "start": D("2025-01-01"), "last": D("2025-01-31")}, "PERIOD_CONFLICT"),
    ],
)
def test_a_period_that_cannot_be_analysed(given: dict[str, object], code: str) -> None:
    with pytest.raises(AnalysisRequestError) as refused:
        period_of(**given)  # type: ignore[arg-type]
    assert refused.value.code == code


def test_scopes() -> None:
    assert parse_scope("region", " 39 ") == Scope(ScopeKind.region, "39")
    assert parse_scope(ScopeKind.network, str(NETWORK).upper()) == Scope(ScopeKind.network, str(NETWORK))
    assert parse_scope_reference(f"network:{NETWORK}").id == NETWORK
    assert parse_scope_reference("region:08") == Scope(ScopeKind.region, "08")
    for kind, key, code, message in [
        ("district", "1", "UNKNOWN_CHOICE", "Неизвестный вид области анализа «district»"),
        ("region", "Калининград", "REGION_CODE_FORMAT", "не код региона"),
        ("school", "42", "INVALID_ID", "«42» — не идентификатор (school)"),
    ]:
        with pytest.raises(AnalysisRequestError, match=re.escape(message)) as refused:
            parse_scope(kind, key)
        assert refused.value.code == code
    with pytest.raises(AnalysisRequestError, match="вид:ключ") as refused:
        parse_scope_reference("39")
    assert refused.value.code == "SCOPE_FORMAT"


def test_trends_have_a_small_tolerance() -> None:
    assert trend_of(50.0, 50.9) == Trend.flat  # within 2 % of the larger value
    assert trend_of(50.0, 52.0) == Trend.down
    assert trend_of(0.0, 0.0) == Trend.flat
    assert trend_of(0.3, -0.1) == Trend.up
    assert trend_of(None, 3.0) == trend_of(3.0, None) == Trend.unknown


def definition(better: Better) -> IndicatorDefinition:
    return IndicatorDefinition("x", "Показатель", "Определение", "%", better, suggestion=90.0)


@pytest.mark.parametrize(
    ("better", "target", "value", "trend", "status"),
    [
        (Better.higher, 90.0, 95.0, Trend.down, Status.good),  # past the target, whatever the trend
        (Better.higher, 90.0, 60.0, Trend.up, Status.attention),  # short of it, improving
        (Better.higher, 90.0, 60.0, Trend.flat, Status.attention),  # short, steady
        (Better.higher, 90.0, 60.0, Trend.unknown, Status.attention),
        (Better.higher, 90.0, 60.0, Trend.down, Status.bad),  # short and worsening
        (Better.lower, 0.0, -1.0, Trend.up, Status.good),  # lower is better: under the target
        (Better.lower, 0.0, 2.0, Trend.up, Status.bad),
        (Better.lower, 0.0, 2.0, Trend.down, Status.attention),
        # no target set (Setka's suggestion is none): no judgement, only the trend
        (Better.higher, None, 2.0, Trend.up, Status.no_target),
        (Better.higher, None, 2.0, Trend.down, Status.no_target),
        (Better.lower, None, 2.0, Trend.down, Status.no_target),
        (Better.higher, 90.0, None, Trend.unknown, Status.no_data),
    ],
)
def test_statuses(
    better: Better, target: float | None, value: float | None, trend: Trend, status: Status
) -> None:
    assert status_of(definition(better), value, trend, target) == status


def test_every_indicator_is_defined_once_in_russian() -> None:
    ids = [indicator.definition.id for indicator in INDICATORS]
    assert len(ids) == len(set(ids)) == len(DEFINITIONS)
    for item in DEFINITIONS.values():
        assert any("а" <= letter <= "я" for letter in item.title.lower()), item.id
        assert len(item.definition) > 80, item.id
    assert DEFINITIONS["results_lowest_mark_did"].better == Better.lower


def test_the_year_of_a_period_is_the_year_of_its_last_day() -> None:
    assert Frame(Scope(ScopeKind.region, "39"), Period.year(2025), D("2026-01-01")).year == 2025
    december = period_of(start=D("2024-12-01"), last=D("2024-12-31"))
    assert Frame(Scope(ScopeKind.region, "39"), december, D("2026-01-01")).year == 2024
