from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings

from .notifications.settings import NotificationSettings


class EventsSettings(ServiceSettings):
    """Settings of the events service (``EVENTS_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore")
    service_name = "events"

    database_url: str = "sqlite:///var/events.db"
    port: int = 8002
    seed_demo: bool = Field(
        default=False,
        description="Load a demo year of plans and activities once the registry's demo data has arrived",
    )
    unregistered_sources: Literal["refuse", "accept"] = Field(
        default="refuse",
        description="What happens to a regional fact whose ce_source is not a registered source: "
        "refuse (dead-lettered with SOURCE_NOT_REGISTERED), or accept while an installation "
        "registers its sources (a registered source is held to its grants either way)",
    )
    notifications: NotificationSettings = Field(
        default_factory=NotificationSettings, description="The notifier (NOTIFY_* variables, WORKSPACE_URL)"
    )
