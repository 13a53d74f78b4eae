from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Settings of the registry service (``REGISTRY_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")
    service_name = "registry"

    database_url: str = "sqlite:///var/registry.db"
    port: int = 8001
