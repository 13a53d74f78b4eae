"""Where things are: each service's settings and database, the components' URLs, and how to reach
Kafka — all read from the environment variables the processes themselves read.

Nothing here names a stack: ``make run`` is the defaults, Compose and Kubernetes set the variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import SettingsConfigDict
from setka_runtime.settings import ServiceSettings

from . import ConfigurationError

SERVICES = ("registry", "events", "analytics")
"""The services, in the order they are migrated, backed up and restored."""
COMPONENTS = (*SERVICES, "gateway")
"""What ``setka status`` asks for ``/readyz``."""

ROOT = Path(__file__).resolve().parent.parent
"""The project's root in a source checkout: ``make run`` keeps its SQLite files under ``ROOT/var``."""

DEFAULT_PORTS = {"registry": 8001, "events": 8002, "analytics": 8003, "gateway": 8000}
UNSPECIFIED_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


class OperatorSettings(ServiceSettings):
    """The settings every service shares (``KAFKA_*``, ``LOG_LEVEL``, …), read as a service reads
    them; the operator has no variables of its own."""

    model_config = SettingsConfigDict(env_prefix="SETKA_OPERATOR_", extra="ignore")
    service_name = "operator"


def local_broker_state_file() -> Path:
    """Where ``make run``'s supervisor reports its in-memory broker: ``LOCAL_BROKER_STATE_FILE``,
    else ``var/local-broker.json`` of this checkout (absent elsewhere, so nothing is reported)."""
    from setka_runtime.local_broker import STATE_FILE_NAME

    configured = shared_settings().local_broker_state_file
    return Path(configured) if configured else ROOT / "var" / STATE_FILE_NAME


def shared_settings() -> OperatorSettings:
    return OperatorSettings()


def service_settings(name: str) -> ServiceSettings:
    """The settings service ``name`` reads (``REGISTRY_*``, ``EVENTS_*``, ``ANALYTICS_*``)."""
    if name == "registry":
        from services.registry.settings import RegistrySettings

        return RegistrySettings()
    if name == "events":
        from services.events.settings import EventsSettings

        return EventsSettings()
    if name == "analytics":
        from services.analytics.settings import AnalyticsSettings

        return AnalyticsSettings()
    raise ValueError(f"unknown service {name!r}: choose from {', '.join(SERVICES)}")


def migrations_of(name: str) -> Path:
    return ROOT / "services" / name / "migrations"


def database_url(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Service ``name``'s database URL. The default SQLite file (``var/<name>.db``, relative) is
    the one ``make run`` uses, under the project's root, wherever the command is run from."""
    from sqlalchemy.engine import make_url

    environ = os.environ if environ is None else environ
    url = service_settings(name).database_url
    if f"{name.upper()}_DATABASE_URL" in environ:
        return url
    parsed = make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database
        and parsed.database != ":memory:"
        and not Path(parsed.database).is_absolute()
        and (ROOT / "pyproject.toml").exists()
    ):
        return parsed.set(database=str(ROOT / parsed.database)).render_as_string(hide_password=False)
    return url


def database_targets(names: Iterable[str] | None = None) -> dict[str, str]:
    """Service name → database URL, for the chosen services (every one by default)."""
    return {name: database_url(name) for name in (names or SERVICES)}


def shown(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def _loopback(host: str) -> str:
    return "127.0.0.1" if host.strip() in UNSPECIFIED_HOSTS else host.strip()


def component_urls(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The base URL (``/readyz`` is under it) of every component.

    A service is where the gateway finds it (``GATEWAY_REGISTRY_URL`` without its ``/graphql``)
    when that is set, else at ``REGISTRY_HOST``:``REGISTRY_PORT`` (an unspecified host such as
    ``0.0.0.0`` is reached on loopback); the gateway at ``GATEWAY_HOST``:``GATEWAY_PORT``. The
    defaults are ``make run``'s: 127.0.0.1, ports 8001–8003 and 8000.
    """
    environ = os.environ if environ is None else environ
    urls: dict[str, str] = {}
    for name in COMPONENTS:
        prefix = name.upper()
        subgraph = environ.get(f"GATEWAY_{prefix}_URL", "").strip() if name in SERVICES else ""
        if subgraph:
            base = subgraph.rstrip("/")
            urls[name] = base.removesuffix("/graphql")
            continue
        host = _loopback(environ.get(f"{prefix}_HOST", "127.0.0.1"))
        port = environ.get(f"{prefix}_PORT", "").strip() or str(DEFAULT_PORTS[name])
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        urls[name] = f"http://{host}:{port}"
    for name, url in (overrides or {}).items():
        urls[name] = url.rstrip("/").removesuffix("/graphql")
    return urls


@dataclass(frozen=True)
class KafkaTarget:
    """How the operator's Kafka clients connect: the shared settings, security included."""

    bootstrap_servers: str
    options: dict[str, Any]
    """Keyword arguments for every aiokafka client (bootstrap servers and security):
    :func:`setka_runtime.kafka.client_options`."""


def kafka_target(settings: ServiceSettings | None = None) -> KafkaTarget:
    """The Kafka the services use, connected to as they connect (``KAFKA_BOOTSTRAP_SERVERS`` with
    ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``, ``KAFKA_SSL_*``)."""
    from setka_runtime.kafka import KafkaSettingsError, client_options

    settings = settings or shared_settings()
    try:
        options = client_options(settings)
    except KafkaSettingsError as error:
        raise ConfigurationError(str(error)) from error
    return KafkaTarget(bootstrap_servers=settings.kafka_bootstrap_servers, options=options)
