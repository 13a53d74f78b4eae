"""docker-compose.yml is the production shape on one host, proven without a Docker engine: it
validates against the Compose Specification's JSON schema, every service has a healthcheck and
starts after its dependencies are healthy (or, for a one-shot job, have succeeded), every
container's environment is exactly what its process reads, and the topics job creates every
topic the code declares."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from jsonschema import Draft7Validator
from pydantic_settings import BaseSettings
from setka_contracts import topics

from gateway.settings import GatewaySettings
from operations.config import OperatorSettings
from portal.settings import PortalSettings
from services.analytics.settings import AnalyticsSettings
from services.events.settings import EventsSettings
from services.registry.settings import RegistrySettings

# Unit tests, but for the one that runs the topics job against a real broker (integration).
unit = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = ROOT / "tools/deploy/node_modules/dclint/schemas/compose.schema.json"
"""The Compose Specification's schema (compose-spec/compose-spec, schema/compose-spec.json), as
the pinned dclint package ships it (tools/deploy/package-lock.json)."""

SECRETS = {
    "GATEWAY_JWT_SECRET": "a-portal-token-secret-of-at-least-32-characters",
    "INTERNAL_TOKEN_SECRET": "an-internal-token-secret-of-at-least-32-chars",
    "METRICS_TOKEN": "a-metrics-token-for-prometheus",
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "KAFKA_ADMIN_PASSWORD": "ad0123456789",
    "KAFKA_REGISTRY_PASSWORD": "re0123456789",
    "KAFKA_EVENTS_PASSWORD": "ev0123456789",
    "KAFKA_ANALYTICS_PASSWORD": "an0123456789",
    "KAFKA_OPERATOR_PASSWORD": "op0123456789",
    "PORTAL_PUBLIC_URL": "https://setka.example.org",
    "PORTAL_OIDC_ISSUER": "https://keycloak.example.org/realms/setka",
    "PORTAL_OIDC_CLIENT_SECRET": "a-client-secret-of-the-workspace",
    "SNILS_HMAC_KEY": "a-snils-hmac-key-of-at-least-32-characters",
}
"""The variables the compose file refuses to start without (${VAR:?…}), with test values."""

SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "registry": RegistrySettings,
    "events": EventsSettings,
    "analytics": AnalyticsSettings,
}
OPERATOR_READS: tuple[type[BaseSettings], ...] = (
    OperatorSettings,
    RegistrySettings,
    EventsSettings,
    AnalyticsSettings,
    GatewaySettings,
)
"""`setka …` reads the shared settings, each service's (its database) and the gateway's (tokens)."""
SETKA_READS: dict[tuple[str, ...], tuple[type[BaseSettings], ...]] = {
    ("topics",): (OperatorSettings,),
    ("migrate",): (RegistrySettings, EventsSettings, AnalyticsSettings),
    ("--help",): OPERATOR_READS,
}
"""What each of the compose file's `setka` commands reads (the operator's container: everything)."""

_SERVICE_NEEDS = {"KAFKA_BOOTSTRAP_SERVERS", "INTERNAL_TOKEN_SECRET", "METRICS_TOKEN"}
_DATABASES = {"REGISTRY_DATABASE_URL", "EVENTS_DATABASE_URL", "ANALYTICS_DATABASE_URL"}
_GATEWAY_NEEDS = {
    "GATEWAY_ENVIRONMENT",
    "GATEWAY_JWT_SECRET",
    "INTERNAL_TOKEN_SECRET",
    "METRICS_TOKEN",
    "GATEWAY_REGISTRY_URL",
    "GATEWAY_EVENTS_URL",
    "GATEWAY_ANALYTICS_URL",
}
_SNILS = {"SNILS_HMAC_KEY"}
"""The registry hashes the СНИЛС it is given, events the СНИЛС facts carry, with one key."""
REQUIRED_IN_PRODUCTION: dict[str, set[str]] = {
    "registry": _SERVICE_NEEDS | _SNILS | {"REGISTRY_DATABASE_URL"},
    "events": _SERVICE_NEEDS | _SNILS | {"EVENTS_DATABASE_URL"},
    "analytics": _SERVICE_NEEDS | {"ANALYTICS_DATABASE_URL"},
    "gateway": _GATEWAY_NEEDS,
    "portal": {"PORTAL_ENVIRONMENT", "PORTAL_GATEWAY_URL", "PORTAL_PUBLIC_URL", "PORTAL_OIDC_ISSUER"},
    "topics": {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PARTITIONS", "KAFKA_REPLICATION_FACTOR"},
    "migrate": _DATABASES,
    "setka": _SERVICE_NEEDS | _DATABASES | _GATEWAY_NEEDS | _SNILS,
}
"""What each container must be given in production: the defaults are for one machine (SQLite
files, a loopback broker and subgraphs, no secrets)."""


# -- helpers shared with test_k8s.py ---------------------------------------------------------------


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable ``settings`` reads (upper case): the alias choices of a field
    with a validation alias, else the prefix and the field's name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            names |= env_names(field.annotation)  # a part with variables of its own (NOTIFY_*)
        elif alias is None:
            names.add(f"{prefix}{name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
    return names


def image_environment() -> dict[str, str]:
    """What the Dockerfile's runtime stage sets with ENV: every container starts with it."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    runtime = text[text.rindex("\nFROM ") :]
    environment: dict[str, str] = {}
    for statement in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", runtime, flags=re.MULTILINE):
        environment.update(re.findall(r"([A-Z_]+)=(\S+)", statement.replace("\\\n", " ")))
    return environment


