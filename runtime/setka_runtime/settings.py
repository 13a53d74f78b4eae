"""One typed settings object per process, read from UPPER_CASE environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import logs
from .access import check_internal_secret


def shared(name: str) -> AliasChoices:
    """A setting read from one unprefixed variable shared by every process (e.g. KAFKA_*)."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """What every Setka service reads. A subclass sets the service name and ``env_prefix``.

    ``<SERVICE>_DATABASE_URL`` takes ``postgresql://…`` or ``sqlite:///…``; the default is a
    SQLite file under ``var/`` so one machine needs nothing installed.
    """

    # hide_input_in_errors: a refused combination must not print the whole input (passwords,
    # secrets) into the start-up log; each message names the variables instead.
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    service_name: ClassVar[str] = "service"

    database_url: str = "sqlite:///var/service.db"
    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = Field(default="INFO", validation_alias=shared("LOG_LEVEL"))
    log_format: str = Field(default_factory=logs.default_format, validation_alias=shared("LOG_FORMAT"))
    """``json`` or ``text``; ``text`` by default only with ``SETKA_ENV=development``."""

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_enable_idempotence: bool = Field(
        default=False,
        validation_alias=shared("KAFKA_ENABLE_IDEMPOTENCE"),
        description="Turn on for Apache Kafka; the local Tansu broker does not support it",
    )
    kafka_topic_partitions: int = Field(default=3, validation_alias=shared("KAFKA_TOPIC_PARTITIONS"))
    local_broker_state_file: str | None = Field(
        default=None,
        validation_alias=shared("LOCAL_BROKER_STATE_FILE"),
        description="make run's account of its in-memory broker (restarted, refilling, what was lost); "
        "readiness fails while it is not serving",
    )
    kafka_replication_factor: int = Field(default=1, validation_alias=shared("KAFKA_REPLICATION_FACTOR"))
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=shared("KAFKA_SECURITY_PROTOCOL"),
        description="How every Kafka client connects: PLAINTEXT (the local broker), SSL (TLS, "
        "optionally with a client certificate), SASL_SSL (TLS and a user), SASL_PLAINTEXT",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None,
        validation_alias=shared("KAFKA_SASL_MECHANISM"),
        description="Required with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Strimzi's "
        "KafkaUser with authentication scram-sha-512)",
    )
    kafka_sasl_username: str | None = Field(default=None, validation_alias=shared("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=shared("KAFKA_SASL_PASSWORD")
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        validation_alias=shared("KAFKA_SSL_CAFILE"),
        description="PEM file of the CA that signed the brokers' certificates; without it the "
        "system's trusted CAs are used",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None,
        validation_alias=shared("KAFKA_SSL_CERTFILE"),
        description="PEM client certificate (mutual TLS); needs KAFKA_SSL_KEYFILE",
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, validation_alias=shared("KAFKA_SSL_KEYFILE"))
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, validation_alias=shared("KAFKA_SSL_KEY_PASSWORD")
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True,
        validation_alias=shared("KAFKA_SSL_CHECK_HOSTNAME"),
        description="Check that a broker's certificate names the host connected to (the "
        "certificate chain is checked either way)",
    )

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

    snils_hmac_key: SecretStr | None = Field(
        default=None,
        validation_alias=shared("SNILS_HMAC_KEY"),
        description="The secret СНИЛС are hashed with (HMAC-SHA256; the same for the registry and the "
        "events service, ≥ 32 characters). Without it a СНИЛС is refused: Setka never keeps the number",
    )

    metrics_token: SecretStr | None = Field(
        default=None,
        validation_alias=shared("METRICS_TOKEN"),
        description="Bearer token Prometheus sends to /metrics; without it /metrics answers "
        "loopback clients only",
    )

    documents_storage: Literal["local", "s3"] = Field(
        default="local",
        validation_alias=shared("DOCUMENTS_STORAGE"),
        description="Where documents' files are kept: local (a directory, <SERVICE>_DOCUMENTS_DIR) or s3 "
        "(an S3-compatible bucket: MinIO, Ceph, a cloud's; DOCUMENTS_S3_*)",
    )
    documents_dir: str | None = Field(
        default=None,
        description="The directory of documents' files with local storage; var/documents/<service>",
    )
    documents_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        validation_alias=shared("DOCUMENTS_MAX_BYTES"),
        description="Largest file accepted (DOCUMENT_TOO_LARGE past it); the gateway's "
        "GATEWAY_MAX_SIGNED_IN_BODY_BYTES must hold its base64 (4/3 of it) and the request around it",
        gt=0,
    )
    documents_s3_endpoint: str | None = Field(
        default=None,
        validation_alias=shared("DOCUMENTS_S3_ENDPOINT"),
        description="The S3 API's URL (https://minio.example.org:9000); unset: AWS's for the region",
    )
    documents_s3_bucket: str | None = Field(default=None, validation_alias=shared("DOCUMENTS_S3_BUCKET"))
    documents_s3_region: str = Field(default="us-east-1", validation_alias=shared("DOCUMENTS_S3_REGION"))
    documents_s3_access_key_id: str | None = Field(
        default=None, validation_alias=shared("DOCUMENTS_S3_ACCESS_KEY_ID")
    )
    documents_s3_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=shared("DOCUMENTS_S3_SECRET_ACCESS_KEY")
    )
    documents_s3_path_style: bool = Field(
        default=True,
        validation_alias=shared("DOCUMENTS_S3_PATH_STYLE"),
        description="Address the bucket in the path (MinIO, Ceph) rather than in the host name",
    )
    documents_s3_prefix: str | None = Field(
        default=None,
        description="Prefix of this service's keys in the bucket; the service's name, so services share one",
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``KAFKA_SSL_CAFILE=`` in an env file means "not set", as leaving it out does."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _kafka_security_fits_together(self) -> ServiceSettings:
        problems = kafka_security_problems(self)
        if problems:
            raise ValueError("Kafka connection settings: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _s3_named(self) -> ServiceSettings:
        if self.documents_storage == "s3":
            if not self.documents_s3_bucket:
                raise ValueError("DOCUMENTS_STORAGE=s3 needs DOCUMENTS_S3_BUCKET")
            if (self.documents_s3_access_key_id is None) != (self.documents_s3_secret_access_key is None):
                raise ValueError(
                    "DOCUMENTS_S3_ACCESS_KEY_ID and DOCUMENTS_S3_SECRET_ACCESS_KEY go together "
                    "(neither: the environment's own credentials)"
                )
        return self

    @model_validator(mode="after")
    def _internal_secret_fits_host(self) -> ServiceSettings:
        if self.internal_token_secret is not None:
            check_internal_secret(
                self.internal_token_secret.get_secret_value(),
                self.host,
                who=f"the {self.service_name} service",
            )
        return self

    @field_validator("snils_hmac_key")
    @classmethod
    def _snils_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("SNILS_HMAC_KEY must be at least 32 characters (e.g. openssl rand -hex 32)")
        return value

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of what this service publishes."""
        return f"/setka/{self.service_name}"


