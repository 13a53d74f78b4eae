"""Kafka in docker-compose.yml is closed like the Kubernetes one (deploy/k8s/base/kafka-users.yaml):
every listener a client can reach authenticates with SASL SCRAM-SHA-512, the authorizer refuses
what no ACL allows, each Kafka client container is its own user, and the ACLs the kafka-acls job
gives are exactly those of the KafkaUser of the same name. The KafkaUsers are the one account of
who may do what; this test keeps the compose file's copy equal to it. No Docker engine needed:
the broker's settings are read from its environment the way the apache/kafka image turns them
into server.properties."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from faststream.security import SASLScram512
from setka_runtime import deadletters
from setka_runtime.kafka import broker_security, security_options

from services.analytics.settings import AnalyticsSettings
from services.events.settings import EventsSettings
from services.registry.settings import RegistrySettings
from tests.unit.test_compose import COMPOSE, SECRETS, construct, container_environment, load_compose

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
KAFKA_USERS_FILE = ROOT / "deploy/k8s/base/kafka-users.yaml"

RAW_TEXT = COMPOSE.read_text(encoding="utf-8")
SERVICES: dict[str, dict[str, Any]] = load_compose()["services"]

CLIENTS = {
    "registry": "setka-registry",
    "events": "setka-events",
    "analytics": "setka-analytics",
    "topics": "setka-operator",
    "setka": "setka-operator",
}
"""Every container of the compose file that is a Kafka client of Setka, and its Kafka user."""
PASSWORD_OF = {
    "setka-registry": "KAFKA_REGISTRY_PASSWORD",
    "setka-events": "KAFKA_EVENTS_PASSWORD",
    "setka-analytics": "KAFKA_ANALYTICS_PASSWORD",
    "setka-operator": "KAFKA_OPERATOR_PASSWORD",
}
"""The variable (of the operator's environment or `.env`) that holds each user's password."""
SETTINGS = {"registry": RegistrySettings, "events": EventsSettings, "analytics": AnalyticsSettings}

Acl = tuple[str, str, str, str]
"""(resource type, pattern type, resource name, operation): one thing a user is allowed."""

# What the apache/kafka image does not turn into broker settings (KafkaDockerWrapper's exclusions).
_NOT_SERVER_SETTINGS = {
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
}
_LISTENER = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)://(?P<host>[^:/]*):(?P<port>\d+)$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def broker_settings(environment: Mapping[str, Any]) -> dict[str, str]:
    """server.properties as the apache/kafka image writes it from the container's environment:
    KAFKA_A_B=v is a.b=v, with ``___`` for ``-`` and ``__`` for ``_``."""
    settings: dict[str, str] = {}
    for name, value in environment.items():
        if not name.startswith("KAFKA_") or name in _NOT_SERVER_SETTINGS:
            continue
        key = name.replace("KAFKA_", "").lower().replace("_", ".").replace("...", "-").replace("..", "_")
        settings[key] = str(value)
    return settings


BROKER = broker_settings(SERVICES["kafka"]["environment"])


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """A listeners setting as {name: (host, port)}."""
    parsed: dict[str, tuple[str, int]] = {}
    for entry in value.split(","):
        match = _LISTENER.match(entry.strip())
        assert match, f"not a listener: {entry!r}"
        parsed[match["name"]] = (match["host"], int(match["port"]))
    return parsed


def security_map() -> dict[str, str]:
    pairs = (entry.split(":", 1) for entry in BROKER["listener.security.protocol.map"].split(","))
    return {name.strip(): protocol.strip() for name, protocol in pairs}


# -- the ACLs: the KafkaUsers' and the compose file's ------------------------------------------------


def kafka_users() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all(KAFKA_USERS_FILE.read_text(encoding="utf-8"))
    return {doc["metadata"]["name"]: doc for doc in documents if doc and doc["kind"] == "KafkaUser"}


def kafka_user_acls(user: Mapping[str, Any]) -> set[Acl]:
    """What a Strimzi KafkaUser allows, one operation on one resource at a time."""
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert user["spec"]["authorization"]["type"] == "simple"
    allowed: set[Acl] = set()
    for rule in user["spec"]["authorization"]["acls"]:
        # The compose job gives only allow rules from any host: a deny or a host would be lost.
        assert rule.get("type", "allow") == "allow" and rule.get("host", "*") == "*", rule
        resource = rule["resource"]
        kind = resource["type"]
        pattern = {"literal": "literal", "prefix": "prefixed"}[resource.get("patternType", "literal")]
        name = "kafka-cluster" if kind == "cluster" else resource["name"]
        allowed.update((kind, pattern, name, operation) for operation in rule["operations"])
    return allowed


def compose_acls(text: str) -> dict[str, set[Acl]]:
    """The kafka-acls job's ACLS: a line is the user, the resource type, the pattern type, the
    operations (comma-separated) and the resource names; blank lines are skipped (as its script
    does)."""
    acls: dict[str, set[Acl]] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        assert len(words) >= 5, f"ACLS: {line!r} needs user, resource, pattern, operations, names"
        user, kind, pattern, operations, *names = words
        assert kind in {"topic", "group", "cluster"}, f"ACLS: {kind!r} is beyond the job's script"
        assert pattern in {"literal", "prefixed"}, line
        if kind == "cluster":
            assert (pattern, names) == ("literal", ["kafka-cluster"]), line
        acls.setdefault(user, set()).update(
            (kind, pattern, name, operation) for operation in operations.split(",") for name in names
        )
    return acls


ACL_JOB: dict[str, Any] = SERVICES.get("kafka-acls", {})
APPLIED = compose_acls((ACL_JOB.get("environment") or {}).get("ACLS", ""))
KAFKA_USERS = kafka_users()


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}/{key}")


# -- the broker ----------------------------------------------------------------------------------------


def test_no_listener_a_client_can_reach_is_plaintext() -> None:
    protocols = security_map()
    controllers = set(BROKER["controller.listener.names"].split(","))
    bound = listeners(BROKER["listeners"])
    advertised = listeners(BROKER["advertised.listeners"])
    assert set(bound) <= set(protocols) and set(advertised) <= set(bound)
    for name in set(bound) - controllers:
        assert protocols[name] in {"SASL_PLAINTEXT", "SASL_SSL"}, f"listener {name} is {protocols[name]}"
    for name in advertised:
        assert name not in controllers and protocols[name].startswith("SASL_"), name
    # The broker talks to itself over SASL too, as the super user.
    assert protocols[BROKER["inter.broker.listener.name"]].startswith("SASL_")
    assert BROKER["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert BROKER["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    # The controller listener may stay plaintext: it answers on the container's loopback only,
    # where the broker of the same process is its one client, and is published nowhere.
    for name in controllers:
        assert bound[name][0] in _LOOPBACK, f"controller listener {name} is reachable from the network"
    for voter in BROKER["controller.quorum.voters"].split(","):
        assert voter.split("@", 1)[1].rsplit(":", 1)[0] in _LOOPBACK, voter
    published = [str(port).rsplit(":", 1)[-1] for port in SERVICES["kafka"].get("ports", [])]
    assert {str(bound[name][1]) for name in controllers}.isdisjoint(published)


def test_every_sasl_listener_has_its_scram_login_and_the_broker_is_admin() -> None:
    for name, protocol in security_map().items():
        if protocol.startswith("SASL_"):
            jaas = BROKER.get(f"listener.name.{name.lower()}.scram-sha-512.sasl.jaas.config", "")
            assert jaas.startswith("org.apache.kafka.common.security.scram.ScramLoginModule required"), name
    inter_broker = BROKER["inter.broker.listener.name"].lower()
    jaas = BROKER[f"listener.name.{inter_broker}.scram-sha-512.sasl.jaas.config"]
    assert f'username="admin" password="{SECRETS["KAFKA_ADMIN_PASSWORD"]}"' in jaas


def test_the_authorizer_refuses_what_no_acl_allows() -> None:
    assert BROKER["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert BROKER["allow.everyone.if.no.acl.found"] == "false"
    # admin is the broker and the kafka-acls job; ANONYMOUS is the principal of the plaintext
    # controller listener, which only the broker itself reaches (checked above). No service.
    assert set(BROKER["super.users"].split(";")) == {"User:admin", "User:ANONYMOUS"}
    assert BROKER.get("auto.create.topics.enable") == "false"


def test_admin_is_created_with_the_log_directory_and_the_healthcheck_authenticates() -> None:
    script = " ".join(SERVICES["kafka"]["command"])
    assert "kafka-storage.sh format --ignore-formatted" in script
    assert "--add-scram" in script and "SCRAM-SHA-512=[name=admin," in script
    assert "password=$ADMIN_PASSWORD]" in script
    assert SERVICES["kafka"]["environment"]["ADMIN_PASSWORD"] == SECRETS["KAFKA_ADMIN_PASSWORD"]
    assert script.rstrip().endswith("exec /etc/kafka/docker/run"), "the image's own start comes last"
    probe = " ".join(SERVICES["kafka"]["healthcheck"]["test"])
    assert "--bootstrap-server kafka:9092" in probe
    assert "--command-config /opt/kafka/config/admin.properties" in probe


# -- the clients ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CLIENTS))
def test_every_kafka_client_container_is_its_own_sasl_user(name: str) -> None:
    environment = SERVICES[name]["environment"]
    user = CLIENTS[name]
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert environment["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert environment["KAFKA_SASL_USERNAME"] == user
    assert environment["KAFKA_SASL_PASSWORD"] == SECRETS[PASSWORD_OF[user]]
    # The password the kafka-acls job sets for that user is the one the container is given.
    job_variable = user.upper().replace("-", "_") + "_PASSWORD"
    assert ACL_JOB["environment"][job_variable] == SECRETS[PASSWORD_OF[user]]


def test_no_two_services_share_a_kafka_user_and_every_client_is_listed() -> None:
    services = [CLIENTS[name] for name in SETTINGS]
    assert len(set(services)) == len(services)
    kafka_clients = {
        name
        for name, service in SERVICES.items()
        if "KAFKA_BOOTSTRAP_SERVERS" in (service.get("environment") or {})
    }
    assert kafka_clients == set(CLIENTS)
    assert set(PASSWORD_OF.values()) <= set(SECRETS)
    assert len({SECRETS[variable] for variable in PASSWORD_OF.values()}) == len(PASSWORD_OF)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_service_connects_with_scram_sha_512_as_its_user(name: str) -> None:
    built = construct(SETTINGS[name], container_environment(name))
    options = security_options(built)  # type: ignore[arg-type]
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == CLIENTS[name]
    assert options["sasl_plain_password"] == SECRETS[PASSWORD_OF[CLIENTS[name]]]
    assert isinstance(broker_security(built), SASLScram512)  # type: ignore[arg-type]


# -- the ACLs ----------------------------------------------------------------------------------------------


def test_the_users_are_the_kafka_users() -> None:
    assert set(APPLIED) == set(KAFKA_USERS)
    assert set(CLIENTS.values()) == set(KAFKA_USERS)


@pytest.mark.parametrize("user", sorted(PASSWORD_OF))
def test_the_acls_compose_gives_are_exactly_the_kafka_users(user: str) -> None:
    assert APPLIED.get(user, set()) == kafka_user_acls(KAFKA_USERS[user])


def test_the_registry_may_purge_an_erased_persons_dead_letters_here_too() -> None:
    needed = {
        ("topic", "literal", name, operation)
        for name in deadletters.purged_topics()
        for operation in deadletters.PURGE_OPERATIONS
    }
    assert needed <= APPLIED["setka-registry"], sorted(needed - APPLIED["setka-registry"])


def test_a_changed_acl_would_be_caught() -> None:
    wider = ACL_JOB["environment"]["ACLS"] + "setka-registry topic literal Read,Describe setka.events\n"
    assert compose_acls(wider)["setka-registry"] != kafka_user_acls(KAFKA_USERS["setka-registry"])


def test_the_acl_job_sets_every_password_and_runs_before_every_client() -> None:
    assert ACL_JOB["image"] == SERVICES["kafka"]["image"]
    assert ACL_JOB["environment"]["ADMIN_PASSWORD"] == SECRETS["KAFKA_ADMIN_PASSWORD"]
    script = " ".join(ACL_JOB["command"])
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        assert f"/opt/kafka/bin/{tool}" in script
    assert "--bootstrap-server kafka:9092 --command-config" in script
    assert '<<< "$ACLS"' in script and "SCRAM-SHA-512=[iterations=8192,password=" in script
    assert ACL_JOB["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in ("topics", *SETTINGS):
        assert SERVICES[name]["depends_on"]["kafka-acls"] == {"condition": "service_completed_successfully"}


# -- no secret in the file ---------------------------------------------------------------------------------

_REQUIRED = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*)(:\?[^}]+|:-)\}$")
"""A required variable, or an optional one whose default is empty (a feature off unless it is set):
either way no password is in the file."""
_PASSWORD_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9_])password\s*=\s*\\?\"?(?P<value>[^\"\\\s;,\]]*)", re.IGNORECASE
)


def test_no_password_is_written_in_the_file() -> None:
    raw = yaml.safe_load(RAW_TEXT)
    for path, value in _strings(raw):
        key = path.rsplit("/", 1)[-1]
        if "PASSWORD" in key:
            assert _REQUIRED.match(value), (
                f"{path}: {value!r} is neither ${{VARIABLE:?…}} nor ${{VARIABLE:-}}"
            )
    for match in _PASSWORD_IN_TEXT.finditer(RAW_TEXT):
        value = match["value"]
        # A required compose variable, or the shell's variable at run time ($$ in compose).
        assert value.startswith("${") or value.startswith("$$"), (
            f"a password written in the file: {match[0]!r}"
        )


@pytest.mark.parametrize("variable", ["KAFKA_ADMIN_PASSWORD", *PASSWORD_OF.values()])
def test_the_file_refuses_to_start_without_each_kafka_password(variable: str) -> None:
    with pytest.raises(KeyError, match=variable):
        load_compose({name: value for name, value in SECRETS.items() if name != variable})
