"""Running an import: rows in chunks, each chunk one transaction.

An importer that has ``apply_many`` applies a chunk's rows together through the batch versions
of the domain functions (the same rules, bulk reads and writes); when a rule refuses any row,
the chunk is redone a row at a time, each row in its own savepoint. A chunk commits whole or not
at all, so a crash leaves the file imported up to some chunk boundary and nothing half-written;
the upserts make a re-run of the same file change nothing where nothing differs. A row a rule
refuses rolls back to its savepoint and is reported with its line number; the rest of the chunk
goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from asyncpg.exceptions import IntegrityConstraintViolationError
from setka_runtime import audit, heap
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.spreadsheets import SourceRow
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .mapping import HeaderMap, ImportKind

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1000

Parsed = TypeVar("Parsed")


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


@dataclass(frozen=True)
class Rejection:
    """A row the import did not apply, and why, in words an operator can act on; ``code`` is the
    rule's stable name, ``column`` the file's header of the cell at fault when it is known."""

    line: int
    reason: str
    field: str | None = None
    key: str | None = None
    code: str = "ROW_REJECTED"
    column: str | None = None


@dataclass
class ImportSummary:
    kind: ImportKind
    dry_run: bool = False
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    committed_through_line: int = 0
    """The last line of the last committed chunk: where a stopped import had got to."""

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


class ImportStopped(Exception):
    """The import stopped part-way; rows up to ``summary.committed_through_line`` are committed."""

    def __init__(self, summary: ImportSummary, cause: BaseException) -> None:
        super().__init__(f"stopped after line {summary.committed_through_line}: {cause}")
        self.summary = summary
        self.cause = cause


@dataclass(frozen=True)
class Row(Generic[Parsed]):
    line: int
    value: Parsed


class RowImporter(Protocol[Parsed]):
    """What one import kind knows: how to read a record, identify it, and upsert it."""

    def parse(self, record: dict[str, str]) -> Parsed:
        """Typed values from the mapped cells; raises :class:`DomainError` for a bad cell."""
        ...

    def keys(self, value: Parsed) -> Sequence[tuple[str, Hashable]]:
        """(what, value) pairs that identify the row; a second row with one of them is a duplicate."""
        ...

    async def prepare(self, session: AsyncSession, rows: Sequence[Parsed]) -> None:
        """Look up what a chunk refers to, in a few queries rather than one per row."""
        ...

    async def apply(self, session: AsyncSession, value: Parsed) -> Outcome:
        """Upsert one row through the domain functions (so every change records its event)."""
        ...


_KEY_WORDS = {
    "inn": "ИНН",
    "school_code": "код ОО",
    "organization_inn": "ИНН ОО",
    "organization_code": "код ОО",
    "external_id": "идентификатор",
    "full_name": "наименование",
}


_YIELD_EVERY = 16
"""While a chunk is applied, reading the next rows lets it go on every this many rows."""


async def run_import(
    db: Database,
    importer: RowImporter[Any],
    header: HeaderMap,
    rows: Iterable[SourceRow],
    *,
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import ``rows`` and return what happened to each.

    With ``dry_run`` every chunk is rolled back instead of committed, so the summary says what
    an import would do.
    """
    with heap.left_alone():
        return await _run_import(
            db, importer, header, rows, dry_run=dry_run, chunk_size=chunk_size, progress=progress
        )


