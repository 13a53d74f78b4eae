"""A file sent through the API (``importFile``): checked, then imported by the same reader, mapping
and engine as ``setka import``.

The content arrives base64-encoded in a GraphQL variable. It is refused before anything is read
when it is not base64, is larger than the registry's limit or is not a kind of file the reader
knows; then it is written to a private temporary folder (the reader works on files, an XLSX
workbook is a zip archive read by offset) and removed once the import ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from pathlib import Path

from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.spreadsheets import SUFFIXES, UnreadableFile

from .apply import RegionScope
from .cli import import_file
from .engine import ImportSummary
from .mapping import ImportKind, UnmappableHeader

DEFAULT_MAX_BYTES = 10_000_000
"""The largest file the API imports unless ``REGISTRY_IMPORT_MAX_BYTES`` says otherwise."""


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.3f}".rstrip("0").rstrip(".").replace(".", ",")


def decode(content_base64: str, *, limit: int) -> bytes:
    """The file's bytes; a :class:`DomainError` when they are not base64, none, or too many."""
    too_large = DomainError(
        f"Файл больше допустимых {megabytes(limit)} МБ: разделите его на части",
        code="FILE_TOO_LARGE",
        field="contentBase64",
    )
    text = "".join(content_base64.split())  # line breaks some encoders insert
    if len(text) > (limit + 2) // 3 * 4:  # refused before decoding anything
        raise too_large
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DomainError(
            "Содержимое файла повреждено: ожидались данные в кодировке base64",
            code="INVALID_BASE64",
            field="contentBase64",
        ) from exc
    if len(data) > limit:
        raise too_large
    if not data:
        raise DomainError("Файл пуст", code="FILE_EMPTY", field="contentBase64")
    return data


def file_suffix(file_name: str) -> str:
    """The suffix the reader goes by; a :class:`DomainError` for a kind of file it cannot read."""
    suffix = Path(file_name.strip()).suffix.lower()
    if suffix not in SUFFIXES:
        raise DomainError(
            "Можно загрузить файл CSV (.csv) или Excel (.xlsx)"
            + (f", а не {suffix}" if suffix else ": у файла нет расширения"),
            code="UNKNOWN_FORMAT",
            field="fileName",
        )
    return suffix


async def import_upload(
    db: Database,
    kind: ImportKind,
    file_name: str,
    data: bytes,
    *,
    scope: RegionScope,
    dry_run: bool = False,
    snils_key: str | None = None,
) -> ImportSummary:
    """Import ``data`` as the file ``file_name``; a file that cannot be read at all, or whose
    header lacks a needed column, is a :class:`DomainError` before any write. An import that
    stopped part-way raises :class:`~.engine.ImportStopped` (its summary says how far it got)."""
    suffix = file_suffix(file_name)
    with tempfile.TemporaryDirectory(prefix="setka-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        await asyncio.to_thread(path.write_bytes, data)
        try:
            return await import_file(db, path, kind, dry_run=dry_run, scope=scope, snils_key=snils_key)
        except UnreadableFile as error:
            raise DomainError(
                _named(str(error), path.name, file_name), code="FILE_UNREADABLE", field="contentBase64"
            ) from error
        except UnmappableHeader as error:
            raise DomainError(
                f"{file_name}: {error}", code="HEADER_UNMAPPABLE", field="contentBase64"
            ) from error


def _named(message: str, temporary: str, file_name: str) -> str:
    """The reader's message with the name the person gave the file."""
    return f"{file_name}: {message.removeprefix(f'{temporary}: ')}"