def kafka_security_problems(settings: ServiceSettings) -> list[str]:
    """What is wrong with the KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* / KAFKA_SSL_* combination,
    each as a sentence naming the variables to set (empty when it fits together)."""
    protocol = settings.kafka_security_protocol
    sasl = protocol.startswith("SASL_")
    tls = protocol.endswith("SSL")
    problems: list[str] = []
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    if sasl:
        if settings.kafka_sasl_mechanism is None:
            problems.append(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM "
                "(PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
            )
        missing = [
            name
            for name, value in (
                ("KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
                ("KAFKA_SASL_PASSWORD", password),
            )
            if not value
        ]
        if missing:
            problems.append(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {' and '.join(missing)}")
    else:
        given = [
            name
            for name, value in (
                ("KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
                ("KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
                ("KAFKA_SASL_PASSWORD", password),
            )
            if value
        ]
        if given:
            wanted = "SASL_SSL" if tls else "SASL_SSL or SASL_PLAINTEXT"
            problems.append(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL={protocol} does not authenticate "
                f"with SASL: set KAFKA_SECURITY_PROTOCOL={wanted}"
            )
    files = {
        "KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
    }
    if not tls:
        given = [name for name, path in files.items() if path is not None]
        if settings.kafka_ssl_key_password is not None:
            given.append("KAFKA_SSL_KEY_PASSWORD")
        if given:
            problems.append(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS: "
                f"set KAFKA_SECURITY_PROTOCOL={'SASL_SSL' if sasl else 'SSL or SASL_SSL'}"
            )
        return problems
    if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_keyfile is None:
        problems.append("KAFKA_SSL_CERTFILE needs KAFKA_SSL_KEYFILE (the client certificate's private key)")
    if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
        problems.append("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the certificate of that key)")
    if settings.kafka_ssl_key_password is not None and settings.kafka_ssl_keyfile is None:
        problems.append("KAFKA_SSL_KEY_PASSWORD needs KAFKA_SSL_KEYFILE")
    for name, path in files.items():
        if path is not None and not path.is_file():
            problems.append(f"{name}={path}: no such file")
    return problems
