from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings


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
    alert_deficit_training_days: int = Field(
        default=90,
        ge=1,
        description="A diagnosed deficit followed by no training of the educator for this many days "
        "is alerted",
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
