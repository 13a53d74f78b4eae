"""The inbound contract: facts that regional systems publish to Setka's ``regional.*`` topics.

A regional system (the institute's course system, the regional assessment system, an LMS) sends
one CloudEvent per fact, in Kafka binary mode, to the topic named by the model's ``topic``.
Version 1 of a fact refers to organizations by our id or their ИНН, and to educators by our id.
Version 2 (``….v2``) takes the references regional systems actually hold (see
:class:`OrganizationReference` and :class:`EducatorReference`): ИНН, ОГРН, the federal school
code or the system's own id of an organization; the system's own person id or the СНИЛС of an
educator. Both versions are accepted on the same topics. Every fact carries the sending system
(``source_system``) and its own id of the fact (``external_id``), so that sending it again, or a
newer version of it, replaces what we had instead of adding a second copy.

Every field is bounded (see ``docs/integrators.md``): times carry a UTC offset and lie in sane
ranges, numbers are JSON numbers (not strings or booleans), finite and within real ranges, text
has a length and no control characters. Fields a model does not know are ignored (``extra =
"ignore"``), so a sender may already send fields of a later minor version.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from . import topics
from .base import EventData
from .events import ActivityFormat, ActivityType, LearningProcess
from .identifiers import inn_problem, normalised_snils, ogrn_problem, snils_problem

FUTURE_TOLERANCE = timedelta(minutes=10)
"""How far ahead of Setka's clock a sender's clock may run: a version or a past date later than
now + this is refused (a fact dated 2099 would otherwise freeze every later correction)."""
_TOLERANCE_MINUTES = int(FUTURE_TOLERANCE.total_seconds() // 60)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No fact of the network's life is older than this."""
PLANNING_HORIZON = timedelta(days=5 * 366)
"""How far ahead an activity may be planned."""
LONGEST_ACTIVITY = timedelta(days=366)
"""The longest an activity may last."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 controls (tab and line breaks included), DEL and C1 controls."""
_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_EXAMPLE = "2026-03-12T18:05:00+03:00"


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (tab, line break, NUL, …)")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _identifier(value: str) -> str:
    _no_control(value)
    if value != value.strip():
        raise ValueError("must not start or end with a space")
    if not value.isprintable():
        raise ValueError("must consist of printable characters (no invisible or formatting characters)")
    return value


def _time_text(value: Any) -> Any:
    """A time arrives as RFC 3339 text (or, from Python, as a datetime); never as a number."""
    if isinstance(value, datetime) or (isinstance(value, str) and _TIME_TEXT.match(value)):
        return value
    raise ValueError(f"must be a time as RFC 3339 text with a UTC offset, e.g. {TIME_EXAMPLE}")


def _day_text(value: Any) -> Any:
    """A day arrives as YYYY-MM-DD text (or, from Python, as a date); never as a number or a time."""
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _DAY_TEXT.fullmatch(value)
    ):
        return value
    raise ValueError("must be a day as YYYY-MM-DD text, e.g. 2026-02-20")


def _version(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST.date()}")
    if value > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(
            f"is more than {_TOLERANCE_MINUTES} minutes ahead of Setka's clock; "
            "send when the fact was recorded"
        )
    return value


def _moment(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST.date()}")
    if value > datetime.now(UTC) + PLANNING_HORIZON:
        raise ValueError("is more than five years ahead")
    return value


def _past_day(value: date) -> date:
    if value < EARLIEST.date():
        raise ValueError(f"must not be before {EARLIEST.date()}")
    # "today" anywhere in Russia: up to a day ahead of the UTC date
    if value > (datetime.now(UTC) + FUTURE_TOLERANCE).date() + timedelta(days=1):
        raise ValueError("must not be in the future")
    return value


Text = Annotated[str, AfterValidator(_no_control)]
"""Text without control characters, not blank (length limits are set per field)."""
Identifier = Annotated[str, AfterValidator(_identifier)]
"""An id or a name of a system: printable, no control characters, no surrounding spaces."""
Version = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_version)]
"""The sender's version of a fact: with a UTC offset, from 2000, not ahead of Setka's clock."""
Moment = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_moment)]
"""A time with a UTC offset, from 2000 to five years ahead."""
PastDay = Annotated[date, BeforeValidator(_day_text), AfterValidator(_past_day)]
"""A day that has come: from 2000 to today."""
RECORDED_AT = (
    "The version: when the sending system recorded or last changed this fact, with a UTC offset; "
    f"from 2000, at most {_TOLERANCE_MINUTES} minutes ahead of Setka's clock. An older version "
    "never replaces a newer one; the same version again is a repeat."
)
Count = Annotated[int, Strict()]
"""A whole JSON number (not a string, a boolean or 5.0)."""
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
"""A finite JSON number (not a string or a boolean)."""


