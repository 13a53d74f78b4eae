"""Kafka as production runs it: every client connects the way KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*
and KAFKA_SSL_* say; a combination that cannot work is refused at start with a sentence naming
what to set; every topic is declared once with its retention, clean-up policy and
min.insync.replicas."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError
from setka_contracts import topics
from setka_runtime.kafka import (
    KafkaSettingsError,
    broker_security,
    client_options,
    make_broker,
    security_options,
)
from setka_runtime.settings import ServiceSettings

from services.registry.settings import RegistrySettings

pytestmark = pytest.mark.unit

KAFKA_VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "KAFKA_SSL_KEY_PASSWORD",
    "KAFKA_SSL_CHECK_HOSTNAME",
)


@dataclass(frozen=True)
class Pki:
    """A CA, a broker certificate for 127.0.0.1 and localhost, and a client certificate whose
    key is encrypted with ``key_password``; all PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    key_password: str
    other_ca: Path
    """A CA that signed nothing here: trusting it, a client must refuse the broker."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    ca_key, other_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    ca = _certificate("Setka test CA", ca_key, None, ca=True)
    other = _certificate("Someone else's CA", other_key, None, ca=True)
    server = _certificate("broker", server_key, ("Setka test CA", ca_key), hosts=("127.0.0.1", "localhost"))
    client = _certificate("setka-registry", client_key, ("Setka test CA", ca_key))
    password = "key-password-1"
    return Pki(
        ca=write("ca.pem", pem(ca)),
        server_cert=write("broker.pem", pem(server)),
        server_key=write("broker.key", key_pem(server_key)),
        client_cert=write("client.pem", pem(client)),
        client_key=write("client.key", key_pem(client_key, password)),
        key_password=password,
        other_ca=write("other-ca.pem", pem(other)),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def no_kafka_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KAFKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap_servers="kafka-0:9093,kafka-1:9093", **values)


def test_plaintext_by_default_for_the_local_broker() -> None:
    plain = settings()
    assert client_options(plain) == {
        "bootstrap_servers": "kafka-0:9093,kafka-1:9093",
        "security_protocol": "PLAINTEXT",
    }
    assert broker_security(plain) is None


@pytest.mark.parametrize(
    ("mechanism", "security_class"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_users_connect_with_their_mechanism(
    pki: Pki, protocol: str, mechanism: str, security_class: type[BaseSecurity]
) -> None:
    chosen = settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="setka-registry",
        kafka_sasl_password="s3cret",
        **({"kafka_ssl_cafile": pki.ca} if protocol == "SASL_SSL" else {}),
    )
    options = client_options(chosen)
    assert options["bootstrap_servers"] == "kafka-0:9093,kafka-1:9093"
    assert options["security_protocol"] == protocol
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("setka-registry", "s3cret")
    if protocol == "SASL_SSL":
        assert isinstance(options["ssl_context"], ssl.SSLContext)
        assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    else:
        assert "ssl_context" not in options  # no TLS: the password goes as SASL says, nothing else
    security = broker_security(chosen)
    assert type(security) is security_class
    # FastStream's producer connects exactly as the aiokafka clients do.
    faststream = {k: v for k, v in parse_security(security).items() if v is not None}
    assert faststream.keys() == options.keys() - {"bootstrap_servers"}
    for name, value in faststream.items():
        if name == "ssl_context":
            assert value.verify_mode == options[name].verify_mode == ssl.CERT_REQUIRED
            assert value.get_ca_certs() == options[name].get_ca_certs()
        else:
            assert value == options[name]


def test_tls_trusts_the_declared_ca_and_checks_the_host_name(pki: Pki) -> None:
    tls = settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca)
    options = client_options(tls)
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert context.check_hostname is True and context.verify_mode == ssl.CERT_REQUIRED
    subjects = [dict(item[0] for item in cert["subject"]) for cert in context.get_ca_certs()]
    assert {"commonName": "Setka test CA"} in subjects
    security = broker_security(tls)
    assert type(security) is BaseSecurity and security.use_ssl and security.ssl_context is not None
    assert parse_security(security)["security_protocol"] == "SSL"

    unchecked = client_options(
        settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca, kafka_ssl_check_hostname=False)
    )
    assert unchecked["ssl_context"].check_hostname is False
    assert unchecked["ssl_context"].verify_mode == ssl.CERT_REQUIRED  # the chain is still checked


def test_a_client_certificate_with_an_encrypted_key_needs_its_password(pki: Pki) -> None:
    mutual = {
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": pki.ca,
        "kafka_ssl_certfile": pki.client_cert,
        "kafka_ssl_keyfile": pki.client_key,
    }
    assert client_options(settings(**mutual, kafka_ssl_key_password=pki.key_password))["ssl_context"]
    with pytest.raises(KafkaSettingsError, match="KAFKA_SSL_KEY_PASSWORD") as refused:
        client_options(settings(**mutual))  # and no prompt on the terminal
    assert "KAFKA_SSL_CERTFILE=" in str(refused.value)
    with pytest.raises(KafkaSettingsError, match="do not load"):
        client_options(settings(**mutual, kafka_ssl_key_password="wrong"))


def test_a_ca_file_that_is_not_a_certificate_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(KafkaSettingsError, match=r"KAFKA_SSL_CAFILE=.*ca\.pem"):
        client_options(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=junk))


def test_every_service_reads_the_shared_variables(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "setka-kafka-bootstrap:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")  # any case
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "scram-sha-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "setka-registry")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "from-the-secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki.ca))
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", "")  # an empty line of an env file means unset
    monkeypatch.setenv("KAFKA_SSL_CHECK_HOSTNAME", "false")
    registry = RegistrySettings()
    options = client_options(registry)
    assert options["bootstrap_servers"] == "setka-kafka-bootstrap:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "from-the-secret"
    assert options["ssl_context"].check_hostname is False
    assert "from-the-secret" not in repr(registry)
    assert type(broker_security(registry)) is SASLScram512


def test_the_service_producer_gets_the_same_security(pki: Pki) -> None:
    secured = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="u",
        kafka_sasl_password="p",
        kafka_ssl_cafile=pki.ca,
    )
    broker = make_broker(secured, client_id="setka-test")
    security = broker.specification.security  # what FastStream connects (and documents) with
    assert type(security) is SASLScram256 and security.use_ssl
    assert security.username == "u" and security.password == "p"


REFUSED: list[tuple[dict[str, Any], str]] = [
    (
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u", "kafka_sasl_password": "p"},
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM",
    ),
    (
        {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
        "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
    ),
    (
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": "u",
        },
        "SASL_SSL needs KAFKA_SASL_PASSWORD",
    ),
    (
        {"kafka_sasl_username": "u", "kafka_sasl_password": "p"},
        "KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not",
    ),
    (
        {"kafka_security_protocol": "SSL", "kafka_sasl_mechanism": "PLAIN"},
        "set KAFKA_SECURITY_PROTOCOL=SASL_SSL",
    ),
    (
        {"kafka_ssl_cafile": "CA"},
        "KAFKA_SSL_CAFILE set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS",
    ),
    (
        {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "CERT"},
        "KAFKA_SSL_CERTFILE needs KAFKA_SSL_KEYFILE",
    ),
    (
        {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "KEY"},
        "KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE",
    ),
    (
        {"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "x"},
        "KAFKA_SSL_KEY_PASSWORD needs KAFKA_SSL_KEYFILE",
    ),
    (
        {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"},
        "KAFKA_SSL_CAFILE=/nowhere/ca.pem: no such file",
    ),
    ({"kafka_security_protocol": "TLS"}, "'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'"),
    (
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
        "'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'",
    ),
]


@pytest.mark.parametrize(("values", "message"), REFUSED)
def test_combinations_that_cannot_work_are_refused_at_start(
    pki: Pki, values: dict[str, Any], message: str
) -> None:
    files = {"CA": pki.ca, "CERT": pki.client_cert, "KEY": pki.client_key}
    values = {
        name: files.get(value, value) if isinstance(value, str) else value for name, value in values.items()
    }
    with pytest.raises(ValidationError) as refused:
        settings(**values)
    assert message in str(refused.value)


def test_the_password_never_shows_in_a_refusal() -> None:
    with pytest.raises(ValidationError) as refused:
        settings(
            kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="hunter2-secret"
        )
    assert "needs KAFKA_SASL_MECHANISM" in str(refused.value)
    assert "hunter2-secret" not in str(refused.value)


def test_security_options_leave_out_the_bootstrap_servers(pki: Pki) -> None:
    assert "bootstrap_servers" not in security_options(
        settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca)
    )


# Topics: declared once.


def test_every_topic_and_its_dead_letter_topic_is_declared() -> None:
    names = {spec.name for spec in topics.DECLARED}
    for topic in (*topics.OUTBOUND, *topics.INBOUND):
        assert topic in names and topics.dead_letter(topic) in names
    assert len(names) == len(topics.DECLARED) == 2 * (len(topics.OUTBOUND) + len(topics.INBOUND))


def test_domain_history_is_kept_and_dead_letters_for_30_days() -> None:
    for spec in topics.DECLARED:
        config = spec.config(replication_factor=3)
        assert config["cleanup.policy"] == "delete"  # consumers need every event: nothing compacted
        if topics.is_dead_letter(spec.name):
            assert config["retention.ms"] == str(30 * 24 * 3600 * 1000)
        else:
            assert config["retention.ms"] == "-1"
        assert spec.partitions == topics.DEFAULT_PARTITIONS


@pytest.mark.parametrize(("replication_factor", "min_insync"), [(1, "1"), (2, "1"), (3, "2"), (5, "2")])
def test_min_insync_replicas_follows_the_replication_factor(replication_factor: int, min_insync: str) -> None:
    for name in (topics.REGISTRY, topics.dead_letter(topics.AUDIT), "an.undeclared.topic"):
        assert topics.config_for(name, replication_factor)["min.insync.replicas"] == min_insync
    with pytest.raises(ValueError, match="at least one replica"):
        topics.config_for(topics.REGISTRY, 0)


def test_an_undeclared_topic_is_configured_like_its_kind() -> None:
    assert topics.config_for("bench.raw", 1)["retention.ms"] == "-1"
    assert topics.config_for("bench.raw.dlq", 1)["retention.ms"] == str(topics.DEAD_LETTER_RETENTION_MS)
