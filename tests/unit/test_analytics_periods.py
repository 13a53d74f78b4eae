"""What a request names (a scope, a period) and how an indicator is judged: plain functions, no I/O."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from services.analytics.analysis import (
    AnalysisRequestError,
    parse_scope,
    parse_scope_reference,
    period_of,
    status_of,
    trend_of,
)
from services.analytics.analysis_model import (
    AnalysisRules,
    Better,
    IndicatorDefinition,
    Period,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from services.analytics.indicators import DEFINITIONS, DROPPED, INDICATORS, TRACES, Frame
from services.analytics.settings import AnalyticsSettings

pytestmark = pytest.mark.unit

D = date.fromisoformat
NETWORK = uuid.UUID("5f0c1a7e-9d1b-4d38-a3d4-9f0e6c1b2a33")


def test_a_year_a_quarter_and_dates() -> None:
    assert period_of(year=2025) == Period(D("2025-01-01"), D("2026-01-01"))
    assert period_of(year=2025, quarter=4) == Period(D("2025-10-01"), D("2026-01-01"))
    assert period_of(year=2025, quarter=2) == Period(D("2025-04-01"), D("2025-07-01"))
    # ``to`` is the last day, included
    assert period_of(start=D("2025-09-01"), last=D("2025-09-01")) == Period(D("2025-09-01"), D("2025-09-02"))


def test_a_school_year_runs_from_september_to_august() -> None:
    school_year = period_of(school_year=2025)
    assert school_year == Period(D("2025-09-01"), D("2026-09-01"))
    assert school_year.label() == "2025/26 учебный год (01.09.2025 – 31.08.2026)"
    assert school_year.previous() == Period.school_year(2024)
    # its results are those of the year it ends in: spring and summer 2026
    assert Frame(Scope(ScopeKind.region, "39"), school_year, D("2026-10-01")).year == 2026
    for other in ({"year": 2025}, {"quarter": 1}, {"start": D("2025-09-01"), "last": D("2025-09-30")}):
        with pytest.raises(AnalysisRequestError) as refused:
            period_of(school_year=2025, **other)  # type: ignore[arg-type]
        assert refused.value.code == "PERIOD_CONFLICT"
    with pytest.raises(AnalysisRequestError) as refused:
        period_of(school_year=1900)
    assert refused.value.code == "YEAR_OUT_OF_RANGE"


def test_a_period_is_compared_with_the_same_season_a_year_before() -> None:
    assert Period.year(2025).previous() == Period.year(2024)
    # a quarter with the same quarter a year before, not the quarter before: summer is no decline
    assert Period.quarter(2025, 1).previous() == Period.quarter(2024, 1)
    assert Period.quarter(2025, 3).previous() == Period.quarter(2024, 3)
    assert period_of(start=D("2025-06-01"), last=D("2025-08-31")).previous() == Period(
        D("2024-06-01"), D("2024-09-01")
    )
    assert period_of(start=D("2025-03-01"), last=D("2025-03-10")).previous() == Period(
        D("2024-03-01"), D("2024-03-11")
    )
    assert period_of(start=D("2024-02-29"), last=D("2024-03-31")).previous() == Period(
        D("2023-02-28"), D("2023-04-01")
    )
    # longer than a year: as long a period just before
    two_years = period_of(start=D("2024-01-01"), last=D("2025-12-31"))
    assert two_years.previous() == Period(D("2022-01-01"), D("2024-01-01"))


def test_results_are_expected_only_after_their_procedures_due_month() -> None:
    rules = AnalysisRules()
    march = D("2026-03-15")
    # the first quarter: no procedure's results fall due (ВПР after May, ОГЭ and ЕГЭ after July)
    assert rules.procedures_due(Period.quarter(2026, 1), 2026, D("2026-12-31")) == []
    assert rules.procedures_due(Period.quarter(2026, 2), 2026, D("2026-12-31")) == ["vpr"]
    assert rules.procedures_due(Period.quarter(2026, 3), 2026, D("2026-12-31")) == ["oge", "ege"]
    # a year still running: nothing is due before its month
    assert rules.procedures_due(Period.year(2026), 2026, march) == []
    assert rules.procedures_due(Period.year(2026), 2026, D("2026-06-01")) == ["vpr"]
    assert rules.procedures_due(Period.year(2025), 2025, march) == [
        "vpr",
        "oge",
        "ege",
        "regional_diagnostic",
    ]
    school_year = Period.school_year(2025)
    assert rules.procedures_due(school_year, 2026, D("2026-09-01")) == ["vpr", "oge", "ege"]
    later = AnalysisRules(result_due_months={"vpr": 6, "oge": 8, "ege": 8, "regional_diagnostic": 10})
    assert later.procedures_due(Period.quarter(2026, 2), 2026, D("2026-12-31")) == ["vpr"]
    assert later.procedures_due(Period.quarter(2026, 2), 2026, D("2026-06-30")) == []


def test_the_due_months_and_the_follow_up_days_are_settings() -> None:
    settings = AnalyticsSettings(result_due_months={"vpr": 6}, deficit_follow_up_days=60)
    rules = settings.analysis_rules()
    assert rules.follow_up_days == 60
    assert dict(rules.result_due_months) == {"vpr": 6, "oge": 7, "ege": 7, "regional_diagnostic": 12}
    assert AnalyticsSettings(alert_deficit_training_days=45).deficit_follow_up_days == 45  # the old name
    for wrong in ({"gia": 6}, {"vpr": 13}):
        with pytest.raises(ValidationError):
            AnalyticsSettings(result_due_months=wrong)


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


def test_every_indicator_is_traced_to_a_regulation() -> None:
    """The expected result it measures, quoted with its regulation and section; its formula, its
    sources, when its data is due — next to its definition, one trace per indicator."""
    assert set(TRACES) == set(DEFINITIONS)
    for item in DEFINITIONS.values():
        assert item.expected_result and item.expected_result == TRACES[item.id].expected_result, item.id
        assert "Положение" in item.regulation and any(
            w in item.regulation for w in ("п.", "раздел", "преамбула")
        )
        assert "/" in item.formula or item.unit not in ("%", "на школу"), item.id
        assert item.sources and item.data_due, item.id
    dropped = {item.id: item for item in DROPPED}
    assert "assessment_unity" in dropped and "assessment_unity" not in DEFINITIONS
    assert "Калмыкия" in dropped["assessment_unity"].reason


def test_the_year_of_a_period_is_the_year_of_its_last_day() -> None:
    assert Frame(Scope(ScopeKind.region, "39"), Period.year(2025), D("2026-01-01")).year == 2025
    december = period_of(start=D("2024-12-01"), last=D("2024-12-31"))
    assert Frame(Scope(ScopeKind.region, "39"), december, D("2026-01-01")).year == 2024
