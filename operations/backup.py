"""Backup and restore of every service's own database, consistent and checked.

A backup is a directory::

    manifest.json        written last: a directory without it is not a backup
    registry.dump        PostgreSQL: pg_dump's custom format
    events.sqlite3       SQLite: a copy made with SQLite's online backup API
    ...

Each database is copied as one consistent snapshot while its service keeps writing:

* PostgreSQL — a read-only REPEATABLE READ transaction exports its snapshot; ``pg_dump`` dumps
  exactly that snapshot (``--snapshot``) while the same transaction counts every table's rows
  and reads the Alembic revision, so the counts describe the dump exactly.
* SQLite — the online backup API copies the pages under one read transaction (writers go on, in
  WAL mode); the counts are read from the copy.

The manifest keeps, per service: the kind, the file, its sha256 and size, the Alembic revision
and the row count of every table.

:func:`restore` refuses a backup whose files do not match their checksums before it changes
anything; then it restores each database and checks that its tables, and the rows in each,
are the manifest's (:class:`RestoreError` otherwise):

* PostgreSQL — in ONE transaction (``psql --single-transaction``): the schemas of the dump
  (``public``) are dropped with everything in them and the dump is replayed into them
  (``pg_restore --no-owner --no-privileges``, as the connecting user). A failure leaves the
  database as it was. Every connection's locks are waited for at most ``lock_timeout`` (30 s):
  stop the services first.
* SQLite — SQLite's backup API writes the copy into the target file in one transaction (a
  reader never sees half of it, and the target's WAL is handled by SQLite itself); a missing
  file is created. Stop the service first.

The PostgreSQL tools are looked for in ``$SETKA_PG_BIN``, then the newest
``/usr/lib/postgresql/<version>/bin`` (pg_dump must be at least as new as the server), then on
the ``PATH``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from tqdm import tqdm

MANIFEST = "manifest.json"
PRIVATE = 0o600
"""Mode of a backup's files: they hold personal data."""
FORMAT = 1
SUFFIX = {"postgresql": "dump", "sqlite": "sqlite3"}

_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema')"


class BackupError(RuntimeError):
    """The backup could not be made (nothing usable was left behind)."""


class RestoreError(RuntimeError):
    """The backup is damaged or does not fit the targets, or the restored data differ from it."""


# -- helpers ------------------------------------------------------------------------------------


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from sync code, in a thread of its own when an event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def kind_of(url: str) -> str:
    """``postgresql`` or ``sqlite``, whatever the driver in the URL."""
    backend = make_url(url).get_backend_name()
    if backend not in SUFFIX:
        raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")
    return backend


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def pg_tool(name: str) -> str:
    """Where the PostgreSQL client program ``name`` is (see the module's docstring)."""
    candidates: list[Path] = []
    if configured := os.environ.get("SETKA_PG_BIN"):
        candidates.append(Path(configured) / name)
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent))
    candidates.extend(directory / name for directory in reversed(installed))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client or set SETKA_PG_BIN")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it (not the argv)."""
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, environment


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _table_name(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


def _revision(revisions: dict[str, list[str]], service: str) -> str | None:
    """The Alembic revision of ``service`` (its table ``alembic_version_<service>``), else of the
    only version table there is."""
    rows = revisions.get(f"alembic_version_{service}")
    if rows is None and len(revisions) == 1:
        rows = next(iter(revisions.values()))
    return ",".join(sorted(rows)) if rows else None


# -- PostgreSQL ---------------------------------------------------------------------------------


async def _pg_tables(connection: Any) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        f"SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN {_SYSTEM_SCHEMAS} "
        "ORDER BY schemaname, tablename"
    )
    return [(row["schemaname"], row["tablename"]) for row in rows]