class OrganizationRef(BaseModel):
    """An organization, by our id or by its ИНН (at least one; our id wins if both are given)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID | None = Field(default=None, description="Setka's id of the organization")
    inn: str | None = Field(
        default=None, description="ИНН of the organization, 10 digits", examples=["3901000013"]
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if problem := inn_problem(value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> OrganizationRef:
        if self.id is None and self.inn is None:
            raise ValueError("give the organization's id or its inn")
        return self

    def describe(self) -> str:
        return f"id {self.id}" if self.id else f"ИНН {self.inn}"


class OrganizationReference(OrganizationRef):
    """An organization as a regional system knows it (version 2 of the facts): at least one of
    Setka's id, ИНН, ОГРН, the federal school code or the sending system's own id; the first
    given in that order is the one looked up."""

    ogrn: str | None = Field(default=None, description="ОГРН, 13 digits", examples=["1023900000011"])
    school_code: Identifier | None = Field(
        default=None,
        max_length=40,
        description="The school's code in the federal assessment system (ФИС ОКО)",
        examples=["390123"],
    )
    own_id: Identifier | None = Field(
        default=None,
        max_length=200,
        description="The sending system's own id of the organization (its source_system's), as "
        "mapped to Setka's id by an import",
    )

    @field_validator("ogrn")
    @classmethod
    def _ogrn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if problem := ogrn_problem(value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> OrganizationReference:
        if all(getattr(self, name) is None for name in ("id", "inn", "ogrn", "school_code", "own_id")):
            raise ValueError("give the organization's id, inn, ogrn, school_code or own_id")
        return self

    def describe(self) -> str:
        for name, label in (
            ("id", "id"),
            ("inn", "ИНН"),
            ("ogrn", "ОГРН"),
            ("school_code", "код ФИС ОКО"),
            ("own_id", "собственный код системы"),
        ):
            value = getattr(self, name)
            if value is not None:
                return f"{label} {value}"
        return "—"


class EducatorReference(BaseModel):
    """An educator as a regional system knows them (version 2 of the facts): Setka's id, the
    sending system's own person id, or the СНИЛС. Setka never keeps a СНИЛС: it is replaced by a
    keyed hash (HMAC-SHA256) as soon as the fact is received, and looked up by that hash."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID | None = Field(default=None, description="Setka's id of the educator")
    person_id: Identifier | None = Field(
        default=None,
        max_length=200,
        description="The sending system's own id of the person (its source_system's)",
        examples=["P-000417"],
    )
    snils: str | None = Field(
        default=None,
        description="СНИЛС, 11 digits with or without the usual hyphens and space; checked by its "
        "check digits; never stored",
        examples=["112-233-445 95"],
    )
    snils_hash: SkipJsonSchema[str | None] = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """What Setka keeps of a СНИЛС (set by Setka itself when it receives the fact)."""

    @field_validator("snils")
    @classmethod
    def _snils(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalised_snils(value.strip())
        if problem := snils_problem(value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> EducatorReference:
        if self.id is None and self.person_id is None and self.snils is None and self.snils_hash is None:
            raise ValueError("give the educator's id, person_id or snils")
        return self

    def describe(self) -> str:
        """The reference as a reason names it: never the СНИЛС itself."""
        if self.id is not None:
            return f"id {self.id}"
        if self.person_id is not None:
            return f"собственный код системы {self.person_id}"
        return "СНИЛС (указанный в факте)"


class RegionalFact(EventData):
    """What every inbound fact carries: who sent it, the sender's own id of it, and its version.

    The version (``recorded_at``; ``updated_at`` for an activity) orders the versions of one fact:
    an older version never replaces a newer one, whatever order they arrive in, and the same
    version again is a repeat.
    """

    key_field = "external_id"

    source_system: Identifier = Field(
        min_length=1,
        max_length=100,
        description="The sending system, stable over time",
        examples=["kripkro-lms"],
    )
    external_id: Identifier = Field(
        min_length=1,
        max_length=200,
        description="The sending system's id of this fact",
        examples=["A-2026-0042"],
    )

    def version(self) -> datetime:
        """The sender's version of this fact."""
        return self.recorded_at  # type: ignore[attr-defined, no-any-return]


class RegionalActivityStatus(StrEnum):
    planned = "planned"
    announced = "announced"
    held = "held"
    cancelled = "cancelled"


class ActivityRecordedByRegion(RegionalFact):
    """An activity (мероприятие) recorded in a regional system; upserted by source + external id.

    A later ``updated_at`` replaces an earlier one; an older version arriving late is ignored.
    """

    event_type = "setka.regional.activity.recorded.v1"
    topic = topics.REGIONAL_ACTIVITIES

    title: Text = Field(min_length=1, max_length=500)
    activity_type: ActivityType
    processes: list[LearningProcess] = Field(
        default_factory=list,
        max_length=len(LearningProcess),
        description="Each at most once",
        json_schema_extra={"uniqueItems": True},
    )
    format: ActivityFormat = ActivityFormat.in_person
    host: OrganizationRef = Field(description="The organization that holds the activity")
    network_id: uuid.UUID | None = Field(default=None, description="Setka's id of the network, if known")
    starts_at: Moment = Field(description="With a UTC offset, e.g. 2026-03-01T10:00:00+03:00")
    ends_at: Moment = Field(description="With a UTC offset; after starts_at")
    audience: Text | None = Field(default=None, max_length=500)
    capacity: Count | None = Field(default=None, ge=1, le=100_000)
    status: RegionalActivityStatus = RegionalActivityStatus.planned
    updated_at: Version = Field(
        description=RECORDED_AT.replace("recorded or last changed this fact", "last changed this activity")
    )

    def version(self) -> datetime:
        return self.updated_at

    @model_validator(mode="after")
    def _period(self) -> ActivityRecordedByRegion:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > LONGEST_ACTIVITY:
            raise ValueError(
                "an activity lasts at most a year: ends_at is more than 366 days after starts_at"
            )
        return self

    @field_validator("processes")
    @classmethod
    def _distinct(cls, value: list[LearningProcess]) -> list[LearningProcess]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a process")
        return value


class _Attendance(RegionalFact):
    activity_external_id: Identifier = Field(
        min_length=1, max_length=200, description="The sending system's id of the activity"
    )
    hours: Number = Field(gt=0, le=200, description="Hours of the activity attended; at most its length")
    recorded_at: Version = Field(description=RECORDED_AT)


class AttendanceRecordedByRegion(_Attendance):
    """Who took part in an activity recorded by the same system, and for how many hours.

    ``activity_external_id`` is the sender's id of the activity; when the attendance arrives
    first it waits for the activity.
    """

    event_type = "setka.regional.attendance.recorded.v1"
    topic = topics.REGIONAL_ATTENDANCE

    organization: OrganizationRef = Field(description="The participating organization")
    educator_id: uuid.UUID | None = Field(
        default=None, description="Setka's id of the participating educator; none if the whole organization"
    )


class AssessmentProcedure(StrEnum):
    """ВПР, ОГЭ, ЕГЭ or a regional diagnostic."""

    vpr = "vpr"
    oge = "oge"
    ege = "ege"
    regional_diagnostic = "regional_diagnostic"


class AssessmentResultPublished(RegionalFact):
    """Results of one assessment procedure at one school: one subject, grade and year."""

    event_type = "setka.regional.assessment.published.v1"
    topic = topics.REGIONAL_ASSESSMENTS

    organization: OrganizationRef
    procedure: AssessmentProcedure
    subject: Text = Field(min_length=1, max_length=100, examples=["математика"])
    grade: Count = Field(ge=1, le=11)
    year: Count = Field(ge=2000, le=2100, description="The year of the procedure: from 2000 to next year")
    participants: Count = Field(ge=0, le=100_000)
    mean_score: Number = Field(ge=0, le=100)
    mark_shares: dict[str, Annotated[Number, Field(ge=0, le=1)]] = Field(
        description="Share of each mark, '2'..'5', each 0..1, summing to 1",
        examples=[{"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15}],
        max_length=4,
        json_schema_extra={"propertyNames": {"enum": ["2", "3", "4", "5"]}},
    )
    recorded_at: Version = Field(description=RECORDED_AT)

    @field_validator("year")
    @classmethod
    def _year(cls, value: int) -> int:
        if value > datetime.now(UTC).year + 1:
            raise ValueError("must not be later than next year")
        return value

    @field_validator("mark_shares")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"2", "3", "4", "5"})
        if unknown:
            raise ValueError(f"marks are '2', '3', '4', '5'; not {', '.join(unknown)}")
        if value and abs(sum(value.values()) - 1) > 0.011:
            raise ValueError(f"shares must sum to 1, they sum to {sum(value.values()):.3f}")
        return value


class _Training(RegionalFact):
    course: Text = Field(min_length=1, max_length=500)
    provider: Text = Field(min_length=1, max_length=300)
    hours: Count = Field(gt=0, le=2000)
    completed_on: PastDay = Field(description="YYYY-MM-DD, from 2000 to today")
    recorded_at: Version = Field(description=RECORDED_AT)


class TrainingCompleted(_Training):
    """An educator completed professional training (курсы повышения квалификации)."""

    event_type = "setka.regional.training.completed.v1"
    topic = topics.REGIONAL_TRAININGS

    educator_id: uuid.UUID = Field(description="Setka's id of the educator")
    organization: OrganizationRef = Field(description="The educator's organization")


class DeficitLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class _Deficit(RegionalFact):
    competency: Text = Field(min_length=1, max_length=300, examples=["формирующее оценивание"])
    level: DeficitLevel
    diagnosed_on: PastDay = Field(description="YYYY-MM-DD, from 2000 to today")
    recorded_at: Version = Field(description=RECORDED_AT)


class DeficitDiagnosed(_Deficit):
    """A professional deficit (профессиональный дефицит) of an educator found by a diagnostic."""

    event_type = "setka.regional.deficit.diagnosed.v1"
    topic = topics.REGIONAL_DEFICITS

    educator_id: uuid.UUID = Field(description="Setka's id of the educator")
    organization: OrganizationRef = Field(description="The educator's organization")


# --- version 2: the references regional systems hold ----------------------------------------------

V2 = (
    "Version 2: organizations and educators by the references regional systems hold (ИНН, ОГРН, the "
    "federal school code, the system's own ids, СНИЛС). "
)


class ActivityRecordedByRegionV2(ActivityRecordedByRegion):
    __doc__ = V2 + (ActivityRecordedByRegion.__doc__ or "")

    event_type = "setka.regional.activity.recorded.v2"

    host: OrganizationReference = Field(description="The organization that holds the activity")


class AttendanceRecordedByRegionV2(_Attendance):
    __doc__ = V2 + (AttendanceRecordedByRegion.__doc__ or "")

    event_type = "setka.regional.attendance.recorded.v2"
    topic = topics.REGIONAL_ATTENDANCE

    organization: OrganizationReference = Field(description="The participating organization")
    educator: EducatorReference | None = Field(
        default=None, description="The participating educator; none if the whole organization"
    )


class AssessmentResultPublishedV2(AssessmentResultPublished):
    __doc__ = V2 + (AssessmentResultPublished.__doc__ or "")

    event_type = "setka.regional.assessment.published.v2"

    organization: OrganizationReference = Field(description="The school")


class TrainingCompletedV2(_Training):
    __doc__ = V2 + (TrainingCompleted.__doc__ or "")

    event_type = "setka.regional.training.completed.v2"
    topic = topics.REGIONAL_TRAININGS

    educator: EducatorReference
    organization: OrganizationReference = Field(description="The educator's organization")


class DeficitDiagnosedV2(_Deficit):
    __doc__ = V2 + (DeficitDiagnosed.__doc__ or "")

    event_type = "setka.regional.deficit.diagnosed.v2"
    topic = topics.REGIONAL_DEFICITS

    educator: EducatorReference
    organization: OrganizationReference = Field(description="The educator's organization")


LATEST: dict[str, type[RegionalFact]] = {
    ActivityRecordedByRegionV2.event_type: ActivityRecordedByRegion,
    AttendanceRecordedByRegionV2.event_type: AttendanceRecordedByRegion,
    AssessmentResultPublishedV2.event_type: AssessmentResultPublished,
    TrainingCompletedV2.event_type: TrainingCompleted,
    DeficitDiagnosedV2.event_type: DeficitDiagnosed,
}
"""Each version 2 type and the version 1 type it becomes once its references are resolved to
Setka's ids (what the rules of the events service apply)."""


INBOUND_TYPES: tuple[type[RegionalFact], ...] = (
    ActivityRecordedByRegion,
    AttendanceRecordedByRegion,
    AssessmentResultPublished,
    TrainingCompleted,
    DeficitDiagnosed,
    ActivityRecordedByRegionV2,
    AttendanceRecordedByRegionV2,
    AssessmentResultPublishedV2,
    TrainingCompletedV2,
    DeficitDiagnosedV2,
)