async def _run_import(
    db: Database,
    importer: RowImporter[Any],
    header: HeaderMap,
    rows: Iterable[SourceRow],
    *,
    dry_run: bool,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> ImportSummary:
    summary = ImportSummary(kind=header.kind, dry_run=dry_run, ignored_columns=header.ignored)
    seen: dict[tuple[str, Hashable], int] = {}
    chunk: list[Row[Any]] = []
    last_line = 0
    # The rows read while a chunk is being applied: counted once that chunk is in (if it fails,
    # the summary says what it said without reading ahead: the rows up to the failed chunk).
    read_ahead = 0
    refused_ahead: list[Rejection] = []
    in_flight: asyncio.Future[None] | None = None

    async def apply(rows: list[Row[Any]]) -> None:
        try:
            await _apply_chunk(db, importer, rows, summary, dry_run=dry_run)
        except Exception as exc:
            summary.rejections.sort(key=lambda r: r.line)
            raise ImportStopped(summary, exc) from exc
        summary.committed_through_line = rows[-1].line
        if progress:
            progress(len(rows))

    async def settle() -> None:
        """Wait for the chunk being applied, then count the rows read meanwhile."""
        nonlocal in_flight, read_ahead
        if in_flight is not None:
            applying, in_flight = in_flight, None
            await applying
        summary.read += read_ahead
        summary.rejections.extend(refused_ahead)
        if progress and refused_ahead:
            progress(len(refused_ahead))
        read_ahead = 0
        refused_ahead.clear()

    async def flush() -> None:
        """Hand the chunk over to be applied while the next rows are read and checked."""
        nonlocal in_flight, chunk
        await settle()
        if chunk:
            in_flight = asyncio.ensure_future(apply(chunk))
            chunk = []

    sources = iter(rows)
    try:
        while True:
            try:
                source = next(sources, None)
            except Exception as exc:  # the file turned unreadable part-way (a bad byte, a cut-off file)
                await settle()
                raise ImportStopped(summary, exc) from exc
            if source is None:
                break
            line = last_line = source.line
            read_ahead += 1
            if in_flight is not None and read_ahead % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the chunk being applied goes on when the database answers
            record = header.record(source.cells)
            try:
                value = importer.parse(record)
            except DomainError as error:
                refused_ahead.append(
                    Rejection(line, error.message, error.field, _raw_key(record), code=error.code)
                )
                continue
            keys = importer.keys(value)
            earlier = next((seen[k] for k in keys if k in seen), None)
            if earlier is not None:
                refused_ahead.append(
                    Rejection(line, f"повтор строки {earlier}", key=_describe(keys), code="DUPLICATE_ROW")
                )
                continue
            for key in keys:
                seen[key] = line
            chunk.append(Row(line, value))
            if len(chunk) >= chunk_size:
                await flush()
        await flush()
        await settle()
    finally:
        if in_flight is not None:  # stopped by something else: the chunk is not waited for
            in_flight.cancel()
            await asyncio.gather(in_flight, return_exceptions=True)
    summary.committed_through_line = max(summary.committed_through_line, last_line)
    summary.rejections = sorted(
        (replace(r, column=header.title_of(r.field)) for r in summary.rejections), key=lambda r: r.line
    )
    return summary


_IDENTIFYING = ("inn", "school_code", "organization_inn", "organization_code", "external_id", "full_name")


def _raw_key(record: dict[str, str]) -> str | None:
    """What identifies a row that could not be parsed, as the file wrote it."""
    return (
        "; ".join(
            f"{_KEY_WORDS.get(name, name)} {record[name]}" for name in _IDENTIFYING if record.get(name)
        )[:200]
        or None
    )


def _describe(keys: Sequence[tuple[str, Hashable]]) -> str | None:
    return "; ".join(f"{_KEY_WORDS.get(name, name)} {ident}" for name, ident in keys) or None


class _RowRefused(Exception):
    """Raised in the fast pass to abandon it: the chunk is redone row by row."""


async def _apply_chunk(
    db: Database,
    importer: RowImporter[Any],
    chunk: Sequence[Row[Any]],
    summary: ImportSummary,
    *,
    dry_run: bool,
) -> None:
    """Apply a chunk in one transaction.

    The fast pass applies every row with no savepoints (two round trips a row saved); the first
    row a rule refuses abandons it, and the chunk is redone with a savepoint per row, so a refused
    row's partial changes are rolled back and the other rows still go in.
    """
    try:
        outcomes, rejections = await _chunk_pass(db, importer, chunk, dry_run=dry_run, careful=False)
    except _RowRefused:
        outcomes, rejections = await _chunk_pass(db, importer, chunk, dry_run=dry_run, careful=True)
    # counted only once the chunk is durable, so a crash never reports rows that were lost
    for outcome in outcomes:
        summary.count(outcome)
    summary.rejections.extend(rejections)


async def _chunk_pass(
    db: Database,
    importer: RowImporter[Any],
    chunk: Sequence[Row[Any]],
    *,
    dry_run: bool,
    careful: bool,
) -> tuple[list[Outcome], list[Rejection]]:
    outcomes: list[Outcome] = []
    rejections: list[Rejection] = []
    async with db.session() as session:
        transaction = await session.begin()
        try:
            await importer.prepare(session, [row.value for row in chunk])
            apply_many = getattr(importer, "apply_many", None)
            if not careful and apply_many is not None:
                try:
                    outcomes = list(await apply_many(session, [row.value for row in chunk]))
                except (DomainError, IntegrityError, IntegrityConstraintViolationError) as error:
                    raise _RowRefused from error  # (the batch writes by COPY raise the driver's own)
            else:
                outcomes = await _rows_one_by_one(session, importer, chunk, rejections, careful=careful)
            if dry_run:
                await transaction.rollback()
            else:
                await audit.record(
                    session, if_changed=True, service="registry", operation="import", **audit.actor()
                )
                await transaction.commit()
        except BaseException:
            if transaction.is_active:
                await transaction.rollback()
            raise
    return outcomes, rejections


async def _rows_one_by_one(
    session: AsyncSession,
    importer: RowImporter[Any],
    chunk: Sequence[Row[Any]],
    rejections: list[Rejection],
    *,
    careful: bool,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for row in chunk:
        savepoint = await session.begin_nested() if careful else None
        try:
            outcome = await importer.apply(session, row.value)
        except (DomainError, IntegrityError) as error:
            if savepoint is None:
                raise _RowRefused from error
            await savepoint.rollback()
            rejections.append(_rejection(row, error, importer))
            continue
        if savepoint is not None:
            await savepoint.commit()
        outcomes.append(outcome)
    return outcomes


def _rejection(row: Row[Any], error: Exception, importer: RowImporter[Any]) -> Rejection:
    keys = _describe(importer.keys(row.value))
    if isinstance(error, DomainError):
        return Rejection(row.line, error.message, error.field, keys, code=error.code)
    # a uniqueness the rules did not foresee (e.g. the same ОГРН on another ИНН)
    reason = f"противоречит записи в реестре: {getattr(error, 'orig', error)}".splitlines()[0]
    return Rejection(row.line, reason, key=keys, code="CONFLICTS_WITH_REGISTRY")
