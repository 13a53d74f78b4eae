from pydantic import Field
from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    """Settings of the events service (``EVENTS_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore")
    service_name = "events"

    database_url: str = "sqlite:///var/events.db"
    port: int = 8002
    unknown_wait_seconds: float = Field(
        default=86400.0,
        description="How long an inbound message that refers to something not known yet (an "
        "organization not registered, an activity whose attendance came first) waits before it "
        "goes to the dead-letter topic",
    )
    unknown_retry_seconds: float = Field(
        default=1.0,
        description="First pause before a waiting message is tried again; it doubles, up to a minute",
    )
    seed_demo: bool = Field(
        default=False,
        description="Load a demo year of plans and activities once the registry's demo data has arrived",
    )
