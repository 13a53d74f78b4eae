"""The rules behind alerts people work with, without I/O: the Russian words, an alert's status,
school days counted around the holidays, and what a school year's breaks may be."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from setka_contracts.analytics import BreakKind
from setka_runtime.errors import DomainError

from services.analytics import alert_text, school_calendar
from services.analytics.alert_work import AlertStatus, status_of
from services.analytics.models import Alert

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("count", "word"),
    [
        (1, "день"),
        (2, "дня"),
        (4, "дня"),
        (5, "дней"),
        (11, "дней"),
        (12, "дней"),
        (21, "день"),
        (22, "дня"),
        (30, "дней"),
        (101, "день"),
        (111, "дней"),
        (114, "дней"),
    ],
)
def test_russian_numbers_take_the_right_form(count: int, word: str) -> None:
    assert alert_text.days(count) == f"{count} {word}"


def test_school_days_read_as_russian_does() -> None:
    assert [alert_text.school_days(n) for n in (1, 3, 30)] == [
        "1 учебный день",
        "3 учебных дня",
        "30 учебных дней",
    ]


def alert(rule: str, **given: object) -> Alert:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "rule": rule,
        "subject_id": uuid.uuid4(),
        "raised_at": datetime(2026, 2, 9, tzinfo=UTC),
        "details": {"since_on": "2026-01-10", "threshold_days": 30},
    }
    return Alert(**(values | given))


def test_an_alert_names_what_the_read_models_do_not_know_yet_plainly() -> None:
    text = alert_text.compose(alert("no_network_activity", organization_id=uuid.uuid4()), alert_text.Names())
    assert text.title == f"{alert_text.UNKNOWN_ORGANIZATION} не участвует в мероприятиях сети с 10.01.2026"
    assert alert_text.UNKNOWN_NETWORK in text.advice
    unnamed = alert_text.compose(
        alert("attendance_missing", details={"since_on": "2026-03-10"}), alert_text.Names()
    )
    assert "не отмечена посещаемость мероприятия, проведённого 10.03.2026" in unnamed.title


def test_an_alerts_status_follows_from_its_row() -> None:
    today = date(2026, 2, 10)
    moment = datetime(2026, 2, 9, tzinfo=UTC)
    assert status_of(alert("attendance_missing"), today) is AlertStatus.open
    assert status_of(alert("attendance_missing", acknowledged_at=moment), today) is AlertStatus.acknowledged
    snoozed = alert("attendance_missing", acknowledged_at=moment, snoozed_until=date(2026, 2, 11))
    assert status_of(snoozed, today) is AlertStatus.snoozed
    assert status_of(snoozed, date(2026, 2, 11)) is AlertStatus.acknowledged
    assert status_of(
        alert("attendance_missing", resolved_at=moment, snoozed_until=date(2026, 3, 1)), today
    ) is (AlertStatus.resolved)


SUMMER = (date(2026, 5, 27), date(2026, 8, 31))
SPRING = (date(2026, 3, 28), date(2026, 4, 5))


@pytest.mark.parametrize(
    ("today", "spans", "cutoff"),
    [
        (date(2026, 9, 19), [], date(2026, 8, 20)),  # no breaks: N days back
        (date(2026, 9, 19), [SUMMER], date(2026, 5, 15)),  # 19 in September, 11 before the summer
        (date(2026, 7, 19), [SUMMER, SPRING], date(2026, 4, 26)),  # in the summer: counted from its eve
        (date(2026, 4, 20), [SUMMER, SPRING], date(2026, 3, 12)),  # 15 after spring, 15 before it
        (
            date(2026, 5, 1),
            [(date(2026, 4, 25), date(2026, 4, 27)), (date(2026, 4, 26), date(2026, 5, 3))],
            date(2026, 3, 25),
        ),  # overlapping breaks count once
    ],
)
def test_school_days_are_counted_outside_the_breaks(
    today: date, spans: list[school_calendar.Span], cutoff: date
) -> None:
    assert school_calendar.school_days_cutoff(today, 30, spans) == cutoff


def test_the_usual_breaks_make_a_valid_school_year_and_a_day_knows_its_school_year() -> None:
    usual = school_calendar.usual_breaks(2025)
    assert school_calendar.check_breaks(2025, usual[::-1]) == usual
    assert [item.kind for item in usual] == [
        BreakKind.autumn,
        BreakKind.winter,
        BreakKind.spring,
        BreakKind.summer,
    ]
    assert (
        school_calendar.school_year_of(date(2025, 9, 1)),
        school_calendar.school_year_of(date(2026, 8, 31)),
    ) == (
        2025,
        2025,
    )


@pytest.mark.parametrize(
    ("breaks", "code"),
    [
        (
            [school_calendar.Break(BreakKind.winter, date(2026, 1, 11), date(2025, 12, 29))],
            "END_BEFORE_START",
        ),
        ([school_calendar.Break(BreakKind.summer, date(2026, 5, 1), date(2026, 9, 5))], "BREAK_TOO_LONG"),
        (
            [school_calendar.Break(BreakKind.autumn, date(2025, 8, 25), date(2025, 9, 2))],
            "BREAK_OUTSIDE_SCHOOL_YEAR",
        ),
        (
            [
                school_calendar.Break(BreakKind.autumn, date(2025, 10, 27), date(2025, 11, 4)),
                school_calendar.Break(BreakKind.winter, date(2025, 11, 1), date(2025, 11, 9)),
            ],
            "BREAKS_OVERLAP",
        ),
        (
            [
                school_calendar.Break(BreakKind.spring, date(2026, 3, 20), date(2026, 3, 22)),
                school_calendar.Break(BreakKind.spring, date(2026, 3, 28), date(2026, 4, 5)),
            ],
            "BREAK_REPEATED",
        ),
    ],
)
def test_a_school_years_breaks_are_refused_with_the_reason(
    breaks: list[school_calendar.Break], code: str
) -> None:
    with pytest.raises(DomainError, match="каникулы") as refused:
        school_calendar.check_breaks(2025, breaks)
    assert (refused.value.field, refused.value.code) == ("breaks", code)