def construct(settings: type[BaseSettings], environment: Mapping[str, str]) -> BaseSettings:
    """``settings`` built from exactly ``environment``, nothing of this process's own."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        return settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def unread(environment: Mapping[str, str], readers: tuple[type[BaseSettings], ...]) -> set[str]:
    """The variables of ``environment`` that none of ``readers`` reads: a typo, or a setting that
    was renamed or never existed."""
    read = set().union(*(env_names(settings) for settings in readers))
    return {name for name in environment if name.upper() not in read}


# -- the compose file ------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = variables.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return _VARIABLE.sub(substitute, value)


def resolved(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [resolved(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: resolved(value, variables) for key, value in node.items()}
    return node


def load_compose(variables: Mapping[str, str] = SECRETS) -> dict[str, Any]:
    """The compose file as Compose reads it: YAML with anchors and merges, then interpolated."""
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return resolved(raw, variables)


COMPOSED = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSED["services"]
SETKA_IMAGE = [name for name, service in SERVICES.items() if service.get("build") == "."]


def container_environment(name: str) -> dict[str, str]:
    """What a container of service ``name`` gets: the image's ENV, then the compose environment."""
    environment = dict(image_environment()) if name in SETKA_IMAGE else {}
    given = SERVICES[name].get("environment") or {}
    assert isinstance(given, dict), f"{name}: write its environment as a mapping"
    environment.update({key: "" if value is None else str(value) for key, value in given.items()})
    return environment


def is_job(service: Mapping[str, Any]) -> bool:
    """A one-shot: it runs to its end and is not restarted."""
    return str(service.get("restart", "no")) == "no"


def process_of(name: str) -> str:
    command = [*SERVICES[name].get("entrypoint", []), *SERVICES[name]["command"]]
    if command[:3] in (["python", "-m", "gateway"], ["python", "-m", "portal"]):
        return command[2]
    if command[:2] == ["python", "-m"] and command[2].startswith("services."):
        return command[2].removeprefix("services.")
    assert command[0] == "setka", f"{name}: an unknown process {command}"
    return "setka"


