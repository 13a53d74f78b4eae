from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict
from setka_contracts.regional import AssessmentProcedure
from setka_runtime.settings import ServiceSettings

from .analysis_model import RESULT_DUE_MONTHS, AnalysisRules


class AnalyticsSettings(ServiceSettings):
    """Settings of the analytics service (``ANALYTICS_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore")
    service_name = "analytics"

    database_url: str = "sqlite:///var/analytics.db"
    port: int = 8003

    alert_no_activity_days: int = Field(
        default=30,
        ge=1,
        description="A supported school that took part in no activity of its network for this many "
        "days is alerted (counted from its last activity there, or from its joining)",
    )
    deficit_follow_up_days: int = Field(
        default=AnalysisRules().follow_up_days,
        ge=1,
        validation_alias=AliasChoices(
            "deficit_follow_up_days",
            "ANALYTICS_DEFICIT_FOLLOW_UP_DAYS",
            "alert_deficit_training_days",
            "ANALYTICS_ALERT_DEFICIT_TRAINING_DAYS",
        ),
        description="Days after its diagnosis within which a deficit is to be addressed (a training or "
        "a network activity naming its competency): the analysis' indicator, its attention list and "
        "the alert all count by this",
    )
    result_due_months: dict[str, int] = Field(
        default_factory=lambda: dict(RESULT_DUE_MONTHS),
        description="Per assessment procedure (vpr, oge, ege, regional_diagnostic), the month (1–12) by "
        'whose end its results of a year are in, as JSON, e.g. {"vpr": 5, "oge": 7}; a procedure left '
        "out keeps its default. Before it, the analysis expects no result of that procedure",
    )
    results_min_schools: int = Field(
        default=AnalysisRules().results_min_schools,
        ge=1,
        description="A comparison of results needs at least this many supported schools and as many "
        "comparison schools (with results in both years and matched); fewer: no estimate, «недостаточно "
        "данных»",
    )
    alert_attendance_grace_days: int = Field(
        default=3,
        ge=0,
        description="Days a held activity's attendance may take to arrive before it is alerted",
    )
    disclosure_min_schools: int = Field(
        default=5,
        ge=1,
        description="Outside a caller's scope (and for anonymous callers) an analysis is given only of a"
        " group of at least this many schools, and only its figures over at least this many",
    )
    alert_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the alert rules are evaluated"
    )
    audit_retention_days: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("AUDIT_RETENTION_DAYS", "ANALYTICS_AUDIT_RETENTION_DAYS"),
        description="Audit entries older than this many days are deleted; unset: kept for ever",
    )
    audit_retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the audit retention is applied"
    )

    @field_validator("result_due_months")
    @classmethod
    def _known_procedures(cls, value: dict[str, int]) -> dict[str, int]:
        known = {procedure.value for procedure in AssessmentProcedure}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown procedures {unknown}: one of {sorted(known)}")
        wrong = {procedure: month for procedure, month in value.items() if not 1 <= month <= 12}
        if wrong:
            raise ValueError(f"a month is 1 to 12, not {wrong}")
        return {**RESULT_DUE_MONTHS, **value}

    def analysis_rules(self) -> AnalysisRules:
        """The analysis' calendar as these settings set it."""
        return AnalysisRules(
            follow_up_days=self.deficit_follow_up_days,
            result_due_months=self.result_due_months,
            results_min_schools=self.results_min_schools,
        )
