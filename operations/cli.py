"""``setka``: the operator's command. ``setka --help`` lists the commands, ``setka <command> --help``
explains one with examples.

Exit status, for scripts: 0 done (or everything healthy), 1 a check failed or something could not
be done (the message says what), 2 the command line or the configuration is wrong; ``setka import``
adds 3: some rows were rejected (the report lists them). ``--json`` (where offered) prints one JSON
document on stdout; messages and progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import ConfigurationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

SERVICES = ("registry", "events", "analytics")
COMPONENTS = (*SERVICES, "gateway")
ROLES = ("regional_admin", "municipal_coordinator", "school_representative", "expert", "viewer")

DESCRIPTION = """\
Operate Setka: health and consumer lag, migrations, Kafka topics, demo data, imports, tokens,
dead letters, backups and replays.

Every command reads the environment variables the processes read (REGISTRY_DATABASE_URL,
KAFKA_BOOTSTRAP_SERVERS, GATEWAY_JWT_SECRET, ...; see the README's "Configuration"). Without them
it works against `make run` on this machine; in Compose run it in a container
(`docker compose exec gateway setka status`) or set the variables on the host."""

EPILOG = """\
examples:
  setka status                          is everything ready, how far behind is each consumer group
  setka migrate                         apply every service's migrations
  setka topics create                   create every declared topic and its dead-letter topic
  setka seed demo                       load the registry's demo data into an empty database
  setka import municipalities.csv --kind municipalities    your region's reference list, first
  setka import schools.xlsx --kind organizations
  setka import vpr-2025.xlsx --kind assessment_results --source /regional/rcoi-39
  setka contract check facts.jsonl      an integrator's messages, checked offline
  setka token issue --role regional_admin --region 39 --hours 8
  setka dlq list regional.assessments
  setka sources list                    registered regional sources and what each may send
  setka sources token /regional/rcoi-39 a source's bearer token for POST /facts (shown once)
  setka backup backups/                 back up every service's database
  setka replay republish                refill a new, empty Kafka from the services' outboxes

exit status: 0 done, 1 a check failed or the work could not be done, 2 a wrong command line or
configuration (import: 3 some rows rejected)."""


class Failure(Exception):
    """The command could not do its work; the message is for the operator. Exit status 1."""


class UsageError(Exception):
    """The request cannot be carried out as given (a role without its scope, …). Exit status 2."""


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def _bar(total: int | None, description: str, *, enabled: bool, unit: str = "it") -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        leave=False,
    )


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars: on a terminal, unless --no-progress."""
    wanted = not getattr(args, "no_progress_global", False) and not getattr(args, "no_progress", False)
    return wanted and sys.stderr.isatty()


# -- status -------------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from . import config, status

    overrides: dict[str, str] = {}
    for item in args.url:
        name, sep, url = item.partition("=")
        if not sep or name not in COMPONENTS or not url:
            raise UsageError(f"--url wants NAME=URL with NAME one of {', '.join(COMPONENTS)}, not {item!r}")
        overrides[name] = url
    only = set(args.only or (*COMPONENTS, "kafka"))
    urls = {n: u for n, u in config.component_urls(overrides=overrides).items() if n in only}
    kafka = config.kafka_target() if "kafka" in only else None
    report = asyncio.run(
        status.collect(
            urls,
            kafka,
            groups=args.group or None,
            timeout=args.timeout,
            max_lag=args.max_lag,
            local_broker_state=config.local_broker_state_file(),
            partitions=config.shared_settings().kafka_topic_partitions,
        )
    )
    if args.json:
        _print_json(report.as_json())
    else:
        print(status.render(report))
    return EXIT_OK if report.ok else EXIT_FAILED


# -- migrate, seed --------------------------------------------------------------------------------


def _wait_for_databases(targets: dict[str, str], seconds: float) -> None:
    from setka_runtime.cli import DatabaseUnreachable

    from . import config, database

    for name, url in targets.items():
        try:
            database.wait_for(url, seconds=seconds)
        except DatabaseUnreachable as error:
            raise Failure(
                f"{name}: its database {config.shown(url)} does not answer after {seconds:g}s: {error}"
            ) from error


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import config, database

    targets = config.database_targets(args.services or None)
    _wait_for_databases(targets, args.wait)
    results: list[database.Migrated] = []
    with _bar(len(targets), "migrating", enabled=_progress(args), unit="db") as bar:
        for name, url in targets.items():
            bar.set_postfix_str(name)
            try:
                results.append(database.migrate(name, url))
            except Exception as error:
                raise Failure(f"{name}: migration of {config.shown(url)} failed: {error}") from error
            bar.update(1)
    if args.json:
        _print_json({"migrated": [r.as_json() for r in results]})
        return EXIT_OK
    for result, url in zip(results, targets.values(), strict=True):
        if result.changed:
            print(f"{result.service}: {result.before or '(empty)'} → {result.after}  {config.shown(url)}")
        else:
            print(f"{result.service}: up to date at {result.after}  {config.shown(url)}")
    return EXIT_OK


def cmd_seed(args: argparse.Namespace) -> int:
    from . import config, database

    targets = config.database_targets(args.services or ["registry"])
    _wait_for_databases(targets, args.wait)
    loaded: dict[str, int] = {}
    for name, url in targets.items():
        database.migrate(name, url)
        _say(f"{name}: loading demo data…")
        loaded[name] = database.seed(name, url)
    if args.json:
        _print_json({"loaded": loaded})
        return EXIT_OK
    for name, count in loaded.items():
        if count:
            print(f"{name}: {count} demo records loaded")
        elif name == "events":
            print(
                "events: nothing loaded (already loaded, or the registry's networks have not reached it yet)"
            )
        else:
            print(f"{name}: nothing loaded (the database already has data, or there is no demo for it)")
    return EXIT_OK


# -- import ---------------------------------------------------------------------------------------


FACT_KINDS = ("assessment_results", "trainings", "deficits", "attendance")
"""Import kinds of regional facts: the events service imports them (the others, the registry)."""


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    from services.registry.importing.cli import arguments

    arguments(parser, other_kinds=FACT_KINDS)
    facts = parser.add_argument_group(f"regional facts ({', '.join(FACT_KINDS)})")
    facts.add_argument(
        "--source",
        default="/setka/import",
        metavar="CE_SOURCE",
        help="the regional system the file comes from, as its facts' ce_source (default: /setka/import)",
    )
    facts.add_argument(
        "--source-system",
        default="setka-import",
        metavar="NAME",
        help="the facts' source_system (default: setka-import)",
    )
    facts.add_argument(
        "--wait-applied",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the events service to apply the rows (default: 120)",
    )
    facts.add_argument("--json", action="store_true", help="one JSON document")


def cmd_import_facts(args: argparse.Namespace) -> int:
    from setka_runtime.db import Database
    from setka_runtime.spreadsheets import UnreadableFile

    from services.events import importing
    from services.events.settings import EventsSettings

    from . import config, database

    url = config.database_url("events")
    _wait_for_databases({"events": url}, args.wait)
    database.migrate("events", url)

    key = EventsSettings(database_url=url).snils_hmac_key

    async def go() -> importing.ImportReport:
        db = Database(url)
        try:
            return await importing.import_file(
                db,
                args.file,
                importing.ImportKind(args.kind),
                source=args.source,
                source_system=args.source_system,
                snils_key=key.get_secret_value() if key is not None else None,
                wait_seconds=args.wait_applied,
            )
        finally:
            await db.dispose()

    try:
        report = asyncio.run(go())
    except (UnreadableFile, importing.UnmappableHeader, OSError) as error:
        raise Failure(f"cannot import {args.file}: {error}") from error
    if args.json:
        _print_json(report.as_json())
    else:
        print(importing.render(report))
        if report.count("pending"):
            print("  rows not applied yet are kept: the events service applies them when it runs")
    return 3 if report.count("rejected") else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from services.registry.importing import cli as importing
    from services.registry.settings import RegistrySettings

    from . import config, database

    if args.kind in FACT_KINDS:
        return cmd_import_facts(args)
    url = config.database_url("registry")
    _wait_for_databases({"registry": url}, args.wait)
    database.migrate("registry", url)
    args.no_progress = not _progress(args)
    return importing.run(args, RegistrySettings(database_url=url))


# -- topics -----------------------------------------------------------------------------------------


def cmd_topics_create(args: argparse.Namespace) -> int:
    from . import config, topics

    settings = config.shared_settings()
    partitions = args.partitions or settings.kafka_topic_partitions
    replication = args.replication_factor or settings.kafka_replication_factor
    specs = topics.declared_topics(partitions=partitions, replication_factor=replication)
    kafka = config.kafka_target(settings)
    try:
        result = asyncio.run(topics.create_topics(kafka, specs))
    except topics.TopicsNotCreated as error:
        raise Failure(f"Kafka at {kafka.bootstrap_servers} refused some topics: {error}") from error
    if args.json:
        _print_json(result.as_json())
        return EXIT_OK
    for spec in result.created:
        config_text = ", ".join(f"{k}={v}" for k, v in spec.config.items())
        print(
            f"created   {spec.name}  ({spec.partitions} partitions, replication {spec.replication_factor}"
            + (f", {config_text}" if config_text else "")
            + ")"
        )
    for name in result.existing:
        print(f"existing  {name}")
    print(f"{len(result.created)} created, {len(result.existing)} existing, at {kafka.bootstrap_servers}")
    return EXIT_OK


# -- tokens ---------------------------------------------------------------------------------------


def cmd_token_issue(args: argparse.Namespace) -> int:
    from . import tokens

    try:
        issued = tokens.issue(
            roles=args.role,
            subject=args.subject,
            hours=args.hours,
            region=args.region,
            municipality=args.municipality,
            organization=args.organization,
            internal=args.internal,
        )
    except tokens.TokenRefused as error:
        raise UsageError(str(error)) from error
    if args.json:
        _print_json(issued.as_json())
    else:
        print(issued.token)
    return EXIT_OK


# -- contract check ---------------------------------------------------------------------------------


def cmd_contract_check(args: argparse.Namespace) -> int:
    from . import contract

    try:
        results = contract.check_file(Path(args.file))
    except OSError as error:
        raise Failure(f"cannot read {args.file}: {error}") from error
    bad = [result for result in results if result.reason]
    if args.json:
        _print_json({"messages": len(results), "refused": len(bad), "results": [r.as_json() for r in bad]})
    else:
        for result in bad:
            print(f"{result.where} ({result.event_id or 'no id'}): {result.reason}")
        print(f"{len(results)} messages, {len(results) - len(bad)} accepted, {len(bad)} refused")
    return EXIT_FAILED if bad or not results else EXIT_OK


# -- dead letters -----------------------------------------------------------------------------------


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from setka_runtime import deadletters

    from . import config, dlq

    try:
        found = asyncio.run(dlq.letters(config.kafka_target(), args.topic))
    except dlq.NoSuchTopic as error:
        raise Failure(str(error)) from error
    if args.json:
        _print_json({"topic": dlq.original_topic(args.topic), "letters": [x.as_json() for x in found]})
    else:
        deadletters.print_letters(found, full=args.full, out=sys.stdout)
    return EXIT_OK


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from setka_contracts.topics import dead_letter

    from . import config, dlq

    if not (args.position or args.reason or args.all):
        raise UsageError(
            "choose the letters: --position PARTITION:OFFSET (repeatable), --reason TEXT or --all"
        )
    kafka = config.kafka_target()
    with _bar(None, "re-publishing", enabled=_progress(args), unit="letter") as bar:
        try:
            result = asyncio.run(
                dlq.replay(
                    kafka,
                    args.topic,
                    positions=args.position,
                    reason=args.reason,
                    every=args.all,
                    progress=bar.update,
                )
            )
        except dlq.NoSuchTopic as error:
            raise Failure(str(error)) from error
    topic = dlq.original_topic(args.topic)
    if args.json:
        _print_json(
            {
                "topic": topic,
                "replayed": [letter.position for letter in result.done],
                "unknown_positions": result.unknown_positions,
                "letters": result.total,
            }
        )
    else:
        for letter in result.done:
            print(f"replayed {dead_letter(topic)}:{letter.position} → {topic}")
        for position in result.unknown_positions:
            print(f"no letter at position {position} of {dead_letter(topic)}")
        print(f"{len(result.done)} of {result.total} dead letters replayed")
    return EXIT_FAILED if result.unknown_positions or len(result.done) < len(result.chosen) else EXIT_OK


# -- backup, restore, replay ------------------------------------------------------------------------


def _backup_directory(directory: Path) -> Path:
    """Where a new backup goes: ``directory`` itself when it is new or empty, else a new
    directory in it named after the time (so a nightly job may always name the same place)."""
    from datetime import UTC, datetime

    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        return directory
    if not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a directory")
    return directory / datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def cmd_backup(args: argparse.Namespace) -> int:
    from . import backup, config

    targets = config.database_targets(args.services or None)
    _wait_for_databases(targets, args.wait)
    try:
        written = backup.backup(targets, _backup_directory(Path(args.directory)), progress=_progress(args))
    except backup.BackupError as error:
        raise Failure(f"backup failed: {error}") from error
    if args.json:
        _print_json({"backup": str(written), "services": list(targets)})
    else:
        print(f"backup of {', '.join(targets)} written to {written}")
        print(f"restore it with: setka restore {written}")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    _say(question)
    try:
        return input("type yes to go on: ").strip().lower() == "yes"
    except EOFError:
        return False


def cmd_restore(args: argparse.Namespace) -> int:
    source = Path(args.directory)
    if not source.exists():
        raise UsageError(f"{source} does not exist")
    from . import backup, config

    targets = config.database_targets(args.services or None)
    listing = ", ".join(f"{name} ({config.shown(url)})" for name, url in targets.items())
    if not args.yes and not _confirmed(f"restore replaces every row of: {listing}"):
        raise UsageError(
            "restore replaces the databases' data: stop the services, then pass --yes"
            " (or confirm on a terminal)"
        )
    _wait_for_databases(targets, args.wait)
    try:
        backup.restore(source, targets, progress=_progress(args))
    except backup.RestoreError as error:
        raise Failure(f"restore from {source}: {error}") from error
    if args.json:
        _print_json({"restored": list(targets), "from": str(source), "checked": True})
    else:
        print(f"restored {', '.join(targets)} from {source}: every table has the backup's rows")
    return EXIT_OK


def cmd_replay_republish(args: argparse.Namespace) -> int:
    from . import config, replay

    kafka = config.kafka_target()
    targets = config.database_targets(args.services or None)
    _wait_for_databases(targets, args.wait)
    counts: dict[str, int] = {}
    for name, url in targets.items():
        _say(f"{name}: re-publishing its outbox history to {kafka.bootstrap_servers}…")
        counts[name] = asyncio.run(replay.republish(url, kafka.bootstrap_servers, progress=_progress(args)))
    if args.json:
        _print_json({"republished": counts, "bootstrap_servers": kafka.bootstrap_servers})
    else:
        for name, count in counts.items():
            print(f"{name}: {count} events re-published")
    return EXIT_OK


def cmd_replay_rebuild(args: argparse.Namespace) -> int:
    from services.analytics.settings import AnalyticsSettings

    from . import config, replay

    url = config.database_url("analytics")
    _wait_for_databases({"analytics": url}, args.wait)
    try:
        done = replay.rebuild_analytics(
            AnalyticsSettings(database_url=url), group=args.group, wait_seconds=args.group_wait
        )
    except replay.GroupBusy as busy:
        raise Failure(f"nothing changed: {busy}") from busy
    if args.json:
        _print_json(
            {"group": done.group, "partitions_rewound": done.partitions, "inbox_claims_removed": done.claims}
        )
    else:
        print(
            f"{done.group}: {done.partitions} partitions rewound to their earliest offsets; read models "
            f"emptied, {done.claims} inbox claims removed. Start analytics: it reads every event again."
        )
    return EXIT_OK


# -- registered sources of regional facts -------------------------------------------------------------


GRANT_OPTIONS = (
    ("source_system", "--source-system", "a source_system name it may use"),
    ("topic", "--topic", "an inbound topic it may publish to (regional.assessments, …)"),
    ("region", "--grant-region", "a region it may write about"),
    ("organization", "--organization", "the id of one organization it may write about"),
)


def _grants(args: argparse.Namespace) -> dict[Any, list[str]]:
    from services.events.sources import GrantKind

    return {GrantKind(kind): list(getattr(args, f"grant_{kind}") or []) for kind, _, _ in GRANT_OPTIONS}


def _events_url(args: argparse.Namespace) -> str:
    from . import config, database

    url = config.database_url("events")
    _wait_for_databases({"events": url}, args.wait)
    database.migrate("events", url)
    return url


def _print_source(source: Any, *, as_json: bool) -> None:
    from . import sources

    document = sources.as_json(source)
    if as_json:
        _print_json(document)
        return
    print(f"{document['ce_source']}  (регион {document['region_code']}: {document['title']})")
    for kind, _, _ in GRANT_OPTIONS:
        print(f"  {kind + 's':15} {', '.join(document[kind + 's']) or '—'}")
    valid = [token["id"] for token in document["tokens"] if not token["revoked_at"]]
    revoked = len(document["tokens"]) - len(valid)
    print(f"  {'tokens':15} {', '.join(valid) or '—'}" + (f" ({revoked} revoked)" if revoked else ""))


def cmd_sources(args: argparse.Namespace) -> int:
    import asyncio as _asyncio

    from . import sources

    action = args.sources_action
    try:
        if action == "list":
            found = _asyncio.run(sources.listed(_events_url(args), args.region))
            if args.json:
                _print_json([sources.as_json(source) for source in found])
            for source in [] if args.json else found:
                _print_source(source, as_json=False)
            return EXIT_OK
        if action == "add":
            source = _asyncio.run(
                sources.add(
                    _events_url(args),
                    args.ce_source,
                    region_code=args.region,
                    title=args.title,
                    grants=_grants(args),
                )
            )
        elif action in ("grant", "revoke"):
            grants = _grants(args)
            if not any(grants.values()):
                raise UsageError(
                    "name what to " + action + ": --source-system, --topic, --grant-region or --organization"
                )
            source = _asyncio.run(
                sources.change(_events_url(args), args.ce_source, grants, revoke=action == "revoke")
            )
        elif action == "token":
            token, source = _asyncio.run(sources.issue_token(_events_url(args), args.ce_source))
            if args.json:
                _print_json(
                    {"ce_source": source.ce_source, "token": token, "token_id": str(source.tokens[-1].id)}
                )
            else:
                print(f"token of {source.ce_source} (give it to the system now; it is not shown again):")
                print(f"  {token}")
                print(f"its id (to revoke it alone): {source.tokens[-1].id}")
            return EXIT_OK
        elif action == "revoke-token":
            count, source = _asyncio.run(
                sources.revoke_tokens(_events_url(args), args.ce_source, args.token_id)
            )
            print(f"{count} token(s) of {source.ce_source} revoked: POST /facts refuses them from now on")
            return EXIT_OK
        elif action == "acl":
            source = _asyncio.run(sources.one(_events_url(args), args.ce_source))
            print(
                sources.acl(source, output=args.format, cluster=args.cluster, namespace=args.namespace),
                end="",
            )
            return EXIT_OK
        else:  # map
            from . import config

            key = config.shared_settings().snils_hmac_key
            count = _asyncio.run(
                sources.learn_mappings(
                    _events_url(args),
                    args.file,
                    kind=args.kind,
                    source_system=args.source_system,
                    snils_key=key.get_secret_value() if key is not None else None,
                )
            )
            print(f"{count} mappings learned")
            return EXIT_OK
    except sources.Refused as error:
        raise Failure(str(error)) from error
    _print_source(source, as_json=args.json)
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def _command(
    parent: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    examples: Sequence[str] = (),
) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) if examples else None
    parser: argparse.ArgumentParser = parent.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _group(parent: Any, name: str, *, help: str, description: str) -> Any:
    parser = parent.add_parser(
        name, help=help, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    actions = parser.add_subparsers(
        dest=f"{name}_action", metavar="ACTION", required=True, parser_class=_Parser
    )
    return actions


def _one_of(names: Sequence[str]) -> Callable[[str], str]:
    """An argument type for a name from ``names`` (``choices`` cannot be given to ``nargs='*'``)."""

    def convert(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    convert.__name__ = "name"
    return convert


def _services(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "services",
        nargs="*",
        type=_one_of(SERVICES),
        metavar="SERVICE",
        help=f"{what} (registry, events, analytics; default: every one)",
    )


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for a database to answer (default: 30)",
    )


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="setka",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--no-progress",
        dest="no_progress_global",
        action="store_true",
        help="no progress bars (they go to stderr, and only on a terminal)",
    )
    parser.add_argument("--version", action="version", version=f"setka {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    status = _command(
        commands,
        "status",
        cmd_status,
        help="health of every component and consumer lag per group and partition",
        description="Ask every component for /readyz (registry, events, analytics: database and Kafka;\n"
        "the gateway: the subgraphs), check Kafka, and show each consumer group's lag on every\n"
        "partition (end offset minus committed offset). Exit status 1 when anything is not ready,\n"
        "Kafka is unreachable, or a group is further behind than --max-lag.\n\n"
        "URLs come from the variables the processes read: GATEWAY_REGISTRY_URL (without /graphql),\n"
        "else REGISTRY_HOST and REGISTRY_PORT; GATEWAY_HOST and GATEWAY_PORT; make run's defaults\n"
        "otherwise (8001, 8002, 8003, 8000 on 127.0.0.1).",
        examples=[
            "setka status",
            "setka status --json | jq '.groups[] | {group, lag}'",
            "setka status --only kafka --group setka.analytics --max-lag 1000",
            "setka status --url gateway=http://gateway.internal:8000",
        ],
    )
    status.add_argument("--json", action="store_true", help="one JSON document")
    status.add_argument(
        "--only",
        action="append",
        choices=[*COMPONENTS, "kafka"],
        metavar="PART",
        help="check only this part (repeatable): registry, events, analytics, gateway, kafka",
    )
    status.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="GROUP",
        help="show this consumer group (repeatable; default: every group named setka.*)",
    )
    status.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="where a component is, instead of what the environment says (repeatable)",
    )
    status.add_argument(
        "--max-lag", type=int, metavar="N", help="exit status 1 when a group is more than N messages behind"
    )
    status.add_argument(
        "--timeout",
        type=_positive(float),
        default=5.0,
        metavar="SECONDS",
        help="for each request (default: 5)",
    )

    migrate = _command(
        commands,
        "migrate",
        cmd_migrate,
        help="apply each service's database migrations",
        description="Bring each service's database (REGISTRY_DATABASE_URL, EVENTS_DATABASE_URL,\n"
        "ANALYTICS_DATABASE_URL) to its latest schema. Safe to run again: a database that is up to\n"
        "date is left as it is. Do not run it while an older version of a service still serves.",
        examples=["setka migrate", "setka migrate registry", "setka migrate --json"],
    )
    _services(migrate, "the services to migrate")
    migrate.add_argument("--json", action="store_true", help="one JSON document")
    _wait(migrate)

    topics = _group(commands, "topics", help="Kafka topics", description="Kafka topics.")
    create = _command(
        topics,
        "create",
        cmd_topics_create,
        help="create every declared topic and its dead-letter topic",
        description="Create every topic the code declares (each service's topic, setka.audit, the\n"
        "regional.* topics) and each one's .dlq, with the declared configuration. Partitions and\n"
        "replication come from KAFKA_TOPIC_PARTITIONS and KAFKA_REPLICATION_FACTOR unless given.\n"
        "Topics that exist are left as they are. Safe to run again.",
        examples=["setka topics create", "setka topics create --partitions 6 --replication-factor 3"],
    )
    create.add_argument("--partitions", type=_positive(int), metavar="N", help="partitions of each new topic")
    create.add_argument(
        "--replication-factor", type=_positive(int), metavar="N", help="replicas of each new topic"
    )
    create.add_argument("--json", action="store_true", help="one JSON document")

    seed = _group(commands, "seed", help="demo data", description="Demo data.")
    demo = _command(
        seed,
        "demo",
        cmd_seed,
        help="load the synthetic demo into an empty registry",
        description="Migrate, then load the registry's synthetic demo (two regions' networks, some 70\n"
        "organizations, 560 educators) into an empty registry database; a registry that has any\n"
        "organization is left alone. The running registry publishes it; the other services follow.\n"
        "`setka seed demo events` loads the events service's demo year once the registry's networks\n"
        "have reached it; `setka seed demo analytics` the usual school holidays of the demo's regions.",
        examples=["setka seed demo"],
    )
    demo.add_argument(
        "services",
        nargs="*",
        type=_one_of(("registry", "events", "analytics")),
        metavar="SERVICE",
        help="registry (default), events or analytics",
    )
    demo.add_argument("--json", action="store_true", help="one JSON document")
    _wait(demo)

    importing = _command(
        commands,
        "import",
        cmd_import,
        help="import registry data, or regional facts (assessment results, trainings, …)",
        description="Import a CSV (UTF-8 or cp1251, ';' or ',') or XLSX file into the registry, every\n"
        "row through the same rules as the API, in all-or-nothing chunks. Rejected rows are listed\n"
        "with their line numbers and written to FILE.rejected.csv.\n\n"
        "exit status: 0 every row applied, 3 some rows rejected, 1 the file could not be imported\n"
        "or the import stopped part-way (run it again to finish).\n\n"
        "Regional facts (assessment_results, trainings, deficits, attendance) go to the events\n"
        "service: each row becomes a fact applied by the same consumer as a fact from Kafka (same\n"
        "rules, versions, grants and reasons); the report lists each row not applied by its line.\n"
        "The same file again changes nothing. The events service must run to apply them.",
        examples=[
            "setka import municipalities.csv --kind municipalities",
            "setka import schools.xlsx --kind organizations --dry-run",
            "setka import staff.csv --kind educators",
            "setka import members.csv --kind memberships --report rejected.csv",
            "setka import vpr-2025.xlsx --kind assessment_results --source /regional/rcoi-39",
            "setka import kpk.csv --kind trainings --source /regional/iro-39 --source-system iro-kpk",
        ],
    )
    if _command_of(argv) == "import":
        _import_arguments(importing)
    _wait(importing)

    sources_group = _group(
        commands,
        "sources",
        help="registered sources of regional facts: who may send what",
        description="Sources of regional facts.",
    )

    def _grant_arguments(parser: argparse.ArgumentParser) -> None:
        for kind, option, text in GRANT_OPTIONS:
            parser.add_argument(
                option, dest=f"grant_{kind}", action="append", metavar="VALUE", help=f"{text} (repeatable)"
            )

    listing_sources = _command(
        sources_group,
        "list",
        cmd_sources,
        help="the registered sources and their grants",
        description="List the registered sources (every region's, or --region's) with their grants.",
        examples=["setka sources list", "setka sources list --region 39 --json"],
    )
    listing_sources.add_argument("--region", help="only this region's sources")
    listing_sources.add_argument("--json", action="store_true", help="one JSON document")
    _wait(listing_sources)
    adding = _command(
        sources_group,
        "add",
        cmd_sources,
        help="register a regional system as a source",
        description="Register a source: the ce_source its messages carry, the region whose admin manages\n"
        "it, and its first grants. A fact from a source that is not registered, or outside its\n"
        "grants, is dead-lettered with the reason (docs/integrators.md, «Источники и права»).",
        examples=[
            "setka sources add /regional/rcoi-39 --region 39 --title 'РЦОИ' --source-system rcoi-39 \\\n"
            "      --topic regional.assessments --grant-region 39",
        ],
    )
    adding.add_argument("ce_source", metavar="CE_SOURCE", help="e.g. /regional/rcoi-39")
    adding.add_argument("--region", required=True, help="the region whose admin manages it")
    adding.add_argument("--title", required=True, help="what system it is")
    _grant_arguments(adding)
    adding.add_argument("--json", action="store_true", help="one JSON document")
    _wait(adding)
    for verb, text in (("grant", "allow a source more"), ("revoke", "take grants away from a source")):
        changing = _command(
            sources_group,
            verb,
            cmd_sources,
            help=text,
            description=f"{text[0].upper()}{text[1:]}: source_system names, topics, regions, organizations.",
            examples=[f"setka sources {verb} /regional/rcoi-39 --topic regional.trainings"],
        )
        changing.add_argument("ce_source", metavar="CE_SOURCE")
        _grant_arguments(changing)
        changing.add_argument("--json", action="store_true", help="one JSON document")
        _wait(changing)
    issuing = _command(
        sources_group,
        "token",
        cmd_sources,
        help="issue a bearer token a source sends facts to POST /facts with",
        description="Issue a new bearer token (setka-src_…) of a registered source and print it once:\n"
        "Setka keeps only its digest. The token sends that source's facts only, within its grants.\n"
        "The source's other tokens stay valid until revoked (switch the system over, then revoke\n"
        "the old one). Audited as the operator's.",
        examples=["setka sources token /regional/rcoi-39", "setka sources token /regional/rcoi-39 --json"],
    )
    issuing.add_argument("ce_source", metavar="CE_SOURCE")
    issuing.add_argument("--json", action="store_true", help="one JSON document")
    _wait(issuing)
    revoking = _command(
        sources_group,
        "revoke-token",
        cmd_sources,
        help="revoke a source's bearer tokens (POST /facts refuses them at once)",
        description="Revoke one token of a source (--token-id, as `setka sources list --json` shows it)\n"
        "or every token it has; the next request with it is refused (401). Audited as the operator's.",
        examples=[
            "setka sources revoke-token /regional/rcoi-39",
            "setka sources revoke-token /regional/rcoi-39 --token-id <id>",
        ],
    )
    revoking.add_argument("ce_source", metavar="CE_SOURCE")
    revoking.add_argument("--token-id", help="only this token (default: every token of the source)")
    _wait(revoking)
    acl = _command(
        sources_group,
        "acl",
        cmd_sources,
        help="the Kafka ACL template of a source (Strimzi KafkaUser or the compose broker's)",
        description="Print the Kafka user of a source with literal Write/Describe ACLs on its granted\n"
        "topics only (never a .dlq topic): a Strimzi KafkaUser to apply, or lines for the ACLS list\n"
        "of docker-compose.yml's kafka-acls job.",
        examples=[
            "setka sources acl /regional/rcoi-39 --format strimzi > rcoi-39-user.yaml",
            "setka sources acl /regional/rcoi-39 --format compose",
        ],
    )
    acl.add_argument("ce_source", metavar="CE_SOURCE")
    acl.add_argument("--format", choices=("strimzi", "compose"), default="strimzi")
    acl.add_argument(
        "--cluster", default="setka-kafka", help="the Strimzi Kafka cluster (default: setka-kafka)"
    )
    acl.add_argument("--namespace", help="the KafkaUser's namespace")
    _wait(acl)
    mapping = _command(
        sources_group,
        "map",
        cmd_sources,
        help="learn a system's own ids (or СНИЛС) of organizations or educators",
        description="Read a CSV of two columns with a header — the system's own id (or a СНИЛС) and\n"
        "Setka's id — and learn the mappings facts of version 2 are resolved by. A СНИЛС is kept\n"
        "only as its keyed hash (SNILS_HMAC_KEY).",
        examples=[
            "setka sources map people.csv --kind educator --source-system kripkro-courses",
            "setka sources map snils.csv --kind educator_snils",
        ],
    )
    mapping.add_argument("file", type=Path, metavar="FILE")
    mapping.add_argument("--kind", required=True, choices=("organization", "educator", "educator_snils"))
    mapping.add_argument("--source-system", default="", help="whose ids they are (not for educator_snils)")
    _wait(mapping)

    token = _group(commands, "token", help="tokens for portals and regional systems", description="Tokens.")
    issue = _command(
        token,
        "issue",
        cmd_token_issue,
        help="print a signed token for a role and its scope",
        description="Print a token the gateway accepts (HS256, signed with GATEWAY_JWT_SECRET: run it\n"
        "where that variable is the gateway's), or with --internal an internal token for the\n"
        "services (signed with INTERNAL_TOKEN_SECRET). A regional admin needs --region ('*': every\n"
        "region), a municipal coordinator --municipality, a school representative --organization.\n"
        "A token cannot be revoked: keep lifetimes short; changing the secret invalidates every one.",
        examples=[
            "setka token issue --role regional_admin --region 39 --subject ivanova --hours 8",
            "setka token issue --role school_representative --organization <organization id>",
            "setka token issue --role viewer --subject portal --hours 24 --json",
        ],
    )
    issue.add_argument(
        "--role",
        action="append",
        required=True,
        choices=ROLES,
        metavar="ROLE",
        help=f"{', '.join(ROLES[:-1])} or {ROLES[-1]} (repeatable)",
    )
    issue.add_argument("--region", help="region code of a regional admin ('*': every region)")
    issue.add_argument("--municipality", metavar="ID", help="municipality id of a municipal coordinator")
    issue.add_argument("--organization", metavar="ID", help="organization id of a school representative")
    issue.add_argument("--subject", default="operator", help="who the token is for (default: operator)")
    issue.add_argument(
        "--hours",
        type=_positive(float),
        default=None,
        help="lifetime (default: 12; internal: 5 minutes); at most GATEWAY_JWT_MAX_LIFETIME_HOURS (24)",
    )
    issue.add_argument("--internal", action="store_true", help="an internal token (INTERNAL_TOKEN_SECRET)")
    issue.add_argument("--json", action="store_true", help="the token with its roles, scope and expiry")

    contract = _group(
        commands, "contract", help="check messages against the inbound contract", description="Contracts."
    )
    contract_check = _command(
        contract,
        "check",
        cmd_contract_check,
        help="check a file of CloudEvents offline, with the consumer's rules and reasons",
        description="Read FILE (a JSON array of CloudEvents in the JSON format, or one per line) and\n"
        "check each as the events service's consumer would: envelope, strict JSON, the contract of\n"
        "its type. Prints the reason for each message that would be dead-lettered. Rules that need\n"
        "Setka's data (is the school registered, the source's grant) are checked on arrival.\n"
        "Exit status 1 when any message is refused.",
        examples=["setka contract check facts.jsonl", "setka contract check batch.json --json"],
    )
    contract_check.add_argument("file", metavar="FILE", help="JSON lines, or a JSON array of events")
    contract_check.add_argument("--json", action="store_true", help="one JSON document")

    dlq = _group(commands, "dlq", help="dead-letter topics", description="Dead-letter topics.")
    listing = _command(
        dlq,
        "list",
        cmd_dlq_list,
        help="what a topic's consumers gave up on",
        description="Read TOPIC.dlq from its beginning, without a consumer group (nobody's offsets\n"
        "move), and print the count by reason, then every letter: its position (partition:offset),\n"
        "reason, key, original headers and body.",
        examples=["setka dlq list regional.assessments", "setka dlq list setka.registry --json"],
    )
    listing.add_argument("topic", help="the original topic (or its .dlq)")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.add_argument("--full", action="store_true", help="whole bodies")
    again = _command(
        dlq,
        "replay",
        cmd_dlq_replay,
        help="publish chosen dead letters back to their topic",
        description="Publish the chosen letters back to the topic they came from, with their original\n"
        "key, body and headers. Fix the cause first. An event is applied once however often it is\n"
        "replayed. Exit status 1 when a --position names no letter.",
        examples=[
            "setka dlq replay regional.assessments --position 0:12 --position 2:40",
            "setka dlq replay regional.assessments --reason 'not registered'",
            "setka dlq replay setka.registry --all",
        ],
    )
    again.add_argument("topic", help="the original topic (or its .dlq)")
    again.add_argument("--position", action="append", default=[], metavar="PARTITION:OFFSET")
    again.add_argument("--reason", metavar="TEXT", help="every letter whose reason contains TEXT")
    again.add_argument("--all", action="store_true", help="every letter")
    again.add_argument("--json", action="store_true", help="one JSON document")

    backup = _command(
        commands,
        "backup",
        cmd_backup,
        help="back up each service's database",
        description="Write a consistent backup of each chosen service's database into DIRECTORY, while\n"
        "the services keep running: one snapshot per database (PostgreSQL: pg_dump of an exported\n"
        "snapshot; SQLite: its online backup API), with a manifest of checksums, the schema revision\n"
        "and every table's row count, which `setka restore` checks. DIRECTORY may be new or empty;\n"
        "in a directory that already has backups a new one is made, named after the time (UTC).",
        examples=[
            "setka backup backups/             # backups/ empty: the backup is backups/ itself",
            "setka backup /var/backups/setka   # nightly: /var/backups/setka/<time>/",
            "setka backup backups/ registry",
        ],
    )
    backup.add_argument(
        "directory",
        metavar="DIRECTORY",
        help="a new or empty directory; in a directory that has backups, a new one named after the time",
    )
    _services(backup, "the services to back up")
    backup.add_argument("--json", action="store_true", help="one JSON document")
    _wait(backup)

    restore = _command(
        commands,
        "restore",
        cmd_restore,
        help="restore each service's database from a backup, and check it",
        description="Replace each chosen service's data with the backup's and check the result against\n"
        "the backup. Stop the services first. Exit status 1 when the check fails.",
        examples=[
            "setka restore /var/backups/setka/2026-01-31T02-00-00Z",
            "setka restore backups/ registry --yes",
        ],
    )
    restore.add_argument("directory", metavar="DIRECTORY", help="a backup written by `setka backup`")
    _services(restore, "the services to restore")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.add_argument("--json", action="store_true", help="one JSON document")
    _wait(restore)

    replay = _group(
        commands, "replay", help="rebuild from the topics, or refill Kafka", description="Replays."
    )
    rebuild = _command(
        replay,
        "rebuild",
        cmd_replay_rebuild,
        help="rebuild a service's read models from the topics",
        description="Empty the analytics read models and rewind its consumer group to the earliest\n"
        "offsets, so that it reads every event again when it starts. Stop analytics first; the\n"
        "audit trail is kept.",
        examples=["setka replay rebuild analytics"],
    )
    rebuild.add_argument("service", choices=("analytics",), help="analytics (the one with read models)")
    rebuild.add_argument("--group", help="the consumer group to rewind (default: setka.analytics)")
    rebuild.add_argument("--json", action="store_true", help="one JSON document")
    rebuild.add_argument(
        "--group-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the group's other members to leave (default: 60)",
    )
    _wait(rebuild)
    republish = _command(
        replay,
        "republish",
        cmd_replay_republish,
        help="re-publish the outbox history into a new, empty Kafka",
        description="Create the declared topics, then publish every event each service's outbox has\n"
        "ever held, in order, to KAFKA_BOOTSTRAP_SERVERS: how a new cluster (or the local broker\n"
        "after a restart) gets its topics back. Consumers absorb events they have seen.",
        examples=["setka replay republish", "KAFKA_BOOTSTRAP_SERVERS=new-kafka:9092 setka replay republish"],
    )
    _services(republish, "the services whose outbox to re-publish")
    republish.add_argument("--json", action="store_true", help="one JSON document")
    _wait(republish)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("setka")
    except PackageNotFoundError:
        return "(not installed)"


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    from pydantic import ValidationError

    try:
        return int(args.handler(args))
    except UsageError as error:
        _say(f"setka: {error}")
        return EXIT_USAGE
    except (ValidationError, ConfigurationError) as error:
        _say(f"setka: the configuration is wrong: {error}")
        return EXIT_USAGE
    except Failure as error:
        _say(f"setka: {error}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say("setka: interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:
        _say(f"setka {args.command}: {_explain(error)}")
        return EXIT_FAILED


def _explain(error: BaseException) -> str:
    """What went wrong, in a line: unreachable Kafka and databases are the usual causes."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    text = str(error).strip() or type(error).__name__
    if isinstance(error, KafkaConnectionError):
        return f"Kafka cannot be reached ({text}); check KAFKA_BOOTSTRAP_SERVERS"
    if isinstance(error, KafkaError):
        return f"Kafka refused: {text}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {text}"
    return f"{type(error).__name__}: {text}"


def main(argv: Sequence[str] | None = None) -> None:
    raise SystemExit(run(argv))


if __name__ == "__main__":
    main()
