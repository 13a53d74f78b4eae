"""One typed settings object per process, read from UPPER_CASE environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .access import check_internal_secret


def shared(name: str) -> AliasChoices:
    """A setting read from one unprefixed variable shared by every process (e.g. KAFKA_*)."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """What every Setka service reads. A subclass sets the service name and ``env_prefix``.

    ``<SERVICE>_DATABASE_URL`` takes ``postgresql://…`` or ``sqlite:///…``; the default is a
    SQLite file under ``var/`` so one machine needs nothing installed.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"

    database_url: str = "sqlite:///var/service.db"
    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = Field(default="INFO", validation_alias=shared("LOG_LEVEL"))

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_enable_idempotence: bool = Field(
        default=False,
        validation_alias=shared("KAFKA_ENABLE_IDEMPOTENCE"),
        description="Turn on for Apache Kafka; the local Tansu broker does not support it",
    )
    kafka_topic_partitions: int = Field(default=3, validation_alias=shared("KAFKA_TOPIC_PARTITIONS"))
    kafka_replication_factor: int = Field(default=1, validation_alias=shared("KAFKA_REPLICATION_FACTOR"))

    consumer_max_attempts: int = Field(
        default=5,
        validation_alias=shared("CONSUMER_MAX_ATTEMPTS"),
        description="Tries of one message before it goes to the dead-letter topic",
    )
    consumer_backoff_seconds: float = Field(
        default=0.2,
        validation_alias=shared("CONSUMER_BACKOFF_SECONDS"),
        description="First pause between tries; it doubles on every further try",
    )
    consumer_batch_size: int = Field(
        default=500,
        validation_alias=shared("CONSUMER_BATCH_SIZE"),
        description="Most messages read and applied in one transaction",
    )
    consumer_graceful_seconds: float = Field(
        default=10.0,
        validation_alias=shared("CONSUMER_GRACEFUL_SECONDS"),
        description="On stop, how long a message being handled may finish; then it is cancelled "
        "and its offset is not committed, so the next run handles it again",
    )
    unknown_wait_seconds: float = Field(
        default=86400.0,
        description="How long a message that refers to something not known yet (an organization "
        "not registered, an activity whose attendance came first) waits before it goes to the "
        "dead-letter topic",
    )
    unknown_retry_seconds: float = Field(
        default=1.0,
        description="First pause before a waiting message is tried again; it doubles, up to a minute",
    )
    outbox_poll_seconds: float = Field(default=0.5, validation_alias=shared("OUTBOX_POLL_SECONDS"))
    outbox_batch_size: int = Field(default=500, validation_alias=shared("OUTBOX_BATCH_SIZE"))
    outbox_lease_seconds: float = Field(
        default=15.0,
        validation_alias=shared("OUTBOX_LEASE_SECONDS"),
        description="How long a relay's lease lasts unless renewed; a standby takes over after it",
    )

    internal_token_secret: SecretStr | None = Field(
        default=None,
        validation_alias=shared("INTERNAL_TOKEN_SECRET"),
        description="The secret the gateway signs callers' identities with (the same for every "
        "process, ≥ 32 characters). Without it the service accepts no identity: it answers public "
        "reads and refuses every write and every read of personal data",
    )

    metrics_token: SecretStr | None = Field(
        default=None,
        validation_alias=shared("METRICS_TOKEN"),
        description="Bearer token Prometheus sends to /metrics; without it /metrics answers "
        "loopback clients only",
    )

    @model_validator(mode="after")
    def _internal_secret_fits_host(self) -> ServiceSettings:
        if self.internal_token_secret is not None:
            check_internal_secret(
                self.internal_token_secret.get_secret_value(),
                self.host,
                who=f"the {self.service_name} service",
            )
        return self

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of what this service publishes."""
        return f"/setka/{self.service_name}"
