"""Pure rules of the registry: identifiers, dated periods, statuses, risk profiles."""

from __future__ import annotations

from datetime import date

import pytest
from setka_contracts.registry import RiskFactor, SchoolStatus
from setka_runtime.errors import DomainError

from services.registry import rules
from services.registry.statuses import check_factors

pytestmark = pytest.mark.unit

D = date.fromisoformat


@pytest.mark.parametrize("ogrn", ["1027700132195", "1023900000002"])
def test_valid_ogrn_passes(ogrn: str) -> None:
    assert rules.check_ogrn(ogrn) == ogrn


@pytest.mark.parametrize(
    ("ogrn", "code"),
    [("102770013219", "OGRN_FORMAT"), ("10277001321950", "OGRN_FORMAT"), ("1027700132196", "OGRN_CHECKSUM")],
)
def test_invalid_ogrn_is_refused_with_the_field(ogrn: str, code: str) -> None:
    with pytest.raises(DomainError, match="ОГРН") as error:
        rules.check_ogrn(ogrn)
    assert error.value.field == "ogrn"
    assert error.value.code == code


def test_school_code_is_normalised_and_checked() -> None:
    assert rules.check_school_code(" SCH390101 ") == "sch390101"
    for bad in ("390101", "sch39010", "school390101"):
        with pytest.raises(DomainError) as error:
            rules.check_school_code(bad)
        assert error.value.field == "schoolCode"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((D("2024-01-01"), D("2024-06-01")), (D("2024-06-01"), None), False),  # half-open: touching is fine
        ((D("2024-01-01"), D("2024-06-02")), (D("2024-06-01"), None), True),
        ((D("2024-01-01"), None), (D("2030-01-01"), D("2030-02-01")), True),
        ((D("2024-03-01"), D("2024-04-01")), (D("2024-01-01"), D("2024-03-01")), False),
        ((D("2024-02-01"), D("2024-02-02")), (D("2024-01-01"), None), True),
    ],
)
def test_periods_overlap_when_they_share_a_day(
    a: tuple[date, date | None], b: tuple[date, date | None], expected: bool
) -> None:
    assert rules.overlaps(*a, *b) is expected
    assert rules.overlaps(*b, *a) is expected


def test_a_period_must_end_after_it_starts() -> None:
    rules.check_period(D("2024-01-01"), None, field="leftOn")
    for end in (D("2024-01-01"), D("2023-12-31")):
        with pytest.raises(DomainError) as error:
            rules.check_period(D("2024-01-01"), end, field="leftOn")
        assert error.value.field == "leftOn"


HISTORY = [
    (SchoolStatus.low_results, D("2021-01-01"), D("2023-01-01")),
    (SchoolStatus.adverse_social_conditions, D("2021-01-01"), None),
    (SchoolStatus.stable_results, D("2023-01-01"), None),
]


def test_current_statuses_are_derived_from_the_history() -> None:
    assert rules.statuses_on(HISTORY, D("2022-06-01")) == [
        SchoolStatus.low_results,
        SchoolStatus.adverse_social_conditions,
    ]
    assert rules.statuses_on(HISTORY, D("2023-01-01")) == [
        SchoolStatus.adverse_social_conditions,
        SchoolStatus.stable_results,
    ]
    assert rules.statuses_on(HISTORY, D("2020-01-01")) == []


def test_low_and_stable_results_cannot_both_hold_at_one_date() -> None:
    with pytest.raises(DomainError, match="не могут действовать одновременно") as error:
        rules.check_status_conflict(SchoolStatus.low_results, D("2024-01-01"), None, HISTORY)
    assert error.value.field == "status"
    assert error.value.code == "STATUSES_EXCLUSIVE"
    with pytest.raises(DomainError, match="уже имеет статус «ШФНСУ»") as error:
        rules.check_status_conflict(SchoolStatus.adverse_social_conditions, D("2024-01-01"), None, HISTORY)
    assert error.value.code == "STATUS_ALREADY_HELD"
    rules.check_status_conflict(SchoolStatus.low_results, D("2022-01-01"), D("2023-01-01"), HISTORY[1:])


def test_a_risk_profile_rates_every_factor_with_a_known_level() -> None:
    full = {factor.value: "medium" for factor in RiskFactor}
    assert set(check_factors(full)) == set(RiskFactor)
    with pytest.raises(DomainError, match="не указаны: teacher_shortage") as error:
        check_factors({k: v for k, v in full.items() if k != "teacher_shortage"})
    assert error.value.code == "RISK_FACTORS_MISSING"
    with pytest.raises(DomainError, match="Неизвестное значение «extreme»") as error:
        check_factors(full | {"teacher_shortage": "extreme"})
    assert error.value.code == "UNKNOWN_CHOICE"
    with pytest.raises(DomainError, match="Неизвестное значение «weather»"):
        check_factors(full | {"weather": "low"})


def test_contacts_links_and_subjects_are_normalised() -> None:
    assert rules.check_link("school1.example.org", field="website") == "https://school1.example.org"
    with pytest.raises(DomainError):
        rules.check_link("ftp://x.example.org", field="website")
    assert rules.check_email(" info@school.ru ") == "info@school.ru"
    with pytest.raises(DomainError):
        rules.check_email("info-at-school")
    with pytest.raises(DomainError):
        rules.check_phone("call me")
    assert rules.normalize_subjects(["Математика", " математика ", "Русский  язык", ""]) == [
        "математика",
        "русский язык",
    ]
    assert rules.search_key("Школа «Ёлочка»", "3901") == "школа «елочка» 3901"