def readers_of(name: str) -> tuple[type[BaseSettings], ...]:
    process = process_of(name)
    if process == "gateway":
        return (GatewaySettings,)
    if process == "portal":
        return (PortalSettings,)
    if process == "setka":
        words = [*SERVICES[name].get("entrypoint", []), *SERVICES[name]["command"]]
        return SETKA_READS[tuple(words[1:2])]
    return (SERVICE_SETTINGS[process],)


# -- tests -----------------------------------------------------------------------------------------


@unit
def test_the_compose_file_validates_against_the_compose_specification() -> None:
    if not COMPOSE_SCHEMA.exists():
        pytest.fail(f"{COMPOSE_SCHEMA} is missing: `make env` installs tools/deploy (npm ci)")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    validator = Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSED)]
    assert errors == []
    # The schema bites: a misspelt key and a wrong condition are refused.
    broken = json.loads(json.dumps(COMPOSED))
    broken["services"]["registry"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["gateway"]["depends_on"]["registry"]["condition"] = "service_ready"
    assert len(list(validator.iter_errors(broken))) == 2


@unit
def test_the_compose_file_refuses_to_start_without_its_secrets() -> None:
    for missing in SECRETS:
        with pytest.raises(KeyError, match=missing):
            load_compose({name: value for name, value in SECRETS.items() if name != missing})


@unit
def test_every_long_running_service_has_a_healthcheck_and_jobs_are_one_shots() -> None:
    for name, service in SERVICES.items():
        if is_job(service):
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
    jobs = {name for name, service in SERVICES.items() if is_job(service)}
    assert jobs == {"kafka-acls", "topics", "migrate", "setka"}
    assert SERVICES["setka"]["profiles"] == ["operator"], "the operator's command is not started by `up`"


@unit
def test_every_service_waits_for_its_dependencies_to_be_healthy_or_done() -> None:
    for name, service in SERVICES.items():
        for dependency, wait in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if is_job(SERVICES[dependency]) else "service_healthy"
            assert wait.get("condition") == expected, f"{name} → {dependency}"
    needs = {
        "kafka-acls": {"kafka"},
        "topics": {"kafka", "kafka-acls"},
        "migrate": {"postgres"},
        "registry": {"kafka", "postgres", "kafka-acls", "topics", "migrate"},
        "events": {"kafka", "postgres", "kafka-acls", "topics", "migrate"},
        "analytics": {"kafka", "postgres", "kafka-acls", "topics", "migrate"},
        "gateway": {"registry", "events", "analytics"},
    }
    for name, dependencies in needs.items():
        assert set(SERVICES[name]["depends_on"]) == dependencies, name


@unit
def test_each_service_healthcheck_asks_its_own_port_for_readiness() -> None:
    ports = {"registry": 8001, "events": 8002, "analytics": 8003, "gateway": 8000, "portal": 8010}
    for name, port in ports.items():
        probe = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, name
    assert SERVICES["gateway"]["ports"] == ["8000:8000"]
    assert all("ports" not in SERVICES[name] for name in ("registry", "events", "analytics"))


@unit
@pytest.mark.parametrize("name", SETKA_IMAGE)
def test_every_variable_a_container_gets_is_a_setting_its_process_reads(name: str) -> None:
    environment = container_environment(name)
    image_only = set(image_environment())
    given = {key: value for key, value in environment.items() if key not in image_only}
    assert unread(given, readers_of(name)) == set()


@unit
@pytest.mark.parametrize("name", SETKA_IMAGE)
def test_the_settings_of_every_container_build_from_exactly_its_environment(name: str) -> None:
    environment = container_environment(name)
    assert REQUIRED_IN_PRODUCTION[name] - set(environment) == set()
    for settings in readers_of(name):
        built = construct(settings, environment)  # raises if the values do not fit together
        if isinstance(built, GatewaySettings):
            assert built.production
            assert built.registry_url == "http://registry:8001/graphql"
            assert built.jwt_secret.get_secret_value() == SECRETS["GATEWAY_JWT_SECRET"]
        elif settings is not OperatorSettings and "DATABASE_URL" in " ".join(REQUIRED_IN_PRODUCTION[name]):
            url: str = built.database_url  # type: ignore[attr-defined]
            service = settings.model_config.get("env_prefix", "").lower().rstrip("_")
            if f"{service.upper()}_DATABASE_URL" in REQUIRED_IN_PRODUCTION[name]:
                assert url == f"postgresql://setka:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/{service}"
        if "KAFKA_BOOTSTRAP_SERVERS" in environment and not isinstance(built, GatewaySettings):
            assert built.kafka_bootstrap_servers == "kafka:9092"  # type: ignore[attr-defined]
    if name == "gateway":
        assert construct(GatewaySettings, environment).host == "0.0.0.0"  # type: ignore[attr-defined]
    if name == "portal":
        portal: Any = construct(PortalSettings, environment)
        assert (portal.host, portal.gateway_url, portal.demo) == ("0.0.0.0", "http://gateway:8000", False)


@unit
def test_the_registry_and_events_hash_snils_with_one_key_and_analytics_never_sees_it() -> None:
    for name in ("registry", "events", "setka"):
        assert container_environment(name)["SNILS_HMAC_KEY"] == SECRETS["SNILS_HMAC_KEY"], name
        built: Any = construct(OPERATOR_READS[1], container_environment(name))
        assert built.snils_hmac_key.get_secret_value() == SECRETS["SNILS_HMAC_KEY"]
    assert "SNILS_HMAC_KEY" not in container_environment("analytics")


@unit
def test_a_misspelt_variable_would_be_caught() -> None:
    environment = container_environment("registry") | {"REGISTRY_DATABASE_URI": "postgresql://x"}
    assert unread(environment, readers_of("registry")) - set(image_environment()) == {"REGISTRY_DATABASE_URI"}


@unit
def test_the_topics_job_runs_the_operators_topics_create() -> None:
    assert SERVICES["topics"]["command"] == ["setka", "topics", "create"]
    assert SERVICES["migrate"]["command"] == ["setka", "migrate"]


async def _topics_of(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if not name.startswith("__")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {entry["topic"]: len(entry["partitions"]) for entry in described}


def _setka_command(command: list[str]) -> list[str]:
    """The job's command as this checkout runs it (the image has `setka` on its PATH)."""
    assert command[0] == "setka"
    return [sys.executable, "-c", "from operations.cli import main; main()", *command[1:]]


@pytest.fixture
def job_environment(broker: Any) -> Iterator[dict[str, str]]:
    environment = container_environment("topics") | {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    # The local broker has no idempotent producer and no users; the job only creates topics.
    environment["KAFKA_ENABLE_IDEMPOTENCE"] = "false"
    environment["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    for name in ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        environment.pop(name)
    environment["PATH"] = os.environ.get("PATH", "")
    environment["PYTHONPATH"] = os.pathsep.join(str(ROOT / part) for part in ("", "contracts", "runtime"))
    yield environment


@pytest.mark.integration
def test_the_topics_job_creates_every_declared_topic_and_its_dead_letters(
    job_environment: dict[str, str], broker: Any
) -> None:
    command = _setka_command(SERVICES["topics"]["command"])
    first = subprocess.run(command, env=job_environment, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    created = asyncio.run(_topics_of(broker.bootstrap))
    declared = {spec.name: spec.partitions for spec in topics.DECLARED}
    every = {*topics.OUTBOUND, *topics.INBOUND}
    assert every | {topics.dead_letter(name) for name in every} <= set(declared)
    assert {name: created.get(name) for name in declared} == {
        name: int(job_environment["KAFKA_TOPIC_PARTITIONS"]) for name in declared
    }
    # Run again (a restart of the stack): nothing changes, and it still succeeds.
    again = subprocess.run(command, env=job_environment, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert asyncio.run(_topics_of(broker.bootstrap)) == created