async def _pg_census(connection: Any) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Row counts of every table, and the rows of the Alembic version tables."""
    counts: dict[str, int] = {}
    revisions: dict[str, list[str]] = {}
    for schema, table in await _pg_tables(connection):
        qualified = f"{_quote(schema)}.{_quote(table)}"
        counts[_table_name(schema, table)] = int(
            await connection.fetchval(f"SELECT count(*) FROM {qualified}")
        )
        if table.startswith("alembic_version"):
            revisions[table] = [
                row[0] for row in await connection.fetch(f"SELECT version_num FROM {qualified}")
            ]
    return counts, revisions


async def _backup_postgres(service: str, url: str, file: Path) -> dict[str, Any]:
    pg_dump = pg_tool("pg_dump")
    uri, environment = _libpq(url)
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        snapshot = connection.transaction(isolation="repeatable_read", readonly=True)
        await snapshot.start()
        try:
            exported = await connection.fetchval("SELECT pg_export_snapshot()")
            counts, revisions = await _pg_census(connection)
            process = await asyncio.create_subprocess_exec(
                pg_dump,
                "--format=custom",
                f"--snapshot={exported}",
                f"--file={file}",
                f"--dbname={uri}",
                env=environment,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, errors = await process.communicate()
            if process.returncode != 0:
                raise BackupError(f"pg_dump of {service} failed: {errors.decode(errors='replace').strip()}")
        finally:
            await snapshot.rollback()
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return {"tables": counts, "revision": _revision(revisions, service), "server_version": version}


async def _pg_counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        counts, _ = await _pg_census(connection)
    finally:
        await connection.close()
    return counts


def _restore_postgres(service: str, url: str, file: Path, tables: dict[str, int]) -> None:
    schemas = sorted({"public", *(name.split(".", 1)[0] for name in tables if "." in name)})
    preamble = "SET lock_timeout = '30s';\n" + "".join(
        f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE;\n" for schema in schemas
    )
    preamble += "CREATE SCHEMA public;\n"  # pg_dump leaves the standard schema to exist already
    uri, environment = _libpq(url)
    with tempfile.TemporaryDirectory(prefix="setka-restore-") as scratch:
        head = Path(scratch) / "preamble.sql"
        head.write_text(preamble)
        replay = subprocess.Popen(
            [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        apply = subprocess.run(
            [
                pg_tool("psql"),
                "--no-psqlrc",
                "--quiet",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--file={head}",
                "--file=-",
                f"--dbname={uri}",
            ],
            stdin=replay.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            check=False,
        )
        assert replay.stdout is not None
        replay.stdout.close()
        replay_errors = replay.stderr.read() if replay.stderr else b""
        replay.wait()
    if replay.returncode != 0:
        raise RestoreError(
            f"{service}: pg_restore could not read {file.name}: {replay_errors.decode(errors='replace')}"
        )
    if apply.returncode != 0:
        raise RestoreError(
            f"{service}: restoring into {_shown(url)} failed and was rolled back: "
            f"{apply.stderr.decode(errors='replace').strip()}"
        )
    _check(service, tables, _run(_pg_counts(url)))


# -- SQLite -------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError(f"{url}: an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_census(connection: sqlite3.Connection) -> tuple[dict[str, int], dict[str, list[str]]]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    counts: dict[str, int] = {}
    revisions: dict[str, list[str]] = {}
    for name in names:
        counts[name] = int(connection.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])
        if name.startswith("alembic_version"):
            revisions[name] = [
                row[0] for row in connection.execute(f"SELECT version_num FROM {_quote(name)}")
            ]
    return counts, revisions


def _backup_sqlite(service: str, url: str, file: Path) -> dict[str, Any]:
    path = _sqlite_path(url)
    if not path.is_file():
        raise BackupError(f"{service}: no database at {path}")
    source = sqlite3.connect(path, timeout=30)
    try:
        copy = sqlite3.connect(file)
        try:
            source.backup(copy)  # one read transaction: a consistent snapshot while others write
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            counts, revisions = _sqlite_census(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return {
        "tables": counts,
        "revision": _revision(revisions, service),
        "server_version": sqlite3.sqlite_version,
    }


def _restore_sqlite(service: str, url: str, file: Path, tables: dict[str, int]) -> None:
    path = _sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(path, timeout=30)
        try:
            source.backup(target)  # the whole file replaced in one transaction of the target
            counts, _ = _sqlite_census(target)
        except sqlite3.Error as exc:
            raise RestoreError(f"{service}: restoring into {path} failed: {exc}") from exc
        finally:
            target.close()
    finally:
        source.close()
    _check(service, tables, counts)


# -- the manifest and the check -----------------------------------------------------------------


def _check(service: str, expected: dict[str, int], found: dict[str, int]) -> None:
    problems = [
        f"{table}: {found.get(table, 'no table')} rows, the backup has {count}"
        for table, count in expected.items()
        if found.get(table) != count
    ]
    problems += [f"{table}: not in the backup" for table in found if table not in expected]
    if problems:
        raise RestoreError(
            f"{service}: the restored database differs from the backup: " + "; ".join(problems)
        )


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in the directory ``source`` (or of ``source`` itself)."""
    path = source if source.name == MANIFEST else source / MANIFEST
    if not path.is_file():
        raise RestoreError(f"{path.parent}: no {MANIFEST}, so not a complete backup")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise RestoreError(f"{path}: not a readable manifest ({exc})") from exc
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("services"), dict):
        raise RestoreError(f"{path}: not a Setka backup manifest of format {FORMAT}")
    return manifest


