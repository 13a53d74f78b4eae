"""Kafka wiring shared by every service: how clients connect, the broker (its producer),
publishing, and topics.

Every Kafka client of Setka connects with :func:`client_options` (aiokafka's consumers,
producers and admin clients: ``AIOKafkaConsumer(topic, **client_options(settings), ...)``) or
:func:`broker_security` (FastStream's ``KafkaBroker(security=...)``, built by
:func:`make_broker`); both read the same ``KAFKA_SECURITY_PROTOCOL`` / ``KAFKA_SASL_*`` /
``KAFKA_SSL_*`` settings, so a client cannot connect differently from the others.

Consuming is :mod:`setka_runtime.consumer`."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.conn import create_conn
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.admin import CreateTopicsRequest
from aiokafka.protocol.metadata import MetadataRequest
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from setka_contracts.topics import config_for, dead_letter, is_dead_letter, spec_for

from .settings import ServiceSettings

log = logging.getLogger(__name__)

Connection = str | Mapping[str, Any]
"""Where and how a client connects: a bootstrap string (a plaintext cluster such as the local
broker) or :func:`client_options` of the settings (any cluster, TLS and SASL included)."""


class KafkaSettingsError(ValueError):
    """The Kafka connection settings cannot be used (a certificate that does not load, ...)."""


class TopicsNotCreated(RuntimeError):
    """The cluster refused to create some topics; the message has the broker's reason for each."""


def ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    """The TLS context of ``KAFKA_SECURITY_PROTOCOL=SSL|SASL_SSL`` (None otherwise): the brokers'
    CA (``KAFKA_SSL_CAFILE``, else the system's), the client certificate if any, and the host
    name check (``KAFKA_SSL_CHECK_HOSTNAME``)."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        context = create_ssl_context(cafile=str(cafile) if cafile else None)
    except (ssl.SSLError, OSError) as exc:
        raise KafkaSettingsError(
            f"KAFKA_SSL_CAFILE={cafile}: not a readable PEM CA certificate ({exc})"
            if cafile
            else f"the system's CA certificates cannot be loaded ({exc}): set KAFKA_SSL_CAFILE"
        ) from exc
    certfile, keyfile = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if certfile is not None:
        secret = settings.kafka_ssl_key_password
        # Never None: without a password OpenSSL would prompt on the terminal for an encrypted key.
        password = secret.get_secret_value() if secret is not None else ""
        try:
            context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None, lambda: password)
        except (ssl.SSLError, OSError) as exc:
            hint = "" if secret is not None else " (if the key is encrypted, set KAFKA_SSL_KEY_PASSWORD)"
            raise KafkaSettingsError(
                f"KAFKA_SSL_CERTFILE={certfile} with KAFKA_SSL_KEYFILE={keyfile}: the client "
                f"certificate and its key do not load ({exc}){hint}"
            ) from exc
    # After the certificates: verification stays CERT_REQUIRED either way.
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def security_options(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka's security keyword arguments for these settings (without the bootstrap servers)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password is not None else None,
        )
    return options


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments every aiokafka client of these settings is created with: the bootstrap
    servers and the security options (``security_protocol``, ``ssl_context``, ``sasl_*``)."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **security_options(settings)}


def as_options(connection: Connection) -> dict[str, Any]:
    """A :data:`Connection` as aiokafka keyword arguments."""
    if isinstance(connection, str):
        return {"bootstrap_servers": connection}
    return dict(connection)


def bootstrap_of(connection: Connection) -> str:
    """The bootstrap servers of a :data:`Connection`, for messages."""
    return connection if isinstance(connection, str) else str(connection["bootstrap_servers"])


_SASL_SECURITY: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """FastStream's ``security=`` object for these settings: the same connection as
    :func:`client_options` (None for PLAINTEXT)."""
    options = security_options(settings)
    protocol = options["security_protocol"]
    context = options.get("ssl_context")
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    security = _SASL_SECURITY[options["sasl_mechanism"]]
    return security(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def make_broker(settings: ServiceSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        # a relay batch goes out at once: with the 16 KiB default, a partition's batch is full
        # after a few dozen events and every other send waits for it to drain (a fifth of what
        # the relay spent); the broker's default record-batch limit is 1 MiB
        max_batch_size=256 * 1024,
        security=broker_security(settings),
        log_level=logging.DEBUG,
        graceful_timeout=settings.consumer_graceful_seconds,
        logger=logging.getLogger(f"setka.{client_id}.kafka"),
    )


def publisher(broker: KafkaBroker) -> Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]:
    """publish(topic, key, body, headers) over the broker's producer, awaiting the broker's ack."""

    async def publish(topic: str, key: str, body: bytes, headers: dict[str, str]) -> None:
        await broker.publish(body, topic, key=key.encode(), headers=headers)

    return publish


def sender(broker: KafkaBroker) -> Callable[[str, str, bytes, dict[str, str]], Awaitable[Any]]:
    """send(topic, key, body, headers): hand the message to the producer; return the future of
    its acknowledgement (so a batch goes out together and is awaited once)."""

    async def send(topic: str, key: str, body: bytes, headers: dict[str, str]) -> Any:
        return await broker.publish(body, topic, key=key.encode(), headers=headers, no_confirm=True)

    return send


def new_topic(name: str, *, partitions: int | None, replication_factor: int) -> NewTopic:
    """``name`` as declared in :mod:`setka_contracts.topics`: its partitions (unless the
    deployment gives a count for every topic) and its configuration for this replication factor."""
    return NewTopic(
        name,
        num_partitions=partitions if partitions is not None else spec_for(name).partitions,
        replication_factor=replication_factor,
        topic_configs=config_for(name, replication_factor),
    )


async def ensure_topics(
    bootstrap_servers: Connection,
    topics: Iterable[str],
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
    with_dead_letters: bool = True,
) -> list[str]:
    """Create the missing ones of ``topics`` (and their ``.dlq``) with their declared
    configuration (retention, clean-up policy, ``min.insync.replicas`` for
    ``replication_factor``); return the names created. ``partitions`` None: each topic's
    declared count. Topics that exist are left as they are. Raise :class:`TopicsNotCreated` if
    the cluster refuses one (a replication factor above its broker count, a config it rejects)."""
    wanted = and_dead_letters(topics) if with_dead_letters else list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(**as_options(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                new_topic(name, partitions=partitions, replication_factor=replication_factor)
                for name in missing
            ]
        )
    finally:
        await admin.close()
    return _created(response, bootstrap_of(bootstrap_servers), replication_factor)


def and_dead_letters(topics: Iterable[str]) -> list[str]:
    """``topics`` each followed by its dead-letter topic (a dead-letter topic has none), once each."""
    wanted: list[str] = []
    for topic in topics:
        wanted.append(topic)
        if not is_dead_letter(topic):
            wanted.append(dead_letter(topic))
    return list(dict.fromkeys(wanted))


def _created(response: Any, where: str, replication_factor: int) -> list[str]:
    """The names a CreateTopics response says were created; raise :class:`TopicsNotCreated` for
    any the cluster refused (one that exists already is not refused)."""
    created: list[str] = []
    refused: list[str] = []
    for name, code, *rest in response.topic_errors:
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:  # another process created it meanwhile
            message = rest[0] if rest and rest[0] else for_code(code).description
            refused.append(f"{name}: {for_code(code).__name__} ({message})")
    if refused:
        raise TopicsNotCreated(
            f"Kafka at {where} refused to create {len(refused)} topic(s): " + "; ".join(refused)
        )
    if created:
        log.info("created topics %s (replication factor %d)", ", ".join(created), replication_factor)
    return created


async def create_topics_at(
    host: str,
    port: int,
    topics: Iterable[str],
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
) -> list[str]:
    """Create ``topics`` (with their dead-letter topics) as declared, on the one broker listening
    at ``host:port``, over a single connection to that address.

    An admin client would follow the address the broker advertises; the local broker advertises
    the gate in front of it, which stays closed until its topics exist (see
    :mod:`setka_runtime.local_broker`)."""
    names = and_dead_letters(topics)
    connection = await create_conn(host, port, client_id="setka-topics", request_timeout_ms=15_000)
    try:
        response = await connection.send(
            CreateTopicsRequest(
                create_topic_requests=[
                    _topic_request(
                        new_topic(name, partitions=partitions, replication_factor=replication_factor)
                    )
                    for name in names
                ],
                timeout=10_000,
                validate_only=False,
            )
        )
    finally:
        connection.close()
    return _created(response, f"{host}:{port}", replication_factor)


async def partition_counts_at(host: str, port: int, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions the broker at ``host:port`` has for each of ``topics`` that exists
    (asked without letting it create a missing one)."""
    connection = await create_conn(host, port, client_id="setka-topics", request_timeout_ms=15_000)
    try:
        response = await connection.send(
            MetadataRequest(topics=list(dict.fromkeys(topics)), allow_auto_topic_creation=False)
        )
    finally:
        connection.close()
    counts: dict[str, int] = {}
    for topic in response.topics:
        error_code, name, *_, partitions = topic[:4]
        if error_code == 0:
            counts[name] = len(partitions)
    return counts


def _topic_request(topic: NewTopic) -> tuple[Any, ...]:
    """A :class:`NewTopic` as one entry of a CreateTopics request."""
    return (
        topic.name,
        topic.num_partitions,
        topic.replication_factor,
        list(topic.replica_assignments.items()),
        list(topic.topic_configs.items()),
    )


async def topic_configs(bootstrap_servers: Connection, topics: Iterable[str]) -> dict[str, dict[str, str]]:
    """The configuration the cluster reports for each of ``topics``: what was set on the topic
    (Kafka adds its defaults, Tansu only what the topic was created with). A topic the broker
    reports an error for (Kafka: it does not exist) is left out."""
    names = list(dict.fromkeys(topics))
    if not names:
        return {}
    admin = AIOKafkaAdminClient(**as_options(bootstrap_servers))
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    reported: dict[str, dict[str, str]] = {}
    for response in responses:
        for error_code, _message, _type, name, entries in response.resources:
            if error_code == 0:
                reported[name] = {entry[0]: entry[1] for entry in entries}
    return reported
