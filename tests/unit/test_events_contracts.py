"""The inbound contract's validation and the events service's pure rules, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from setka_contracts import EVENT_TYPES
from setka_contracts.regional import (
    ActivityRecordedByRegion,
    AssessmentResultPublished,
    AttendanceRecordedByRegion,
    DeficitDiagnosed,
    OrganizationRef,
    TrainingCompleted,
)
from setka_runtime.errors import DomainError

from services.events import plans
from services.events.activities import check_period
from services.events.models import Activity, PlanItemRevision
from services.events.participation import check_hours
from services.events.regional import fact_id

pytestmark = pytest.mark.unit


def _inn() -> str:
    body = "390100001"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return body + str(sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11 % 10)


def assessment(**change: Any) -> dict[str, Any]:
    return {
        "source_system": "rcoi",
        "external_id": "R-1",
        "organization": {"inn": _inn()},
        "procedure": "vpr",
        "subject": "математика",
        "grade": 5,
        "year": 2026,
        "participants": 40,
        "mean_score": 3.4,
        "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
        "recorded_at": "2026-03-01T10:00:00+03:00",
    } | change


def test_an_organization_is_referred_to_by_id_or_a_valid_inn() -> None:
    assert OrganizationRef(inn=_inn()).inn == _inn()
    assert OrganizationRef(id=uuid.uuid4()).inn is None
    with pytest.raises(ValidationError, match="give the organization's id or its inn"):
        OrganizationRef()
    with pytest.raises(ValidationError, match="checksum"):
        OrganizationRef(inn=_inn()[:9] + str((int(_inn()[9]) + 1) % 10))
    with pytest.raises(ValidationError, match="exactly 10 digits"):
        OrganizationRef(inn="39010")


def test_assessment_mark_shares_are_marks_two_to_five_summing_to_one() -> None:
    assert AssessmentResultPublished.model_validate(assessment()).grade == 5
    with pytest.raises(ValidationError, match="sum to 1"):
        AssessmentResultPublished.model_validate(assessment(mark_shares={"2": 0.5, "3": 0.2}))
    with pytest.raises(ValidationError, match="not 6"):
        AssessmentResultPublished.model_validate(assessment(mark_shares={"6": 1.0}))
    with pytest.raises(ValidationError, match="procedure"):
        AssessmentResultPublished.model_validate(assessment(procedure="olympiad"))


def test_a_regional_activity_ends_after_it_starts() -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    data = {
        "source_system": "lms",
        "external_id": "A-1",
        "title": "Вебинар",
        "activity_type": "webinar",
        "host": {"inn": _inn()},
        "starts_at": start.isoformat(),
        "ends_at": start.isoformat(),
        "updated_at": start.isoformat(),
    }
    with pytest.raises(ValidationError, match="ends_at must be after starts_at"):
        ActivityRecordedByRegion.model_validate(data)


def test_every_inbound_and_outbound_type_is_in_the_catalog_and_versioned() -> None:
    ours = [name for name in EVENT_TYPES if name.startswith(("setka.events.", "setka.regional."))]
    assert len(ours) == 44  # the regional facts in two versions
    assert all(name.rsplit(".", 1)[-1].startswith("v") for name in ours)


def test_fact_ids_are_stable_natural_keys() -> None:
    assert fact_id("activity", "lms", "A-1") == fact_id("activity", "lms", "A-1")
    assert fact_id("activity", "lms", "A-1") != fact_id("activity", "lms2", "A-1")


def test_period_and_hours_rules() -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(DomainError, match="Окончание должно быть позже начала") as error:
        check_period(start, start)
    assert error.value.code == "END_NOT_AFTER_START"
    with pytest.raises(DomainError, match="часовым поясом") as error:
        check_period(start.replace(tzinfo=None), start + timedelta(hours=1))
    assert error.value.code == "TIME_ZONE_REQUIRED"
    activity = Activity(
        title="x",
        activity_type="seminar",
        format="remote",
        host_organization_id=uuid.uuid4(),
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    assert check_hours(activity, 1.999) == 2.0
    with pytest.raises(DomainError, match="больше нуля") as error:
        check_hours(activity, 0)
    assert error.value.code == "HOURS_NOT_POSITIVE"
    with pytest.raises(DomainError, match=r"Больше, чем длилось мероприятие \(2 ч\)") as error:
        check_hours(activity, 2.5)
    assert error.value.code == "HOURS_EXCEED_LENGTH"


@pytest.mark.parametrize(
    "model", [AttendanceRecordedByRegion, AssessmentResultPublished, TrainingCompleted, DeficitDiagnosed]
)
def test_every_fact_with_a_natural_key_carries_the_senders_version(model: Any) -> None:
    assert "recorded_at" in model.model_fields
    assert model.model_fields["recorded_at"].is_required()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"recorded_at": None}, "recorded_at"),
        ({"recorded_at": "2026-03-01T10:00:00"}, "timezone"),
        ({"recorded_at": "2099-01-01T00:00:00+00:00"}, "ahead of Setka's clock"),
        ({"recorded_at": "1999-12-31T00:00:00+00:00"}, "before 2000"),
        ({"participants": 10**12}, "participants"),
        ({"mean_score": float("nan")}, "finite"),
        ({"mean_score": 1e9}, "mean_score"),
        ({"grade": "пятый"}, "grade"),
        ({"year": 9999}, "year"),
        ({"subject": "мат\x00ематика"}, "control characters"),
        ({"subject": "я" * 101}, "subject"),
        ({"mark_shares": {"2": float("inf")}}, "mark_shares"),
        ({"organization": []}, "organization"),
    ],
)
def test_an_assessment_out_of_bounds_is_refused_with_the_field_named(
    change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        AssessmentResultPublished.model_validate(assessment(**change))


def test_the_version_orders_facts_and_an_activity_is_versioned_by_updated_at() -> None:
    data = AssessmentResultPublished.model_validate(assessment())
    assert data.version() == datetime(2026, 3, 1, 7, tzinfo=UTC)
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    activity = ActivityRecordedByRegion.model_validate(
        {
            "source_system": "lms",
            "external_id": "A-1",
            "title": "Вебинар",
            "activity_type": "webinar",
            "host": {"inn": _inn()},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "updated_at": start.isoformat(),
        }
    )
    assert activity.version() == start


def test_a_regional_activity_with_a_naive_time_beside_an_aware_one_is_a_clear_refusal() -> None:
    data = {
        "source_system": "lms",
        "external_id": "A-1",
        "title": "Вебинар",
        "activity_type": "webinar",
        "host": {"inn": _inn()},
        "starts_at": "2026-03-01T10:00:00",
        "ends_at": "2026-03-01T12:00:00+03:00",
        "updated_at": "2026-03-01T09:00:00+03:00",
    }
    with pytest.raises(ValidationError, match="timezone"):
        ActivityRecordedByRegion.model_validate(data)
    with pytest.raises(ValidationError, match="five years"):
        ActivityRecordedByRegion.model_validate(
            data | {"starts_at": "9999-12-30T10:00:00+00:00", "ends_at": "9999-12-31T10:00:00+00:00"}
        )


def _activity(**change: Any) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    return {
        "source_system": "lms",
        "external_id": "A-1",
        "title": "Вебинар",
        "activity_type": "webinar",
        "processes": ["training"],
        "host": {"inn": _inn()},
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 40,
        "updated_at": "2026-01-10T09:00:00+03:00",
    } | change


def _attendance(**change: Any) -> dict[str, Any]:
    return {
        "source_system": "lms",
        "external_id": "P-1",
        "activity_external_id": "A-1",
        "organization": {"inn": _inn()},
        "hours": 2,
        "recorded_at": "2026-01-10T09:00:00+03:00",
    } | change


def _training(**change: Any) -> dict[str, Any]:
    return {
        "source_system": "kpk",
        "external_id": "T-1",
        "educator_id": str(uuid.uuid4()),
        "organization": {"inn": _inn()},
        "course": "Функциональная грамотность",
        "provider": "КРИПКРО",
        "hours": 36,
        "completed_on": "2026-01-09",
        "recorded_at": "2026-01-10T09:00:00+03:00",
    } | change


def _deficit(**change: Any) -> dict[str, Any]:
    return {
        "source_system": "diag",
        "external_id": "D-1",
        "educator_id": str(uuid.uuid4()),
        "organization": {"inn": _inn()},
        "competency": "формирующее оценивание",
        "level": "high",
        "diagnosed_on": "2026-01-09",
        "recorded_at": "2026-01-10T09:00:00+03:00",
    } | change


FACTS: dict[str, tuple[Any, Any]] = {
    "activity": (ActivityRecordedByRegion, _activity),
    "attendance": (AttendanceRecordedByRegion, _attendance),
    "assessment": (AssessmentResultPublished, assessment),
    "training": (TrainingCompleted, _training),
    "deficit": (DeficitDiagnosed, _deficit),
}


@pytest.mark.parametrize("kind", sorted(FACTS))
def test_the_valid_example_of_each_fact_passes(kind: str) -> None:
    model, build = FACTS[kind]
    assert model.model_validate(build()).external_id


def _brief(exc: ValidationError) -> str:
    """What the consumer writes as the dead-letter reason: the field and pydantic's message."""
    return "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())


_SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
_TOMORROW_PLUS = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    [
        # versions: required, with an offset, from 2000, not ahead of Setka's clock
        ("activity", {"updated_at": None}, "updated_at: Value error, must be a time as RFC 3339 text"),
        ("attendance", {"recorded_at": 1767000000}, "recorded_at: Value error, must be a time as RFC 3339"),
        ("training", {"recorded_at": "1700000000"}, "recorded_at: Value error, must be a time as RFC 3339"),
        ("deficit", {"recorded_at": "2026-01-10T09:00:00"}, "recorded_at: Input should have timezone info"),
        ("assessment", {"recorded_at": _SOON}, "recorded_at: Value error, is more than 10 minutes ahead"),
        (
            "attendance",
            {"recorded_at": "9999-12-31T23:59:59-23:59"},
            "recorded_at: Value error, is more than",
        ),
        (
            "training",
            {"recorded_at": "1999-12-31T23:00:00+00:00"},
            "recorded_at: Value error, must not be before 2000",
        ),
        # activity times: offsets, range, order, length
        ("activity", {"starts_at": "2026-03-01T10:00:00"}, "starts_at: Input should have timezone info"),
        (
            "activity",
            {"ends_at": "9999-12-31T10:00:00+00:00"},
            "ends_at: Value error, is more than five years ahead",
        ),
        (
            "activity",
            {"starts_at": "1990-01-01T10:00:00+00:00"},
            "starts_at: Value error, must not be before 2000",
        ),
        ("activity", {"starts_at": 1767000000}, "starts_at: Value error, must be a time as RFC 3339 text"),
        (
            "activity",
            {"starts_at": "2026-01-01T10:00:00+00:00", "ends_at": "2027-06-01T10:00:00+00:00"},
            "at most a year",
        ),
        # days: YYYY-MM-DD, from 2000 to today
        ("training", {"completed_on": "9999-12-31"}, "completed_on: Value error, must not be in the future"),
        (
            "training",
            {"completed_on": _TOMORROW_PLUS},
            "completed_on: Value error, must not be in the future",
        ),
        (
            "deficit",
            {"diagnosed_on": "1999-12-31"},
            "diagnosed_on: Value error, must not be before 2000-01-01",
        ),
        (
            "deficit",
            {"diagnosed_on": "2026-01-09T00:00:00"},
            "diagnosed_on: Value error, must be a day as YYYY-MM-DD",
        ),
        ("training", {"completed_on": 20260109}, "completed_on: Value error, must be a day as YYYY-MM-DD"),
        # numbers: JSON numbers, finite, in range
        (
            "assessment",
            {"participants": 100_001},
            "participants: Input should be less than or equal to 100000",
        ),
        ("assessment", {"participants": -1}, "participants: Input should be greater than or equal to 0"),
        ("assessment", {"participants": "40"}, "participants: Input should be a valid integer"),
        ("assessment", {"grade": True}, "grade: Input should be a valid integer"),
        ("assessment", {"grade": 12}, "grade: Input should be less than or equal to 11"),
        ("assessment", {"year": 1999}, "year: Input should be greater than or equal to 2000"),
        (
            "assessment",
            {"year": datetime.now(UTC).year + 2},
            "year: Value error, must not be later than next year",
        ),
        ("assessment", {"mean_score": 100.5}, "mean_score: Input should be less than or equal to 100"),
        ("assessment", {"mean_score": float("inf")}, "mean_score: Input should be a finite number"),
        ("assessment", {"mean_score": "3.4"}, "mean_score: Input should be a valid number"),
        ("attendance", {"hours": 0}, "hours: Input should be greater than 0"),
        ("attendance", {"hours": 201}, "hours: Input should be less than or equal to 200"),
        ("attendance", {"hours": float("nan")}, "hours: Input should be a finite number"),
        ("training", {"hours": 2001}, "hours: Input should be less than or equal to 2000"),
        ("training", {"hours": 36.5}, "hours: Input should be a valid integer"),
        ("activity", {"capacity": 100_001}, "capacity: Input should be less than or equal to 100000"),
        ("activity", {"capacity": 0}, "capacity: Input should be greater than or equal to 1"),
        # mark shares: at most the four marks, each 0..1, summing to 1
        (
            "assessment",
            {"mark_shares": {"2": 0.2, "3": 0.2, "4": 0.2, "5": 0.2, "6": 0.2}},
            "mark_shares: Dictionary should have at most 4 items",
        ),
        ("assessment", {"mark_shares": {"2": 1.5}}, "mark_shares.2: Input should be less than or equal to 1"),
        (
            "assessment",
            {"mark_shares": {"2": "0.5", "3": 0.5}},
            "mark_shares.2: Input should be a valid number",
        ),
        ("assessment", {"mark_shares": [0.5, 0.5]}, "mark_shares: Input should be a valid dictionary"),
        # lists: known values, each once, bounded
        (
            "activity",
            {"processes": ["training", "training"]},
            "processes: Value error, must not repeat a process",
        ),
        ("activity", {"processes": ["sport"]}, "processes.0: Input should be"),
        ("activity", {"processes": {"training": True}}, "processes: Input should be a valid list"),
        # text: lengths, no control characters, not blank; ids printable without surrounding spaces
        ("activity", {"title": ""}, "title: String should have at least 1 character"),
        ("activity", {"title": "я" * 501}, "title: String should have at most 500 characters"),
        (
            "activity",
            {"title": "Вебинар\nв две строки"},
            "title: Value error, must not contain control characters",
        ),
        ("activity", {"audience": "   "}, "audience: Value error, must not be blank"),
        ("training", {"course": "курс\x85"}, "course: Value error, must not contain control characters"),
        ("training", {"provider": "я" * 301}, "provider: String should have at most 300 characters"),
        ("deficit", {"competency": 5}, "competency: Input should be a valid string"),
        (
            "attendance",
            {"external_id": " P-1"},
            "external_id: Value error, must not start or end with a space",
        ),
        (
            "attendance",
            {"activity_external_id": "A\u200b1"},
            "activity_external_id: Value error, must consist of printable",
        ),
        (
            "attendance",
            {"activity_external_id": "A" * 201},
            "activity_external_id: String should have at most 200",
        ),
        ("deficit", {"source_system": "d" * 101}, "source_system: String should have at most 100 characters"),
        # references
        ("training", {"educator_id": "not-a-uuid"}, "educator_id: Input should be a valid UUID"),
        (
            "attendance",
            {"organization": {"inn": 3901000019}},
            "organization.inn: Input should be a valid string",
        ),
        ("attendance", {"organization": "3901000019"}, "organization: Input should be a valid dictionary"),
        ("deficit", {"level": "extreme"}, "level: Input should be 'low', 'medium' or 'high'"),
    ],
)
def test_every_field_of_every_inbound_fact_is_bounded_with_an_actionable_reason(
    kind: str, change: dict[str, Any], reason: str
) -> None:
    model, build = FACTS[kind]
    with pytest.raises(ValidationError) as caught:
        model.model_validate(build(**change))
    assert reason in _brief(caught.value)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = TrainingCompleted.model_validate(_training(certificate_number="12-345"))
    assert "certificate_number" not in data.model_dump()


