from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Settings of the analytics service (``ANALYTICS_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore")
    service_name = "analytics"

    database_url: str = "sqlite:///var/analytics.db"
    port: int = 8003
