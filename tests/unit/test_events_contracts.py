"""The inbound contract's validation and the events service's pure rules, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
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

from services.events.activities import check_period
from services.events.models import Activity
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
    assert len(ours) == 25
    assert all(name.rsplit(".", 1)[-1].startswith("v") for name in ours)


def test_fact_ids_are_stable_natural_keys() -> None:
    assert fact_id("activity", "lms", "A-1") == fact_id("activity", "lms", "A-1")
    assert fact_id("activity", "lms", "A-1") != fact_id("activity", "lms2", "A-1")


def test_period_and_hours_rules() -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(DomainError, match="end after it starts"):
        check_period(start, start)
    with pytest.raises(DomainError, match="time zone"):
        check_period(start.replace(tzinfo=None), start + timedelta(hours=1))
    activity = Activity(
        title="x",
        activity_type="seminar",
        format="remote",
        host_organization_id=uuid.uuid4(),
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    assert check_hours(activity, 1.999) == 2.0
    with pytest.raises(DomainError, match="positive"):
        check_hours(activity, 0)
    with pytest.raises(DomainError, match="exceed"):
        check_hours(activity, 2.5)


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
