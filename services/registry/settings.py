from pydantic import Field
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
