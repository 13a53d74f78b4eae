"""Fixtures shared by every tier: a real broker, real PostgreSQL databases, a local stack.

Where the infrastructure comes from is chosen once a run (``SETKA_TEST_INFRA``):

* ``local``: a Tansu process of each test's own and the PostgreSQL at ``SETKA_TEST_POSTGRES_URL``;
* ``containers``: Apache Kafka (KRaft) and PostgreSQL 15 started with testcontainers, once a run;
* ``auto`` (the default): ``containers`` when a Docker engine answers and testcontainers is
  installed, ``local`` otherwise.

The fixtures look the same either way (``broker.bootstrap``, ``databases.create(...)``), so the
same tests run on both.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from setka_runtime import migrations
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests that send regional facts from sources they do not register (written before sources were
# registered) run as an installation in transition does; the tests of grants set "refuse".
os.environ.setdefault("EVENTS_UNREGISTERED_SOURCES", "accept")

SERVICES = ("registry", "events", "analytics")
MIGRATIONS = {name: ROOT / "services" / name / "migrations" for name in SERVICES}


Infrastructure = Literal["local", "containers"]

INFRA_VARIABLE = "SETKA_TEST_INFRA"
KAFKA_IMAGE = "apache/kafka:3.9.1"  # the broker docker-compose.yml runs
POSTGRES_IMAGE = "postgres:15"
DOCKER_SOCKET = "/var/run/docker.sock"


class InfrastructureError(RuntimeError):
    """``SETKA_TEST_INFRA`` asks for something this machine cannot give."""


def choose_infrastructure(
    requested: str | None,
    docker_answers: Callable[[], bool],
    testcontainers_installed: Callable[[], bool],
) -> Infrastructure:
    """Where the brokers and databases of this run come from.

    ``requested`` is the value of ``SETKA_TEST_INFRA`` (unset or empty means ``auto``); the two
    probes are only called when the answer depends on them.
    """
    choice = (requested or "auto").strip().lower()
    if choice == "local":
        return "local"
    if choice == "containers":
        if not docker_answers():
            raise InfrastructureError(
                f"{INFRA_VARIABLE}=containers, but no Docker engine answers (DOCKER_HOST, "
                f"{DOCKER_SOCKET} and `docker info` were tried): start Docker, or run the tests "
                f"on the local broker and PostgreSQL with {INFRA_VARIABLE}=local"
            )
        if not testcontainers_installed():
            raise InfrastructureError(
                f"{INFRA_VARIABLE}=containers needs the testcontainers package: "
                "pip install 'testcontainers[kafka,postgres]'"
            )
        return "containers"
    if choice == "auto":
        return "containers" if docker_answers() and testcontainers_installed() else "local"
    raise InfrastructureError(f"{INFRA_VARIABLE} is local, containers or auto, not {requested!r}")


def _ping(family: socket.AddressFamily, address: str | tuple[str, int], timeout: float) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` at ``address``."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(address)
            connection.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            status = connection.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status.startswith(b"HTTP/1.") and b" 200" in status


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """Cheaply: the engine ``DOCKER_HOST`` names (or the default socket) answers its ping; failing
    that, ``docker info`` succeeds (it knows contexts, TLS and ssh:// hosts)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        if _ping(socket.AF_UNIX, host.removeprefix("unix://") or DOCKER_SOCKET, timeout):
            return True
    elif host.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY"):
        address = urlsplit(host)
        if _ping(socket.AF_INET, (address.hostname or "127.0.0.1", address.port or 2375), timeout):
            return True
    client = shutil.which("docker")
    if not client:
        return False
    try:
        answer = subprocess.run(
            [client, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=timeout + 3,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0


def testcontainers_installed() -> bool:
    return importlib.util.find_spec("testcontainers") is not None


@functools.cache
def infrastructure() -> Infrastructure:
    """The choice for this run, probed once."""
    return choose_infrastructure(
        os.environ.get(INFRA_VARIABLE), docker_engine_answers, testcontainers_installed
    )


def _chosen_or_usage_error() -> Infrastructure:
    try:
        return infrastructure()
    except InfrastructureError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run asked for something this machine cannot give stops before any test, saying why."""
    _chosen_or_usage_error()


def pytest_report_header(config: pytest.Config) -> str:
    if _chosen_or_usage_error() == "containers":
        return (
            f"infrastructure: containers ({KAFKA_IMAGE}, {POSTGRES_IMAGE}; {INFRA_VARIABLE}=local to change)"
        )
    return f"infrastructure: local (Tansu, SETKA_TEST_POSTGRES_URL; {INFRA_VARIABLE}=containers to change)"


# Under pytest-xdist (``make test`` runs ``-n`` workers with ``--dist loadscope``) the tests that
# share a stack run in one worker, or each worker would start that stack again: a module's tests
# share its module-scoped stacks, and the demo package's tests share its one demo stack.
SHARED_PACKAGES = ("tests/e2e/demo/",)


def worker_scope(nodeid: str) -> str:
    """What runs in one worker: a test's package when the package shares a stack, else its module."""
    module = nodeid.split("::", 1)[0]
    return next((package for package in SHARED_PACKAGES if module.startswith(package)), module)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with :func:`worker_scope` as the scope (xdist's ``loadgroup`` marks
    do not reach its scheduler under pytest 9: it rewrites a node id attribute pytest 9 no longer reads)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedStackScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return SharedStackScheduling(config, log)


@pytest.fixture(scope="session")
def infrastructure_kind() -> Infrastructure:
    try:
        return infrastructure()
    except InfrastructureError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def postgres_url(infrastructure_kind: Infrastructure) -> Iterator[str]:
    """The server the tests create their databases on (each run its own, dropped afterwards):
    the local one, or a PostgreSQL container started for this run."""
    if infrastructure_kind == "local":
        yield os.environ.get("SETKA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        return
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    )
    container.start()
    try:
        yield container.get_connection_url()
    finally:
        container.stop()


class DatabaseFactory:
    """The run's databases. A migrated one is a copy of a template migrated once a run per service
    (``CREATE DATABASE … TEMPLATE``: a fraction of a second instead of seconds of migrations)."""

    def __init__(self, admin_url: str, run_id: str) -> None:
        self.admin_url = admin_url
        self.run_id = run_id
        self.created: list[str] = []
        self._templates: dict[str, str] = {}
        self._lock = threading.Lock()

    def _admin_dsn(self) -> str:
        return make_url(self.admin_url).render_as_string(hide_password=False)

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _create_database(self, label: str, template: str | None = None) -> str:
        name = f"setka_test_{self.run_id}_{len(self.created)}_{label}"

        async def create() -> None:
            connection = await asyncpg.connect(self._admin_dsn())
            try:
                statement = f'CREATE DATABASE "{name}"'
                if template:
                    statement += f' TEMPLATE "{template}"'
                    # PostgreSQL 15 copies through the WAL by default, and dropping such a copy
                    # then costs seconds; copying the (small) files is cheaper both ways
                    if connection.get_server_version().major >= 15:
                        statement += " STRATEGY FILE_COPY"
                await connection.execute(statement)
            finally:
                await connection.close()

        run_sync(create())
        self.created.append(name)
        return name

    def _template(self, service: str) -> str:
        """The run's database of ``service`` migrated to head; nothing stays connected to it."""
        if service not in self._templates:
            name = self._create_database(f"template_{service}")
            migrations.upgrade(MIGRATIONS[service], self._url(name), service)
            self._templates[service] = name
        return self._templates[service]

    def create(self, label: str, *, migrate: str | None = None) -> str:
        """A new empty database; migrated for service ``migrate`` when given."""
        with self._lock:
            template = self._template(migrate) if migrate else None
            return self._url(self._create_database(label, template))

    def drop_all(self) -> None:
        async def drop() -> None:
            # a few at a time: each drop waits on the disk, not on the server's CPU
            pool = await asyncpg.create_pool(self._admin_dsn(), min_size=1, max_size=4)

            async def drop_one(name: str) -> None:
                async with pool.acquire() as connection:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            try:
                await asyncio.gather(*(drop_one(name) for name in self.created))
            finally:
                await pool.close()

        run_sync(drop())


@pytest.fixture(scope="session")
def databases(postgres_url: str, run_id: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(postgres_url, run_id)
    yield factory
    factory.drop_all()


@pytest.fixture
def service_databases(databases: DatabaseFactory) -> dict[str, str]:
    """One fresh, migrated PostgreSQL database per service for this test."""
    return {name: databases.create(name, migrate=name) for name in SERVICES}


class BrokerAddress:
    """What tests use of a broker: where it is, and what a client started against it is given."""

    bootstrap: str
    port: int  # where it listens on this machine
    advertised_port: int  # what it tells clients (a proxy's port, for a proxied broker)
    idempotence: bool

    @property
    def environment(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "true" if self.idempotence else "false",
        }


class Broker(BrokerAddress):
    """A Tansu process of this test's own: its topics and groups are seen by no other test."""

    idempotence = False  # Tansu has no idempotent producer

    def __init__(self, log_dir: Path, *, advertised_port: int | None = None) -> None:
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"127.0.0.1:{self.advertised_port}"
        self.log_path = log_dir / "tansu.log"
        self.process: Any = None

    def start(self) -> None:
        self.process = start_tansu(self.port, log_path=self.log_path, advertised_port=self.advertised_port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def container_host() -> str:
    """The address the Docker engine publishes container ports on, as seen from here."""
    from testcontainers.core.docker_client import DockerClient

    host = DockerClient().host()
    return "127.0.0.1" if host in {"localhost", "::1", "0.0.0.0"} else host


def kraft_settings(advertised: str, cluster_id: str) -> dict[str, str]:
    """One Apache Kafka node in KRaft mode (broker and controller), for clients at ``advertised``.

    Clients use listener PLAINTEXT (container port 9092); BROKER and CONTROLLER stay inside. Like
    Tansu it creates topics on first use and takes large messages (the poison tests send some).
    """
    return {
        "CLUSTER_ID": cluster_id,
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{advertised},BROKER://localhost:9093",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9094",
        "KAFKA_LOG_DIRS": "/tmp/kraft-combined-logs",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_MESSAGE_MAX_BYTES": str(16 * 1024 * 1024),
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
    }


class ContainerBroker(BrokerAddress):
    """Apache Kafka in a container (testcontainers), with the interface of :class:`Broker`.

    testcontainers' own ``KafkaContainer`` drives Confluent images only (its start script runs
    /etc/confluent/docker/*), so the apache/kafka image is configured through its ``KAFKA_*``
    variables. The host port is bound up front, so the address is known before the broker runs
    and may be a proxy's (``advertised_port``).
    """

    idempotence = True  # Apache Kafka has the idempotent producer

    def __init__(self, *, advertised_port: int | None = None) -> None:
        self.host = container_host()
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"{self.host}:{self.advertised_port}"
        self.container: Any = None

    def start(self) -> None:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        started = LogMessageWaitStrategy(r"Kafka Server started").with_startup_timeout(180)
        container = (
            DockerContainer(KAFKA_IMAGE)
            .with_bind_ports(9092, self.port)
            .with_envs(**kraft_settings(self.bootstrap, cluster_id))
            .waiting_for(started)
        )
        container.start()
        self.container = container

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None

    def empty(self, *, timeout: float = 60.0) -> None:
        """Delete every topic but Kafka's own: the next test finds the broker as a fresh one.

        The groups' committed offsets go with their topics' partitions."""
        run_sync(delete_all_topics(self.bootstrap, timeout=timeout))


async def delete_all_topics(bootstrap: str, *, timeout: float = 60.0) -> None:
    """Delete the topics of ``bootstrap`` but the internal ones (``__…``); return once none is listed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while left := [name for name in await admin.list_topics() if not name.startswith("__")]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics still listed after {timeout:.0f}s: {sorted(left)}")
            try:
                await admin.delete_topics(left)
            except KafkaError:
                pass  # some went meanwhile; the listing says what is left
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def shared_kafka(infrastructure_kind: Infrastructure) -> Iterator[ContainerBroker | None]:
    """On containers, the one Apache Kafka of the run (emptied before each test); None on local."""
    if infrastructure_kind == "local":
        yield None
        return
    kafka = ContainerBroker()
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def _on_kafka(kafka: ContainerBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in this test, and processes it starts, use the idempotent producer."""
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", kafka.environment["KAFKA_ENABLE_IDEMPOTENCE"])


@pytest.fixture
def broker(
    tmp_path: Path, shared_kafka: ContainerBroker | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Broker | ContainerBroker]:
    """A broker no earlier test has left anything on."""
    if shared_kafka is not None:
        shared_kafka.empty()
        _on_kafka(shared_kafka, monkeypatch)
        yield shared_kafka
        return
    kafka = Broker(tmp_path)
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def proxied_broker(
    tmp_path: Path, infrastructure_kind: Infrastructure, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Broker | ContainerBroker]:
    """A broker that advertises a proxy's port: tests start ``TcpProxy(broker.port, ...)`` to reach it."""
    kafka: Broker | ContainerBroker
    if infrastructure_kind == "containers":
        kafka = ContainerBroker(advertised_port=free_port())
        _on_kafka(kafka, monkeypatch)
    else:
        kafka = Broker(tmp_path, advertised_port=free_port())
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def stopped_broker(
    tmp_path: Path, infrastructure_kind: Infrastructure, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Broker | ContainerBroker]:
    """A broker whose address is known but which is not running yet."""
    kafka: Broker | ContainerBroker
    if infrastructure_kind == "containers":
        kafka = ContainerBroker()
        _on_kafka(kafka, monkeypatch)
    else:
        kafka = Broker(tmp_path)
    yield kafka
    kafka.stop()


# ``SETKA_TEST_CPU=FILE`` appends each test's processor time (this process's and that of the
# processes it started and reaped: stacks, brokers, commands) to FILE as tab-separated lines, to
# find where a run's processor time goes. The wall time is what ``--durations`` prints.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    report = os.environ.get("SETKA_TEST_CPU")
    if not report:
        yield
        return
    import resource

    def used() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    before, started = used(), time.monotonic()
    yield
    with open(report, "a", encoding="utf-8") as out:
        out.write(f"{item.nodeid}\t{used() - before:.2f}\t{time.monotonic() - started:.2f}\n")
