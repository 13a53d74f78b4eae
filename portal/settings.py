"""Settings of the workspace (``PORTAL_*`` variables)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "setka-development-secret-change-me"
"""The gateway's development secret (GATEWAY_JWT_SECRET's default), for demo sign-in only."""


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    log_level: str = Field(default="INFO", validation_alias=AliasChoices("PORTAL_LOG_LEVEL", "LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = 8010
    environment: Literal["development", "production"] = "development"
    public_url: str | None = Field(
        default=None, description="The workspace's address as browsers reach it (http://host:port unless set)"
    )
    gateway_url: str = Field(
        default="http://127.0.0.1:8000", description="The public gateway (its /graphql and /reports)"
    )
    gateway_timeout_seconds: float = 30.0
    oidc_issuer: str | None = Field(
        default=None, description="The OpenID provider (e.g. Keycloak's https://…/realms/<realm>)"
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    demo_sign_in: bool = Field(
        default=True,
        description="Offer the demo people's sign-in (development on a loopback host only; production"
        " refuses it)",
    )
    demo_jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        validation_alias=AliasChoices("PORTAL_DEMO_JWT_SECRET", "GATEWAY_JWT_SECRET"),
        description="Signs the demo people's tokens: the gateway's GATEWAY_JWT_SECRET",
    )
    session_hours: float = Field(default=8.0, gt=0, description="How long a sign-in lasts without use")
    import_max_bytes: int = Field(
        default=10_000_000,
        gt=0,
        description="The largest file the import page sends on (the registry's REGISTRY_IMPORT_MAX_BYTES)",
    )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    @property
    def demo(self) -> bool:
        """Whether the demo sign-in is offered: asked for, in development, on a loopback host."""
        return self.demo_sign_in and self.environment == "development" and self.loopback

    @property
    def oidc(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @model_validator(mode="after")
    def _signs_in_somehow(self) -> PortalSettings:
        if self.environment == "production":
            if not self.oidc:
                raise ValueError(
                    "the workspace in production needs PORTAL_OIDC_ISSUER and PORTAL_OIDC_CLIENT_ID"
                )
            if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
                raise ValueError("PORTAL_OIDC_ISSUER must be https:// in production")
        return self