def verify(source: Path, services: list[str] | None = None) -> dict[str, Any]:
    """Check the files of ``services`` (default: all) against the manifest's sizes and sha256;
    return the manifest. Raises :class:`RestoreError` naming every damaged or missing file."""
    manifest = read_manifest(source)
    directory = source.parent if source.name == MANIFEST else source
    entries = manifest["services"]
    wanted = services if services is not None else list(entries)
    problems = [
        f"{name}: not in this backup (it has {', '.join(entries)})" for name in wanted if name not in entries
    ]
    for name in wanted:
        entry = entries.get(name)
        if entry is None:
            continue
        own = f"{name}.{SUFFIX.get(entry.get('kind'), '')}"
        if entry.get("file") != own:
            # a manifest may only name the backup's own files, in its own directory
            problems.append(f"{name}: the manifest names {str(entry.get('file'))[:200]!r}, not {own!r}")
            continue
        file = directory / own
        if not file.is_file():
            problems.append(f"{name}: {entry['file']} is missing")
        elif file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            problems.append(f"{name}: {entry['file']} does not match its checksum (damaged or altered)")
    if problems:
        raise RestoreError("the backup is refused, nothing was restored: " + "; ".join(problems))
    return manifest


# -- the operator's functions -------------------------------------------------------------------


def backup(targets: dict[str, str], destination: Path, *, progress: bool = True) -> Path:
    """Back up each service's database (``targets``: service name → database URL) into the new
    or empty directory ``destination``; return it. See the module's docstring."""
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination}: not an empty directory; a backup goes into a new one")
    kinds = {name: kind_of(url) for name, url in targets.items()}
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    services: dict[str, dict[str, Any]] = {}
    bar = tqdm(targets.items(), desc="backup", unit="db", disable=not progress)
    for name, url in bar:
        bar.set_postfix_str(name)
        file = destination / f"{name}.{SUFFIX[kinds[name]]}"
        partial = file.with_name(file.name + ".partial")
        if kinds[name] == "postgresql":
            found = _run(_backup_postgres(name, url, partial))
        else:
            found = _backup_sqlite(name, url, partial)
        partial.chmod(PRIVATE)  # personal data: for the operator's eyes only
        partial.replace(file)
        services[name] = {
            "kind": kinds[name],
            "database": _shown(url),
            "file": file.name,
            "bytes": file.stat().st_size,
            "sha256": _sha256(file),
            "alembic_revision": found["revision"],
            "server_version": found["server_version"],
            "tables": found["tables"],
        }
    bar.close()
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "services": services}
    partial_manifest = destination / (MANIFEST + ".partial")
    partial_manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    partial_manifest.chmod(PRIVATE)
    partial_manifest.replace(destination / MANIFEST)
    return destination


def restore(source: Path, targets: dict[str, str], *, progress: bool = True) -> None:
    """Restore each service of ``targets`` (service name → database URL) from the backup in
    ``source``, after checking every file's checksum; then check each restored database against
    the manifest. Raises :class:`RestoreError`. The services must be stopped."""
    source = Path(source)
    manifest = verify(source, list(targets))
    directory = source.parent if source.name == MANIFEST else source
    for name, url in targets.items():
        if kind_of(url) != manifest["services"][name]["kind"]:
            raise RestoreError(
                f"{name}: the backup is of {manifest['services'][name]['kind']}, the target is "
                f"{kind_of(url)}; nothing was restored"
            )
    bar = tqdm(targets.items(), desc="restore", unit="db", disable=not progress)
    for name, url in bar:
        bar.set_postfix_str(name)
        entry = manifest["services"][name]
        file = directory / entry["file"]
        if entry["kind"] == "postgresql":
            _restore_postgres(name, url, file, entry["tables"])
        else:
            _restore_sqlite(name, url, file, entry["tables"])
    bar.close()
