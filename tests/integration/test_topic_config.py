"""Kafka as production runs it, against a real broker (the local Tansu):

* ``ensure_topics`` creates every declared topic and dead-letter topic with its partitions and its
  declared configuration (retention, clean-up policy, min.insync.replicas for the replication
  factor used), as the broker reports them back; services starting together do not trip on
  each other.
* A service configured for TLS with a client certificate (``KAFKA_SECURITY_PROTOCOL=SSL``,
  ``KAFKA_SSL_*``) creates topics, publishes through FastStream and reads with aiokafka over
  TLS, presenting its certificate; trusting another CA, it refuses the broker. Tansu speaks
  plaintext only, so a TLS terminator (Python's ``ssl``, requiring a client certificate) sits on
  the port the broker advertises.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError
from setka_contracts import topics
from setka_runtime.deadletters import read_letters
from setka_runtime.kafka import client_options, ensure_topics, make_broker, topic_configs
from setka_runtime.settings import ServiceSettings

from tests.unit.test_kafka_settings import Pki, make_pki

pytestmark = pytest.mark.integration


async def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described if topic["error_code"] == 0}


async def test_every_declared_topic_is_created_with_its_configuration(broker: Any) -> None:
    declared = {spec.name: spec for spec in topics.DECLARED}

    # The three services start at once and each creates what it publishes and reads.
    outcomes = await asyncio.gather(
        ensure_topics(broker.bootstrap, [*topics.OUTBOUND, *topics.INBOUND]),
        ensure_topics(broker.bootstrap, [topics.REGISTRY, topics.AUDIT]),
        ensure_topics(broker.bootstrap, [topics.EVENTS, *topics.INBOUND]),
    )
    created = [name for names in outcomes for name in names]
    assert sorted(set(created)) == sorted(declared)
    assert await ensure_topics(broker.bootstrap, [*topics.OUTBOUND, *topics.INBOUND]) == []  # nothing left

    counts = await partition_counts(broker.bootstrap, list(declared))
    assert counts == {name: spec.partitions for name, spec in declared.items()}

    reported = await topic_configs(broker.bootstrap, list(declared))
    for name, spec in declared.items():
        wanted = spec.config(replication_factor=1)
        assert {key: reported[name].get(key) for key in wanted} == wanted, name
    assert reported[topics.REGISTRY]["retention.ms"] == "-1"
    assert reported[topics.dead_letter(topics.REGIONAL_ASSESSMENTS)]["retention.ms"] == "2592000000"
    assert {config["min.insync.replicas"] for config in reported.values()} == {"1"}


async def test_partitions_and_min_insync_follow_the_deployment(broker: Any) -> None:
    # KAFKA_TOPIC_PARTITIONS=6, KAFKA_REPLICATION_FACTOR=3 (Tansu keeps one copy whatever is
    # asked, but records what the topic was created with, as a Kafka cluster would).
    created = await ensure_topics(broker.bootstrap, [topics.REGISTRY], partitions=6, replication_factor=3)
    assert created == [topics.REGISTRY, topics.dead_letter(topics.REGISTRY)]
    assert await partition_counts(broker.bootstrap, created) == dict.fromkeys(created, 6)
    reported = await topic_configs(broker.bootstrap, created)
    assert {name: config["min.insync.replicas"] for name, config in reported.items()} == dict.fromkeys(
        created, "2"
    )


class TlsTerminator:
    """Accepts TLS connections on ``port`` (requiring a client certificate signed by the CA) and
    forwards each, decrypted, to the broker's plaintext port."""

    def __init__(self, pki: Pki, *, port: int, broker_port: int) -> None:
        self.port = port
        self.broker_port = broker_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        self.clients: list[str] = []
        """The common name of each client certificate presented."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        self.clients.extend(
            value for item in peer.get("subject", ()) for key, value in item if key == "commonName"
        )
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
        pumps = [
            asyncio.create_task(self._pump(reader, broker_writer)),
            asyncio.create_task(self._pump(broker_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TlsTerminator]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.context)
        try:
            yield self
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_service_talks_to_kafka_over_mutual_tls(proxied_broker: Any, tmp_path: Any) -> None:
    pki = make_pki(tmp_path / "pki")
    secured = ServiceSettings(
        kafka_bootstrap_servers=proxied_broker.bootstrap,  # 127.0.0.1: the host name is checked
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
        kafka_ssl_key_password=pki.key_password,
    )
    terminator = TlsTerminator(pki, port=proxied_broker.advertised_port, broker_port=proxied_broker.port)
    async with terminator.running():
        kafka = client_options(secured)
        assert await ensure_topics(kafka, ["tls.check"]) == ["tls.check", "tls.check.dlq"]

        producer = make_broker(secured, client_id="setka-tls-test")  # FastStream, security=...
        await producer.start()
        try:
            await producer.publish(
                b"sent over TLS", topics.dead_letter("tls.check"), key=b"k", headers={"dlq_reason": "a test"}
            )
        finally:
            await producer.stop()

        letters = await read_letters(kafka, "tls.check")  # aiokafka consumer, client_options
        assert [(letter.body, letter.reason) for letter in letters] == [(b"sent over TLS", "a test")]
        assert terminator.clients and set(terminator.clients) == {"setka-registry"}

        stranger = secured.model_copy(update={"kafka_ssl_cafile": pki.other_ca})
        with pytest.raises(KafkaConnectionError):
            await ensure_topics(client_options(stranger), ["tls.refused"])
