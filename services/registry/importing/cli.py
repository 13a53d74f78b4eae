"""``python -m services.registry import FILE --kind organizations|educators|memberships|municipalities``.

Exit status: 0 when every row was applied, 3 when some rows were rejected (the report lists
them), 1 when the file could not be imported at all or the import stopped part-way (the
chunks before the stop are committed; running the same file again finishes it).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from pathlib import Path
from typing import TextIO

from setka_runtime.cli import Command
from setka_runtime.db import Database
from setka_runtime.settings import ServiceSettings
from setka_runtime.spreadsheets import UnreadableFile, open_table
from tqdm import tqdm

from .apply import EVERY_REGION, RegionScope, importer_for
from .engine import DEFAULT_CHUNK, ImportStopped, ImportSummary
from .engine import run_import as run_rows
from .mapping import ImportKind, UnmappableHeader, locate_header

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3


async def import_file(
    db: Database,
    path: Path,
    kind: ImportKind,
    *,
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    scope: RegionScope = EVERY_REGION,
    snils_key: str | None = None,
) -> ImportSummary:
    """Import one file; raises :class:`UnreadableFile` or :class:`UnmappableHeader` before any write.
    Rows about a region outside ``scope`` are refused, each with its line; ``snils_key`` hashes
    the educators' СНИЛС (without it a row with a СНИЛС is refused)."""
    table = open_table(path)
    rows = table.rows
    header, _title_rows = locate_header(kind, table.header, ((row.line, row.cells) for row in rows))
    bar = tqdm(
        total=table.estimated_rows,
        unit="rows",
        desc=f"{kind.value} ← {path.name}",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        return await run_rows(
            db,
            importer_for(kind, scope=scope, snils_key=snils_key),
            header,
            rows,
            dry_run=dry_run,
            chunk_size=chunk_size,
            progress=bar.update,
        )
    finally:
        bar.close()


def default_report_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}.rejected.csv")


def write_report(summary: ImportSummary, path: Path) -> None:
    """The rejected rows as CSV that Excel opens as it is (UTF-8 with BOM, ``;``)."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["line", "field", "reason", "key", "code"])
        for rejection in summary.rejections:
            writer.writerow(
                [rejection.line, rejection.field or "", rejection.reason, rejection.key or "", rejection.code]
            )


def print_summary(summary: ImportSummary, source: Path, out: TextIO) -> None:
    mode = " (dry run: nothing was written)" if summary.dry_run else ""
    print(f"{summary.kind.value} from {source}{mode}", file=out)
    print(
        f"  read {summary.read}, created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, rejected {summary.rejected}",
        file=out,
    )
    if summary.ignored_columns:
        print(f"  columns not imported: {', '.join(summary.ignored_columns)}", file=out)
    for rejection in summary.rejections:
        where = f" [{rejection.field}]" if rejection.field else ""
        key = f" ({rejection.key})" if rejection.key else ""
        print(f"  line {rejection.line}{where}: {rejection.reason}{key}", file=out)


def arguments(parser: argparse.ArgumentParser, *, other_kinds: tuple[str, ...] = ()) -> None:
    """The import's arguments; ``other_kinds``: kinds another service imports (``setka import``)."""
    parser.add_argument("file", type=Path, help="a .csv (UTF-8 or cp1251, ';' or ',') or .xlsx file")
    parser.add_argument(
        "--kind",
        required=True,
        choices=[*(k.value for k in ImportKind), *other_kinds],
        help="what the rows are",
    )
    parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    parser.add_argument(
        "--report", type=Path, help="where to write the rejected rows (default: next to FILE)"
    )
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows per transaction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    source: Path = args.file
    kind = ImportKind(args.kind)
    key = settings.snils_hmac_key

    async def go() -> ImportSummary:
        db = Database(settings.database_url)
        try:
            return await import_file(
                db,
                source,
                kind,
                dry_run=args.dry_run,
                chunk_size=max(1, args.chunk_size),
                progress=not args.no_progress,
                snils_key=key.get_secret_value() if key is not None else None,
            )
        finally:
            await db.dispose()

    stopped: ImportStopped | None = None
    try:
        summary = asyncio.run(go())
    except (UnreadableFile, UnmappableHeader, OSError) as error:
        print(f"cannot import {source}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ImportStopped as error:
        stopped, summary = error, error.summary
    report = args.report or default_report_path(source)
    if summary.rejections:
        write_report(summary, report)
    print_summary(summary, source, sys.stdout)
    if summary.rejections:
        print(f"  report of rejected rows: {report}")
    if stopped is not None:
        print(
            f"import stopped: {stopped.cause!r}\n"
            f"  rows up to line {summary.committed_through_line} are imported, nothing after it;"
            " run the same file again to finish (rows already in are left unchanged)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_REJECTED if summary.rejections else EXIT_OK


COMMAND = Command(
    help="import organizations, educators or network memberships from a CSV or XLSX file",
    arguments=arguments,
    run=run,
)
