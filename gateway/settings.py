"""Settings of the gateway (``GATEWAY_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "setka-development-secret-change-me"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    environment: str = Field(
        default="development", description="'production' refuses the development JWT secret"
    )

    registry_url: str = "http://127.0.0.1:8001/graphql"
    events_url: str = "http://127.0.0.1:8002/graphql"
    analytics_url: str = "http://127.0.0.1:8003/graphql"
    subgraph_timeout_seconds: float = 10.0

    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "setka"

    supergraph: Path = Field(
        default=Path(__file__).resolve().parent.parent / "supergraph.graphql",
        description="The composed supergraph the gateway executes (make supergraph writes it)",
    )
    subgraph_connections: int = 64

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000
    max_body_bytes: int = 1_048_576

    introspection: bool | None = Field(default=None, description="default: on unless in production")
    graphiql: bool | None = Field(default=None, description="default: on unless in production")
    persisted_documents: Path | None = Field(
        default=None, description="a JSON manifest of trusted documents: {id: document}"
    )
    persisted_only: bool = False

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def introspection_enabled(self) -> bool:
        return not self.production if self.introspection is None else self.introspection

    @property
    def graphiql_enabled(self) -> bool:
        return not self.production if self.graphiql is None else self.graphiql

    @model_validator(mode="after")
    def _no_placeholder_in_production(self) -> GatewaySettings:
        secret = self.jwt_secret.get_secret_value()
        if secret == DEV_SECRET and (self.environment != "development" or self.host not in LOOPBACK):
            raise ValueError(
                "GATEWAY_JWT_SECRET is the development placeholder, which anyone can sign tokens with:"
                " it is accepted only with GATEWAY_ENVIRONMENT=development on a loopback host."
                " Set a real secret of at least 32 characters"
            )
        if self.environment == "production" and len(secret) < 32:
            raise ValueError(
                "GATEWAY_JWT_SECRET must be a real secret of at least 32 characters in production"
            )
        return self
