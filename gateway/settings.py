"""Settings of the gateway (``GATEWAY_*`` variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from setka_runtime import logs
from setka_runtime.access import DEV_INTERNAL_SECRET, LOOPBACK, check_internal_secret

DEV_SECRET = "setka-development-secret-change-me"

SHARED_SECRET_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
"""Verified with ``GATEWAY_JWT_SECRET``."""
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Verified with a key of ``GATEWAY_JWT_JWKS_URL``."""


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: str = Field(default_factory=logs.default_format, validation_alias="LOG_FORMAT")
    """``json`` or ``text``; ``text`` by default only with ``SETKA_ENV=development``."""
    environment: str = Field(
        default="development", description="'production' refuses the development secrets"
    )

    registry_url: str = "http://127.0.0.1:8001/graphql"
    events_url: str = "http://127.0.0.1:8002/graphql"
    analytics_url: str = "http://127.0.0.1:8003/graphql"
    subgraph_timeout_seconds: float = 10.0

    # -- the portal's tokens ----------------------------------------------------------------------
    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Verifies (and `setka token issue` signs) HS256 tokens",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("GATEWAY_JWT_ALGORITHMS", "GATEWAY_JWT_ALGORITHM"),
        description="Accepted signing algorithms, comma-separated; default HS256, or RS256,ES256 "
        "with GATEWAY_JWT_JWKS_URL",
    )
    jwt_issuer: str = Field(default="setka", description="The required `iss` claim")
    jwt_audience: str | None = Field(
        default=None, description="The required `aud` claim; must be set with GATEWAY_JWT_JWKS_URL"
    )
    jwt_leeway_seconds: float = Field(default=30.0, description="Clock skew allowed on exp, nbf, iat")
    jwt_max_lifetime_hours: float = Field(
        default=24.0,
        description="The longest a token may live (exp − iat); a longer one is refused (≤ 0: no cap). "
        "A token cannot be revoked, so a stolen one must not serve for long",
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        description="The JSON Web Key Set of an OpenID provider (Keycloak: "
        "https://<host>/realms/<realm>/protocol/openid-connect/certs)",
    )
    jwt_jwks_max_age_seconds: float = Field(
        default=300.0, description="Cached keys are refetched in the background after this long"
    )
    jwt_jwks_min_interval_seconds: float = Field(
        default=30.0, description="At most one JWKS request this often, whatever tokens arrive"
    )
    jwt_jwks_timeout_seconds: float = 5.0
    jwt_roles_claim: str | None = Field(
        default=None,
        description="Dotted path of the roles list (e.g. resource_access.setka.roles); default: "
        "`roles`, else Keycloak's realm_access.roles",
    )
    jwt_region_claim: str = "region"
    jwt_municipality_claim: str = "municipality"
    jwt_organization_claim: str = "org"

    # -- the identity passed on to the services ----------------------------------------------------
    internal_token_secret: SecretStr = Field(
        default=SecretStr(DEV_INTERNAL_SECRET),
        validation_alias=AliasChoices("GATEWAY_INTERNAL_TOKEN_SECRET", "INTERNAL_TOKEN_SECRET"),
        description="Signs the caller's identity for the services; the same secret as theirs",
    )

    supergraph: Path = Field(
        default=Path(__file__).resolve().parent.parent / "supergraph.graphql",
        description="The composed supergraph the gateway executes (make supergraph writes it)",
    )
    subgraph_connections: int = 64

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000
    max_document_chars: int = Field(
        default=100_000, description="Characters of a GraphQL document, whitespace and comments included"
    )
    max_fields: int = Field(
        default=5_000,
        description="Fields of an operation once its fragments are written out (counted before they are)",
    )
    max_repeats: int = Field(
        default=20,
        ge=1,
        description="Times one response name may be asked in one selection, its fragments included"
        " (repeats change nothing in an answer, but validating them costs the square of their number)",
    )
    max_operations_per_socket: int = Field(
        default=20,
        description="Operations one WebSocket connection may run at once",
    )
    max_subscriptions_per_identity: int = Field(
        default=50,
        description="Subscriptions one caller (a token's subject; signed out, a client address) may run at "
        "once over all its WebSocket connections to this process; past it a subscribe gets an error "
        "(TOO_MANY_SUBSCRIPTIONS); ≤ 0: no limit",
    )
    max_sockets_per_identity: int = Field(
        default=10,
        description="WebSocket connections one caller may hold open to this process; one more is closed "
        "with 4429 after connection_init; ≤ 0: no limit",
    )
    socket_messages_per_second: float = Field(
        default=10.0,
        description="Messages a WebSocket connection may send a second on average (GATEWAY_SOCKET_MESSAGE_"
        "BURST at once); one that sends faster is closed with 4429; ≤ 0: no limit",
    )
    socket_message_burst: int = Field(
        default=50, description="Messages a WebSocket connection may send at once", ge=1
    )
    subscription_upstream_idle_seconds: float = Field(
        default=5.0,
        description="A caller's subscriptions to one subgraph share one WebSocket to it, closed this long "
        "after the last of them ends",
        ge=0,
    )
    max_body_bytes: int = Field(
        default=1_048_576, description="Largest /graphql request body of an anonymous caller (413 past it)"
    )
    max_signed_in_body_bytes: int = Field(
        default=32 * 1_048_576,
        description="Largest /graphql request body of a signed-in caller: documents travel in base64 in a"
        " mutation, so it holds DOCUMENTS_MAX_BYTES (20 MB) × 4/3 and the request around it",
    )
    rate_limit_per_minute: int = Field(
        default=600, description="Requests a minute per client address on /graphql and /reports; ≤ 0: off"
    )
    rate_limit_burst: int = Field(default=60, description="Requests a client may send at once")
    cost_budget_per_minute: int = Field(
        default=300_000,
        description="What a signed-in caller's GraphQL requests may cost a minute (the cost GATEWAY_MAX_COST"
        " bounds per request; 429 COST_BUDGET_EXCEEDED past it); ≤ 0: no budget",
    )
    anonymous_cost_budget_per_minute: int = Field(
        default=60_000,
        description="The same for each anonymous client address; ≤ 0: no budget",
    )
    rate_limit_redis_url: SecretStr | None = Field(
        default=None,
        description="Redis holding the rate limit's buckets (redis://host:6379/0, rediss:// with TLS): every "
        "replica naming it shares one limit per client. Unset: each replica limits on its own. When it "
        "does not answer, each replica limits on its own until it does",
    )
    rate_limit_redis_prefix: str = Field(
        default="setka:ratelimit:", description="Prefix of the buckets' Redis keys (one per client)"
    )
    rate_limit_redis_timeout_seconds: float = Field(
        default=0.1,
        gt=0,
        description="How long a request waits for Redis before its replica's own bucket counts it instead",
    )
    trust_forwarded: bool = Field(
        default=False,
        description="Take the client's address from X-Forwarded-For when the peer is a trusted proxy "
        "(GATEWAY_TRUSTED_PROXIES, else the private ranges)",
    )
    trusted_proxies: str = Field(
        default="",
        description="CIDRs of the reverse proxies in front of the gateway, comma-separated; the client is "
        "the rightmost X-Forwarded-For address not among them",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        from .ratelimit import networks

        networks(value)
        return value

    @field_validator("rate_limit_redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None  # empty: unset
            if not value.strip().startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("GATEWAY_RATE_LIMIT_REDIS_URL must be a redis://, rediss:// or unix:// URL")
            return value.strip()
        return value

    metrics_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GATEWAY_METRICS_TOKEN", "METRICS_TOKEN"),
        description="Bearer token Prometheus sends to /metrics; without it /metrics answers loopback only",
    )

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

    @property
    def accepts_shared_secret(self) -> bool:
        """Whether tokens signed with GATEWAY_JWT_SECRET are accepted (and may be issued)."""
        return bool(SHARED_SECRET_ALGORITHMS.intersection(self.jwt_algorithms))

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("jwt_audience", "jwt_jwks_url", "jwt_roles_claim", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _tokens_are_verifiable(self) -> GatewaySettings:
        if not self.jwt_algorithms:
            self.jwt_algorithms = ["RS256", "ES256"] if self.jwt_jwks_url else ["HS256"]
        known = SHARED_SECRET_ALGORITHMS | PUBLIC_KEY_ALGORITHMS
        unknown = [a for a in self.jwt_algorithms if a not in known]
        if unknown:
            raise ValueError(
                f"GATEWAY_JWT_ALGORITHMS: {', '.join(unknown)} not accepted; choose from"
                f" {', '.join(sorted(known))}"
            )
        if PUBLIC_KEY_ALGORITHMS.intersection(self.jwt_algorithms) and not self.jwt_jwks_url:
            raise ValueError(
                "GATEWAY_JWT_ALGORITHMS names public-key algorithms but GATEWAY_JWT_JWKS_URL is not set"
            )
        if self.jwt_jwks_url:
            if not self.jwt_jwks_url.startswith(("https://", "http://")):
                raise ValueError("GATEWAY_JWT_JWKS_URL must be an http(s) URL")
            if self.jwt_jwks_url.startswith("http://") and self.environment != "development":
                raise ValueError(
                    "GATEWAY_JWT_JWKS_URL must be https:// outside development: keys fetched over"
                    " plain HTTP can be swapped on the way, and with them every token"
                )
            if not PUBLIC_KEY_ALGORITHMS.intersection(self.jwt_algorithms):
                raise ValueError(
                    "GATEWAY_JWT_JWKS_URL is set but GATEWAY_JWT_ALGORITHMS names no RS, ES, PS or EdDSA"
                )
            if not self.jwt_audience:
                raise ValueError(
                    "GATEWAY_JWT_AUDIENCE must be set with GATEWAY_JWT_JWKS_URL: an identity provider"
                    " issues tokens for many clients, and only those meant for Setka may pass"
                )
        if self.accepts_shared_secret:
            self._check_jwt_secret()
        return self

    def _check_jwt_secret(self) -> None:
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

    @model_validator(mode="after")
    def _budgets_hold_a_request(self) -> GatewaySettings:
        for name in ("cost_budget_per_minute", "anonymous_cost_budget_per_minute"):
            budget = getattr(self, name)
            if 0 < budget < self.max_cost:
                raise ValueError(
                    f"GATEWAY_{name.upper()} ({budget}) is under GATEWAY_MAX_COST ({self.max_cost}):"
                    " a request the gateway allows could never be served"
                )
        return self

    @model_validator(mode="after")
    def _internal_secret_fits(self) -> GatewaySettings:
        secret = self.internal_token_secret.get_secret_value()
        if self.production and secret == DEV_INTERNAL_SECRET:
            raise ValueError(
                "the gateway: INTERNAL_TOKEN_SECRET (or GATEWAY_INTERNAL_TOKEN_SECRET) is the development"
                " placeholder, refused in production; set the same secret of at least 32 characters"
                " for the gateway and every service"
            )
        check_internal_secret(secret, self.host, who="the gateway")
        if self.accepts_shared_secret and secret == self.jwt_secret.get_secret_value():
            raise ValueError(
                "GATEWAY_JWT_SECRET and INTERNAL_TOKEN_SECRET must differ: whoever holds a portal's"
                " signing secret could otherwise sign the identities the services trust"
            )
        return self
