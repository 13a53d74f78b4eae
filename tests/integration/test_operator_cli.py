"""``setka``, the operator's command, run as a real process against a real broker (Tansu, or Apache
Kafka in a container) and real PostgreSQL databases: what an operator types and what they see."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts import topics
from setka_runtime.access import verify_internal
from setka_runtime.kafka import topic_configs
from setka_runtime.local_broker import free_port
from sqlalchemy.engine import make_url

from gateway.auth import Authenticator
from gateway.settings import GatewaySettings
from services.registry.demo.dataset import national_organizations
from tests.conftest import ROOT, DatabaseFactory
from tests.helpers import eventually, read_topic

pytestmark = pytest.mark.integration

SETKA = [sys.executable, "-m", "operations.cli"]
SHIM = Path(sys.executable).parent / "setka"
"""The command the project installs (``setka = "operations.cli:main"``)."""

JWT_SECRET = "portal-secret-for-the-operator-cli-tests-0123456789"
INTERNAL_SECRET = "internal-secret-for-the-operator-cli-tests-0123456789"
OWN_PREFIXES = ("REGISTRY_", "EVENTS_", "ANALYTICS_", "GATEWAY_", "KAFKA_", "INTERNAL_TOKEN_SECRET")
DECLARED = [spec.name for spec in topics.DECLARED]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any Setka setting, plus ``extra``: what the command
    sees is only what a test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    # nothing listens on these: a component the test does not start is unreachable, not someone else's
    for name in ("REGISTRY", "EVENTS", "ANALYTICS", "GATEWAY"):
        env[f"{name}_PORT"] = str(free_port())
    return {**env, **extra}


def setka(*args: str, env: dict[str, str], command: list[str] = SETKA) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def pg_dsn(url: str) -> str:
    return make_url(url).render_as_string(hide_password=False)


async def fetch(url: str, query: str, *args: Any) -> list[Any]:
    connection = await asyncpg.connect(pg_dsn(url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def tables_of(url: str) -> set[str]:
    rows = await fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def contents(url: str) -> dict[str, list[str]]:
    """Every row of every table, in a stable order: "the same data"."""
    found: dict[str, list[str]] = {}
    for table in sorted(await tables_of(url)):
        rows = await fetch(url, f'SELECT * FROM "{table}"')
        found[table] = sorted(repr(tuple(row.values())) for row in rows)
    return found


# -- the command line itself ----------------------------------------------------------------------

COMMANDS = [
    [],
    ["status"],
    ["migrate"],
    ["topics", "create"],
    ["seed", "demo"],
    ["import"],
    ["token", "issue"],
    ["dlq", "list"],
    ["dlq", "replay"],
    ["sources", "list"],
    ["sources", "add"],
    ["sources", "grant"],
    ["sources", "revoke"],
    ["sources", "acl"],
    ["sources", "map"],
    ["sources", "token"],
    ["sources", "revoke-token"],
    ["backup"],
    ["restore"],
    ["replay", "rebuild"],
    ["replay", "republish"],
]


def test_every_command_explains_itself_with_examples() -> None:
    env = clean_environment()

    def helped(words: list[str]) -> tuple[list[str], subprocess.CompletedProcess[str]]:
        command = [str(SHIM)] if not words else SETKA  # the installed command, and the module
        return words, setka(*words, "--help", env=env, command=command)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(helped, COMMANDS))
    for words, result in results:
        assert result.returncode == 0, (words, result.stderr)
        assert result.stdout.startswith(f"usage: {' '.join(['setka', *words])}"), result.stdout[:200]
        assert "examples:" in result.stdout, words
    top = results[0][1].stdout
    for command in ("status", "migrate", "topics", "seed", "import", "token", "dlq", "backup", "restore"):
        assert f"    {command} " in top
    assert "exit status" in top
    imported = dict((tuple(w), r) for w, r in results)[("import",)].stdout
    assert "--kind" in imported and "--dry-run" in imported  # the registry's own options


def test_a_wrong_command_line_exits_2_and_says_why() -> None:
    env = clean_environment()
    cases = [
        (["bogus"], "invalid choice"),
        (["status", "--timeout", "-1"], "must be positive"),
        (["migrate", "ledger"], "is not one of registry, events, analytics"),
        (["topics"], "required"),
        (["token", "issue"], "--role"),
        (["token", "issue", "--role", "regional_admin"], "needs --region"),
        (["token", "issue", "--role", "school_representative", "--organization", "42"], "UUID"),
        (["dlq", "replay", "setka.events"], "choose the letters"),
        (["restore", str(ROOT / "no-such-backup")], "does not exist"),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: setka(*case[0], env=env), cases))
    for (words, reason), result in zip(cases, results, strict=True):
        assert result.returncode == 2, (words, result.stdout, result.stderr)
        assert reason in result.stderr, (words, result.stderr)


# -- migrate, seed, import, backup and restore -----------------------------------------------------


def test_migrate_brings_every_service_database_to_its_schema_once(databases: DatabaseFactory) -> None:
    urls = {name: databases.create(f"cli_migrate_{name}") for name in ("registry", "events", "analytics")}
    env = clean_environment(**{f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()})

    first = setka("migrate", "--json", env=env)
    assert first.returncode == 0, first.stderr
    migrated = {entry["service"]: entry for entry in as_json(first)["migrated"]}
    assert set(migrated) == {"registry", "events", "analytics"}
    for entry in migrated.values():
        assert entry["before"] is None and entry["after"] and entry["changed"]
    found = {name: asyncio.run(tables_of(url)) for name, url in urls.items()}
    assert {"alembic_version_registry", "organization", "outbox"} <= found["registry"]
    assert {"alembic_version_events", "activity", "inbox"} <= found["events"]
    assert {"alembic_version_analytics", "inbox"} <= found["analytics"]

    again = setka("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("up to date") == 3, again.stdout
    assert "postgres@" in again.stdout  # where it looked; the password, if any, hidden


def test_migrate_against_a_database_that_does_not_answer_exits_1() -> None:
    env = clean_environment(REGISTRY_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/registry")
    result = setka("migrate", "registry", "--wait", "1", env=env)
    assert result.returncode == 1
    assert "registry: its database" in result.stderr and "does not answer" in result.stderr


@pytest.fixture(scope="module")
def seeded_registry(databases: DatabaseFactory) -> str:
    """A registry database that ``setka seed demo`` filled."""
    url = databases.create("cli_seeded")
    result = setka("seed", "demo", env=clean_environment(REGISTRY_DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert "demo records loaded" in result.stdout
    return url


def test_seed_demo_fills_an_empty_registry(seeded_registry: str) -> None:
    organizations = asyncio.run(fetch(seeded_registry, "SELECT short_name FROM organization"))
    assert len(organizations) > 50
    assert all("(демо)" in row["short_name"] for row in organizations)


def test_import_applies_good_rows_reports_bad_ones_and_exits_3(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    url = databases.create("cli_import")  # empty: the command migrates it first
    env = clean_environment(REGISTRY_DATABASE_URL=url)
    schools = list(national_organizations(3, seed=11))
    reference = tmp_path / "municipalities.csv"
    with reference.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Код региона", "Регион", "Муниципальное образование"])
        for org in schools:  # spelt in capitals: names match whatever the case
            writer.writerow([org.region_code, f"Регион {org.region_code}", org.municipality.upper()])
    loaded = setka("import", str(reference), "--kind", "municipalities", env=env)
    assert loaded.returncode == 0, (loaded.stdout, loaded.stderr)
    assert f"created {len({(o.region_code, o.municipality) for o in schools})}" in loaded.stdout

    source = tmp_path / "schools.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Полное наименование", "Краткое наименование", "Тип ОО", "ИНН", "Муниципалитет"])
        for org in schools:
            writer.writerow([org.full_name, org.short_name, "школа", org.inn, org.municipality])
        writer.writerow(
            ["МБОУ СОШ с ошибкой", "СОШ с ошибкой", "школа", "1234567890", schools[0].municipality]
        )

    result = setka("import", str(source), "--kind", "organizations", env=env)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "created 3" in result.stdout and "rejected 1" in result.stdout
    assert "line 5" in result.stdout
    assert (tmp_path / "schools.rejected.csv").exists()
    placed = asyncio.run(
        fetch(
            url,
            "SELECT o.inn, m.name FROM organization o LEFT JOIN municipality m ON m.id = o.municipality_id",
        )
    )
    # every school placed in the loaded municipality, so its municipal coordinator can act on it
    assert {row["inn"]: row["name"] for row in placed} == {o.inn: o.municipality.upper() for o in schools}


def test_backup_then_a_lost_database_then_restore_gives_the_same_data(
    seeded_registry: str, tmp_path: Path
) -> None:
    env = clean_environment(REGISTRY_DATABASE_URL=seeded_registry)
    before = asyncio.run(contents(seeded_registry))
    assert sum(len(rows) for rows in before.values()) > 500

    made = setka("backup", str(tmp_path / "backups"), "registry", "--json", env=env)
    assert made.returncode == 0, made.stderr
    written = Path(as_json(made)["backup"])
    assert (written / "manifest.json").exists()

    async def lose() -> None:
        await fetch(seeded_registry, "DROP SCHEMA public CASCADE")
        await fetch(seeded_registry, "CREATE SCHEMA public")

    asyncio.run(lose())
    assert asyncio.run(tables_of(seeded_registry)) == set()

    refused = setka("restore", str(written), "registry", env=env)  # no terminal to confirm on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    restored = setka("restore", str(written), "registry", "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    assert asyncio.run(contents(seeded_registry)) == before

    # a second backup into the same place goes into a new directory of its own
    second = setka("backup", str(tmp_path / "backups"), "registry", "--json", env=env)
    assert second.returncode == 0, second.stderr
    assert Path(as_json(second)["backup"]).parent == tmp_path / "backups"


# -- tokens -----------------------------------------------------------------------------------------


def test_token_issue_prints_tokens_the_gateway_and_the_services_accept() -> None:
    env = clean_environment(GATEWAY_JWT_SECRET=JWT_SECRET, INTERNAL_TOKEN_SECRET=INTERNAL_SECRET)
    school = "0b8e6d2c-3f1a-4c55-9e0d-7a1b2c3d4e5f"
    admin, representative, internal = (
        setka(*words, env=env)
        for words in (
            ["token", "issue", "--role", "regional_admin", "--region", "39", "--subject", "ivanova"],
            ["token", "issue", "--role", "school_representative", "--organization", school, "--json"],
            ["token", "issue", "--role", "municipal_coordinator", "--municipality", school, "--internal"],
        )
    )
    for result in (admin, representative, internal):
        assert result.returncode == 0, result.stderr

    async def identify(token: str) -> Any:
        authenticator = Authenticator(GatewaySettings(jwt_secret=JWT_SECRET))
        try:
            return await authenticator.identify(f"Bearer {token}")
        finally:
            await authenticator.close()

    who = asyncio.run(identify(admin.stdout.strip()))
    assert (who.subject, who.scopes, who.region_code) == ("ivanova", {"regional_admin"}, "39")
    issued = as_json(representative)
    assert issued["kind"] == "portal" and issued["scope"] == {"organization": school}
    who = asyncio.run(identify(issued["token"]))
    assert (who.scopes, who.organization_id) == ({"school_representative"}, school)
    service_view = verify_internal(internal.stdout.strip(), INTERNAL_SECRET)
    assert (service_view.scopes, service_view.municipality_id) == ({"municipal_coordinator"}, school)


# -- Kafka: topics, lag, dead letters, replays --------------------------------------------------------


async def describe(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(names)}
    finally:
        await admin.close()


def test_topics_create_makes_every_declared_topic_and_its_dead_letters_once(broker: Any) -> None:
    env = clean_environment(**broker.environment)
    first = setka("topics", "create", "--partitions", "2", "--json", env=env)
    assert first.returncode == 0, first.stderr
    created = as_json(first)["created"]
    assert [spec["name"] for spec in created] == DECLARED
    assert {"setka.registry", "setka.registry.dlq", "setka.audit.dlq", "regional.assessments.dlq"} <= set(
        DECLARED
    )
    assert set(asyncio.run(describe(broker.bootstrap, DECLARED)).values()) == {2}
    configs = asyncio.run(topic_configs(broker.bootstrap, ["setka.events", "setka.events.dlq"]))
    assert configs["setka.events"]["retention.ms"] == "-1"
    assert configs["setka.events.dlq"]["retention.ms"] == str(topics.DEAD_LETTER_RETENTION_MS)

    again = setka("topics", "create", env=env)
    assert again.returncode == 0, again.stderr
    assert f"0 created, {len(DECLARED)} existing" in again.stdout


async def produce_to(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    """Publish in batches, as the outbox relay does (several records in one batch)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, f"message {n}".encode(), partition=partition)
            for partition, count in per_partition.items()
            for n in range(count)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """What a consumer of ``group`` that read this far and stopped leaves behind."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def consume_the_rest(bootstrap: str, group: str, partitions: list[TopicPartition]) -> int:
    """Read from the group's committed offsets to the end, then commit: a consumer catching up."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    read = 0
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                read += len(records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return read


def lag_of(document: dict[str, Any], group: str) -> dict[int, int]:
    entry = next(g for g in document["groups"] if g["group"] == group)
    return {p["partition"]: p["lag"] for p in entry["partitions"] if p["topic"] == topics.REGISTRY}


def test_status_lag_grows_while_a_group_is_stopped_and_drains_when_it_reads(broker: Any) -> None:
    env = clean_environment(**broker.environment)
    assert setka("topics", "create", env=env).returncode == 0
    registry = [TopicPartition(topics.REGISTRY, p) for p in range(3)]
    asyncio.run(produce_to(broker.bootstrap, topics.REGISTRY, {0: 4, 1: 4, 2: 4}))
    asyncio.run(commit(broker.bootstrap, "setka.events", dict(zip(registry, (1, 3, 4), strict=True))))

    def status(*extra: str) -> tuple[int, dict[str, Any]]:
        result = setka("status", "--only", "kafka", "--json", *extra, env=env)
        return result.returncode, as_json(result)

    code, document = status()
    assert code == 0
    assert document["kafka"]["reachable"] and document["kafka"]["topics"] == len(DECLARED)
    assert lag_of(document, "setka.events") == {0: 3, 1: 1, 2: 0}

    # the group is stopped; the registry goes on publishing
    asyncio.run(produce_to(broker.bootstrap, topics.REGISTRY, {0: 2, 1: 2, 2: 2}))
    code, document = status("--max-lag", "5")
    assert lag_of(document, "setka.events") == {0: 5, 1: 3, 2: 2}
    assert code == 1 and document["lag_exceeded"] == ["setka.events"]

    # it starts again and catches up
    assert asyncio.run(consume_the_rest(broker.bootstrap, "setka.events", registry)) == 10
    code, document = status("--max-lag", "5")
    assert code == 0 and lag_of(document, "setka.events") == {0: 0, 1: 0, 2: 0}
    text = setka("status", "--only", "kafka", env=env)
    assert text.returncode == 0
    assert (
        "setka.events  (" in text.stdout and "total 0" in text.stdout and "setka.registry[2]" in text.stdout
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def ready(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2.0) as client:
        try:
            return (await client.get(f"{url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False


async def answers(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2.0) as client:
        try:
            return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False


def test_status_tells_ready_from_not_ready_from_unreachable(
    broker: Any, databases: DatabaseFactory, running: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """A real registry (ready), a real gateway whose other subgraphs are down (not ready), and
    the events and analytics services not started (unreachable)."""
    env = clean_environment(
        **broker.environment,
        REGISTRY_DATABASE_URL=databases.create("cli_status", migrate="registry"),
        INTERNAL_TOKEN_SECRET=INTERNAL_SECRET,
    )
    registry = f"http://127.0.0.1:{env['REGISTRY_PORT']}"
    gateway = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    for name, url in (("events", env["EVENTS_PORT"]), ("analytics", env["ANALYTICS_PORT"])):
        env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{url}/graphql"
    env["GATEWAY_REGISTRY_URL"] = f"{registry}/graphql"
    for argv, log in (
        ([sys.executable, "-m", "services.registry", "serve"], "registry.log"),
        ([sys.executable, "-m", "gateway", "serve"], "gateway.log"),
    ):
        with (tmp_path / log).open("wb") as out:
            running.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    asyncio.run(eventually(lambda: ready(registry), timeout=90))
    asyncio.run(eventually(lambda: answers(gateway), timeout=90))

    result = setka("status", "--json", env=env)
    assert result.returncode == 1, result.stderr
    document = as_json(result)
    states = {c["name"]: (c["status"], c["url"]) for c in document["components"]}
    assert states == {
        "registry": ("ready", registry),
        "gateway": ("not ready", gateway),
        "events": ("unreachable", f"http://127.0.0.1:{env['EVENTS_PORT']}"),
        "analytics": ("unreachable", f"http://127.0.0.1:{env['ANALYTICS_PORT']}"),
    }
    checks = {c["name"]: c["checks"] for c in document["components"]}
    assert {"database", "kafka"} <= set(checks["registry"]) and set(checks["registry"].values()) == {"ok"}
    assert document["kafka"]["reachable"] and not document["ok"]

    text = setka("status", env=env)
    assert text.returncode == 1
    assert "NOT OK" in text.stdout and "unreachable" in text.stdout
    only_what_runs = setka("status", "--only", "registry", "--only", "kafka", env=env)
    assert only_what_runs.returncode == 0, only_what_runs.stdout
    assert only_what_runs.stdout.rstrip().endswith("OK")


def test_status_with_kafka_down_exits_1() -> None:
    env = clean_environment(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    result = setka("status", "--only", "kafka", "--timeout", "1", "--json", env=env)
    assert result.returncode == 1
    assert as_json(result)["kafka"]["reachable"] is False


def test_dlq_list_and_replay(broker: Any) -> None:
    env = clean_environment(**broker.environment)
    assert setka("topics", "create", env=env).returncode == 0

    misspelt = setka("dlq", "list", "setka.event", env=env)
    assert misspelt.returncode == 1
    assert "no topic setka.event.dlq" in misspelt.stderr and "setka.events.dlq" in misspelt.stderr

    empty = setka("dlq", "list", "setka.events", env=env)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("0 dead letters")

    async def letter() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            headers = {
                "ce_id": "e-1",
                "ce_type": "setka.events.activity.held.v1",
                "dlq_reason": "the activity 42 is not registered",
                "dlq_topic": topics.EVENTS,
                "dlq_partition": "1",
                "dlq_offset": "7",
            }
            await producer.send_and_wait(
                topics.dead_letter(topics.EVENTS),
                b'{"activity": 42}',
                key=b"activity-42",
                partition=0,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        finally:
            await producer.stop()

    asyncio.run(letter())
    listed = setka("dlq", "list", "setka.events.dlq", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (only,) = as_json(listed)["letters"]
    assert (only["position"], only["reason"], only["key"]) == (
        "0:0",
        "the activity 42 is not registered",
        "activity-42",
    )

    missing = setka("dlq", "replay", "setka.events", "--position", "0:99", env=env)
    assert missing.returncode == 1 and "no letter at position 0:99" in missing.stdout
    replayed = setka("dlq", "replay", "setka.events", "--reason", "not registered", env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 of 1 dead letters replayed" in replayed.stdout
    (back,) = asyncio.run(read_topic(broker.bootstrap, topics.EVENTS, at_least=1))
    headers = {k: (v or b"").decode() for k, v in back.headers}
    assert (back.key, back.value) == (b"activity-42", b'{"activity": 42}')
    assert headers["ce_id"] == "e-1" and headers["setka_redriven_from"] == "setka.events.dlq:0:0"
    assert not any(name.startswith("dlq_") for name in headers)


def test_replay_rebuild_rewinds_analytics_to_read_everything_again(
    broker: Any, databases: DatabaseFactory
) -> None:
    env = clean_environment(
        **broker.environment, ANALYTICS_DATABASE_URL=databases.create("cli_rebuild", migrate="analytics")
    )
    assert setka("topics", "create", env=env).returncode == 0
    registry = [TopicPartition(topics.REGISTRY, p) for p in range(3)]
    asyncio.run(produce_to(broker.bootstrap, topics.REGISTRY, {0: 2, 1: 1, 2: 3}))
    # analytics had read everything, and is stopped
    asyncio.run(commit(broker.bootstrap, "setka.analytics", dict(zip(registry, (2, 1, 3), strict=True))))

    rebuilt = setka("replay", "rebuild", "analytics", "--json", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert as_json(rebuilt)["group"] == "setka.analytics"
    status = setka("status", "--only", "kafka", "--json", "--group", "setka.analytics", env=env)
    assert lag_of(as_json(status), "setka.analytics") == {0: 2, 1: 1, 2: 3}


async def outbox_count(url: str, topic: str | None = None) -> int:
    if topic is None:
        (row,) = await fetch(url, "SELECT count(*) AS n FROM outbox")
    else:
        (row,) = await fetch(url, "SELECT count(*) AS n FROM outbox WHERE topic = $1", topic)
    return int(row["n"])


def test_replay_republish_refills_an_empty_kafka_from_the_outbox(seeded_registry: str, broker: Any) -> None:
    env = clean_environment(**broker.environment, REGISTRY_DATABASE_URL=seeded_registry)
    expected = asyncio.run(outbox_count(seeded_registry))
    assert expected > 500

    result = setka("replay", "republish", "registry", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert as_json(result)["republished"] == {"registry": expected}
    domain = asyncio.run(outbox_count(seeded_registry, topics.REGISTRY))
    assert expected - domain == 1, "the seed's audit entry goes to setka.audit"
    records = asyncio.run(read_topic(broker.bootstrap, topics.REGISTRY, at_least=domain))
    assert len(records) == domain
    assert len({dict(r.headers)["ce_id"] for r in records}) == domain


def test_sources_are_registered_granted_and_give_kafka_acls_on_their_own_topics(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = clean_environment(EVENTS_DATABASE_URL=databases.create("events"))
    source = "/regional/rcoi-39"
    added = setka(
        "sources",
        "add",
        source,
        "--region",
        "39",
        "--title",
        "РЦОИ",
        "--source-system",
        "rcoi-39",
        "--topic",
        "regional.assessments",
        "--grant-region",
        "39",
        "--json",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert as_json(added)["topics"] == ["regional.assessments"]
    refused = setka("sources", "grant", source, "--topic", "regional.assessments.dlq", env=env)
    assert refused.returncode == 1 and "[NOT_AN_INBOUND_TOPIC]" in refused.stderr, refused.stderr
    granted = setka("sources", "grant", source, "--topic", "regional.trainings", "--json", env=env)
    assert as_json(granted)["topics"] == ["regional.assessments", "regional.trainings"]
    user = yaml.safe_load(setka("sources", "acl", source, "--format", "strimzi", env=env).stdout)
    assert user["kind"] == "KafkaUser"
    assert [acl["resource"]["name"] for acl in user["spec"]["authorization"]["acls"]] == [
        "regional.assessments",
        "regional.trainings",
    ]
    compose = setka("sources", "acl", source, "--format", "compose", env=env).stdout
    assert (
        "source-regional-rcoi-39 topic literal Write,Describe regional.assessments regional.trainings"
        in compose
    )
    revoked = setka("sources", "revoke", source, "--topic", "regional.trainings", "--json", env=env)
    assert as_json(revoked)["topics"] == ["regional.assessments"]
    (listed,) = as_json(setka("sources", "list", "--region", "39", "--json", env=env))
    assert listed["ce_source"] == source and listed["regions"] == ["39"]
    # the source's bearer token for POST /facts: printed once, only its digest kept; revoked
    issued = as_json(setka("sources", "token", source, "--json", env=env))
    assert issued["token"].startswith("setka-src_") and issued["ce_source"] == source
    (listed,) = as_json(setka("sources", "list", "--region", "39", "--json", env=env))
    assert [t["id"] for t in listed["tokens"]] == [issued["token_id"]]
    assert listed["tokens"][0]["issued_by"].startswith("operator:") and issued["token"] not in str(listed)
    gone = setka("sources", "revoke-token", source, "--token-id", issued["token_id"], env=env)
    assert gone.returncode == 0 and "1 token(s)" in gone.stdout, gone.stderr
    (listed,) = as_json(setka("sources", "list", "--region", "39", "--json", env=env))
    assert listed["tokens"][0]["revoked_at"] is not None
    unknown = setka("sources", "token", "/regional/nobody", env=env)
    assert unknown.returncode == 1 and "[SOURCE_NOT_FOUND]" in unknown.stderr, unknown.stderr
    people = tmp_path / "people.csv"
    people.write_text(f"код;id\nP-1;{uuid.uuid4()}\n", encoding="utf-8")
    mapped = setka("sources", "map", str(people), "--kind", "educator", "--source-system", "courses", env=env)
    assert mapped.returncode == 0 and "1 mappings learned" in mapped.stdout, mapped.stderr
