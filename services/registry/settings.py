from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Settings of the registry service (``REGISTRY_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")
    service_name = "registry"

    database_url: str = "sqlite:///var/registry.db"
    port: int = 8001
    import_max_bytes: int = Field(
        default=10_000_000,
        gt=0,
        description="The largest file importFile takes (decoded); a larger one is refused with"
        " FILE_TOO_LARGE. Sent base64-encoded it is a third larger: the gateway's"
        " GATEWAY_MAX_SIGNED_IN_BODY_BYTES must hold that",
    )
    personal_data_retention_after_leaving_days: int | None = Field(
        default=None,
        ge=0,
        validation_alias=AliasChoices(
            "PERSONAL_DATA_RETENTION_AFTER_LEAVING_DAYS",
            "REGISTRY_PERSONAL_DATA_RETENTION_AFTER_LEAVING_DAYS",
        ),
        description="An educator whose last employment ended this many days ago has their personal "
        "data erased (152-ФЗ); unset: only on request",
    )
    erasure_interval_seconds: float = Field(
        default=86400.0, gt=0, description="How often educators past the retention are looked for"
    )