def test_a_version_within_the_tolerance_is_accepted_and_is_the_facts_version() -> None:
    from setka_contracts.regional import FUTURE_TOLERANCE

    ahead = datetime.now(UTC).replace(microsecond=0) + FUTURE_TOLERANCE / 2
    for kind, (model, build) in FACTS.items():
        field = "updated_at" if kind == "activity" else "recorded_at"
        assert model.model_validate(build(**{field: ahead.isoformat()})).version() == ahead


def test_a_naive_start_with_an_aware_end_never_raises_a_type_error() -> None:
    """The mixed offsets once reached the period check and raised TypeError; now it is a
    validation error naming the field (and the period check never runs on it)."""
    with pytest.raises(ValidationError) as caught:
        ActivityRecordedByRegion.model_validate(
            _activity(starts_at="2026-03-01T10:00:00", ends_at="2026-03-01T12:00:00+03:00")
        )
    assert _brief(caught.value) == "starts_at: Input should have timezone info"


def test_a_plan_covers_a_calendar_or_a_school_year() -> None:
    assert plans.period_bounds("school_year", 2025) == (date(2025, 9, 1), date(2026, 8, 31))
    assert plans.period_bounds("calendar_year", 2025) == (date(2025, 1, 1), date(2025, 12, 31))
    assert (plans.period_label("school_year", 2025), plans.period_label("school_year", 2099)) == (
        "2025/26",
        "2099/00",
    )
    assert plans.period_label("calendar_year", 2025) == "2025"


def test_a_version_of_a_plan_holds_each_items_latest_revision_up_to_it() -> None:
    first, second, late = (uuid.uuid4() for _ in range(3))

    def revision(item: uuid.UUID, version: int, due: date, withdrawn: bool = False) -> PlanItemRevision:
        return PlanItemRevision(
            item_id=item,
            version=version,
            plan_id=uuid.uuid4(),
            title=str(due),
            kind="activity",
            due_on=due,
            withdrawn=withdrawn,
        )

    revisions = [
        revision(first, 1, date(2026, 3, 1)),
        revision(second, 1, date(2026, 2, 1)),
        revision(first, 2, date(2026, 4, 1)),
        revision(late, 2, date(2026, 1, 1)),
        revision(second, 3, date(2026, 2, 1), withdrawn=True),
    ]

    def shown(version: int) -> list[tuple[uuid.UUID, int]]:
        return [(r.item_id, r.version) for r in plans.items_of_version(revisions, version)]

    assert shown(1) == [(second, 1), (first, 1)]
    assert shown(2) == [(late, 2), (second, 1), (first, 2)]
    assert shown(3) == [(late, 2), (first, 2)]
