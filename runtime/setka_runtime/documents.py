"""Documents attached to what a service owns (an agreement's text, a regulation's edition, an
activity's materials): what is accepted, where the files are kept, and how one is served.

* **What is accepted.** :func:`inspect` reads the content, not only the name: the type is what
  the first bytes say it is (PDF, PNG, JPEG; ZIP containers opened far enough to tell DOCX and
  XLSX from ODT and ODS; OLE2 compound files far enough to tell DOC from XLS; UTF-8 text), and the
  name's extension must agree with it. A refusal is a :class:`DomainError` with a stable code and
  a Russian message.
* **Where files are kept.** :class:`DocumentStore`: a local directory (``make run``:
  ``var/documents/<service>``) or an S3-compatible bucket (MinIO, Ceph, a cloud), chosen by the
  service's settings (:func:`store_from_settings`). Keys name no file: ``<owner kind>/<owner
  id>/<document id>``.
* **How one is served.** :func:`download_response`: the stored bytes streamed with their type,
  length, an RFC 6266 ``Content-Disposition`` (``filename*`` in UTF-8 for Cyrillic names) and
  ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import logging
import os
import struct
import unicodedata
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import strawberry
from setka_contracts.documents import DocumentAttachedData
from sqlalchemy import DateTime, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from strawberry.types import Info

from . import outbox
from .access import ALL_REGIONS, AccessDenied, Identity, Role, Target, identity_from_authorization
from .errors import DomainError
from .graphql import ValidationError, identity, loader, reading, require_id, run_command

if TYPE_CHECKING:
    from .settings import ServiceSettings

log = logging.getLogger(__name__)

CHUNK = 256 * 1024


@dataclass(frozen=True)
class DocumentType:
    """A kind of file Setka accepts: its media type, the extensions a name of it may end with, and
    how a person calls it."""

    media_type: str
    extensions: tuple[str, ...]
    title: str


PDF = DocumentType("application/pdf", (".pdf",), "PDF")
DOCX = DocumentType(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",), "документ Word"
)
XLSX = DocumentType(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",), "таблица Excel"
)
ODT = DocumentType("application/vnd.oasis.opendocument.text", (".odt",), "документ OpenDocument")
ODS = DocumentType("application/vnd.oasis.opendocument.spreadsheet", (".ods",), "таблица OpenDocument")
DOC = DocumentType("application/msword", (".doc",), "документ Word 97–2003")
XLS = DocumentType("application/vnd.ms-excel", (".xls",), "таблица Excel 97–2003")
PNG = DocumentType("image/png", (".png",), "изображение PNG")
JPEG = DocumentType("image/jpeg", (".jpg", ".jpeg"), "изображение JPEG")
TEXT = DocumentType("text/plain; charset=utf-8", (".txt",), "текст")
ACCEPTED: tuple[DocumentType, ...] = (PDF, DOCX, XLSX, ODT, ODS, DOC, XLS, PNG, JPEG, TEXT)
ACCEPTED_EXTENSIONS = tuple(e for t in ACCEPTED for e in t.extensions)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
NAME_LIMIT = 255


def accepted_text() -> str:
    """The accepted extensions as a person reads them: «pdf, docx, …»."""
    return ", ".join(e.removeprefix(".") for e in ACCEPTED_EXTENSIONS)


def size_text(size: int) -> str:
    """A size as a person reads it: «20 МБ», «340 КБ»."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} МБ".replace(".", ",")
    if size >= 1024:
        return f"{size // 1024} КБ"
    return f"{size} Б"


# -- what the content is ---------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE


def _zip_type(content: bytes) -> DocumentType | None:
    """DOCX, XLSX, ODT or ODS by the names inside the ZIP (and ODF's ``mimetype`` entry); nothing
    is decompressed but that entry's first bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", "replace").strip()
                return {ODT.media_type: ODT, ODS.media_type: ODS}.get(declared)
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return None
    return None


def _ole2_streams(content: bytes) -> set[str]:
    """The names in a compound file's directory (MS-CFB): its sectors followed through the FAT
    the header's first 109 DIFAT entries reach, far enough for DOC and XLS."""
    if len(content) < 512:
        return set()
    sector_size = 1 << struct.unpack_from("<H", content, 30)[0]
    if sector_size not in (512, 4096):
        return set()
    first_directory = struct.unpack_from("<I", content, 48)[0]

    def sector(index: int) -> bytes:
        start = (index + 1) * sector_size
        return content[start : start + sector_size]

    fat: list[int] = []
    for (fat_sector,) in struct.iter_unpack("<I", content[76:512]):
        if fat_sector >= _END_OF_CHAIN:
            continue
        data = sector(fat_sector)
        fat.extend(v for (v,) in struct.iter_unpack("<I", data[: len(data) - len(data) % 4]))
    names: set[str] = set()
    current, seen = first_directory, set()
    while current < _END_OF_CHAIN and current not in seen and len(seen) < 1024:
        seen.add(current)
        data = sector(current)
        for offset in range(0, len(data) - 127, 128):
            length = struct.unpack_from("<H", data, offset + 64)[0]
            if 2 <= length <= 64:
                names.add(data[offset : offset + length - 2].decode("utf-16-le", "replace"))
        current = fat[current] if current < len(fat) else _END_OF_CHAIN
    return names


def _ole2_type(content: bytes) -> DocumentType | None:
    try:
        names = _ole2_streams(content)
    except struct.error:
        return None
    if "WordDocument" in names:
        return DOC
    if "Workbook" in names or "Book" in names:
        return XLS
    return None


def _text(content: bytes) -> bool:
    """UTF-8 text: decodes, and has no control characters but tabs and line ends."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(ch < " " and ch not in "\t\r\n\f" for ch in text)


def sniff(content: bytes) -> DocumentType | None:
    """The accepted type the content is, whatever its name says; None when it is none of them."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _zip_type(content)
    if content.startswith(_OLE2):
        return _ole2_type(content)
    return TEXT if _text(content) else None


@dataclass(frozen=True)
class Inspected:
    """An accepted file: what is stored beside its bytes."""

    file_name: str
    media_type: str
    size: int
    sha256: str


def clean_name(file_name: str) -> str:
    """The file's own name: no folders, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", file_name or "")
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name or name in (".", ".."):
        raise DomainError("Укажите имя файла", code="DOCUMENT_NAME_MISSING", field="fileName")
    if len(name) > NAME_LIMIT:
        raise DomainError(
            f"Имя файла длиннее {NAME_LIMIT} символов: сократите его",
            code="DOCUMENT_NAME_TOO_LONG",
            field="fileName",
        )
    return name


def decode_base64(text: str) -> bytes:
    """The content the API carries as base64 (standard alphabet; line breaks allowed)."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DomainError(
            "Содержимое файла передано не в base64", code="DOCUMENT_CONTENT_INVALID", field="contentBase64"
        ) from exc


def inspect(content: bytes, file_name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Inspected:
    """Accept a file or say why not: empty, too large, of a type not accepted, or named as
    another type than its content is."""
    name = clean_name(file_name)
    if not content:
        raise DomainError("Файл пустой", code="DOCUMENT_EMPTY", field="contentBase64")
    if len(content) > max_bytes:
        raise DomainError(
            f"Файл больше {size_text(max_bytes)} ({size_text(len(content))}): уменьшите его или разделите",
            code="DOCUMENT_TOO_LARGE",
            field="contentBase64",
        )
    found = sniff(content)
    if found is None:
        raise DomainError(
            f"Файлы такого типа не принимаются; можно: {accepted_text()}",
            code="DOCUMENT_TYPE_NOT_ALLOWED",
            field="contentBase64",
        )
    extension = PurePosixPath(name).suffix.lower()
    if extension not in found.extensions:
        said = f"«{extension}»" if extension else "без расширения"
        raise DomainError(
            f"По содержимому это {found.title} ({'/'.join(found.extensions)}), а имя «{name}» — {said}:"
            " переименуйте файл или выберите другой",
            code="DOCUMENT_TYPE_MISMATCH",
            field="fileName",
        )
    return Inspected(
        file_name=name,
        media_type=found.media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


# -- the table every service keeps of its documents ------------------------------------------------


class DocumentFields(SQLModel):
    """The columns of a service's ``document`` table (each service declares the table itself, in
    its own metadata: ``class Document(DocumentFields, ServiceModel, table=True)``)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_kind: str = Field(max_length=40)
    owner_id: uuid.UUID = Field(index=True)
    title: str | None = Field(default=None, max_length=500)
    file_name: str = Field(max_length=NAME_LIMIT)
    media_type: str = Field(max_length=120)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=300)
    uploaded_by: str = Field(max_length=200)
    """The uploader's subject (the token's ``sub``)."""
    uploaded_by_organization_id: uuid.UUID | None = None
    uploaded_at: datetime = Field(sa_type=DateTime(timezone=True))


def storage_key(owner_kind: str, owner_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"{owner_kind}/{owner_id}/{document_id}"


@strawberry.federation.type(
    shareable=True, description="A file attached to an agreement, a regulation, an activity…"
)
class Document:
    id: strawberry.ID
    title: str | None = strawberry.field(description="What it is, as the uploader put it")
    file_name: str = strawberry.field(description="The file's name as it was uploaded")
    media_type: str = strawberry.field(description="Its type, read from its content")
    size: int = strawberry.field(description="Bytes")
    sha256: str = strawberry.field(description="SHA-256 of its content, hex")
    uploaded_at: datetime
    download_url: str = strawberry.field(
        description="Where the gateway serves it (a path on the gateway), to callers who may see its owner"
    )

    @classmethod
    def of(cls, row: DocumentFields, service: str) -> Document:
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            file_name=row.file_name,
            media_type=row.media_type,
            size=row.size,
            sha256=row.sha256,
            uploaded_at=row.uploaded_at,
            download_url=download_path(service, row.id),
        )


def download_path(service: str, document_id: uuid.UUID | str) -> str:
    """The path a document is downloaded at, the same on the gateway and on its service."""
    return f"/documents/{service}/{document_id}"


# -- where the files are kept ----------------------------------------------------------------------


class StoredFileMissing(LookupError):
    """The store has no object under a key the database names."""


class DocumentStore(ABC):
    """Where a service keeps its documents' bytes, by key."""

    @abstractmethod
    async def put(self, key: str, content: bytes, media_type: str) -> None: ...

    @abstractmethod
    def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, in pieces; :class:`StoredFileMissing` if there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object, if there is one (a file whose row was not committed)."""

    async def close(self) -> None:  # noqa: B027 - most stores hold nothing to close
        """Let go of connections."""


class LocalDirectory(DocumentStore):
    """A directory on this machine: one file per key, written whole before it is named."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a document key: {key!r}")
        return self.root.joinpath(*parts)

    async def put(self, key: str, content: bytes, media_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
            with open(partial, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)

        await asyncio.to_thread(write)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError as exc:
            raise StoredFileMissing(key) from exc
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Bucket(DocumentStore):
    """A bucket of an S3-compatible object store (MinIO, Ceph RGW, a cloud's), through boto3,
    whose blocking calls run in threads. Keys are put under ``prefix`` (the service's name), so
    services may share a bucket."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = True,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if path_style else "virtual"},
                # checksums only where S3 requires them: not every S3-compatible server knows the
                # newer default ones
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, content: bytes, media_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=content,
            ContentType=media_type,
            ContentMD5=base64.b64encode(hashlib.md5(content).digest()).decode(),
        )

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredFileMissing(key) from exc
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


StorageKind = Literal["local", "s3"]


def store_from_settings(settings: ServiceSettings) -> DocumentStore:
    """The store a service's settings choose (``DOCUMENTS_STORAGE``)."""
    if settings.documents_storage == "s3":
        assert settings.documents_s3_bucket is not None  # the settings refuse s3 without one
        return S3Bucket(
            bucket=settings.documents_s3_bucket,
            prefix=settings.documents_s3_prefix or settings.service_name,
            endpoint_url=settings.documents_s3_endpoint,
            region=settings.documents_s3_region,
            access_key_id=settings.documents_s3_access_key_id,
            secret_access_key=(
                settings.documents_s3_secret_access_key.get_secret_value()
                if settings.documents_s3_secret_access_key
                else None
            ),
            path_style=settings.documents_s3_path_style,
        )
    return LocalDirectory(Path(settings.documents_dir or f"var/documents/{settings.service_name}"))


# -- serving one -----------------------------------------------------------------------------------


def content_disposition(file_name: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and ``filename*`` in UTF-8 for the rest."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in file_name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


async def download_response(store: DocumentStore, row: DocumentFields) -> StreamingResponse:
    """The document's bytes with its type, length and name; :class:`StoredFileMissing` before
    anything is sent when the store has lost it."""
    chunks = store.chunks(row.storage_key)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return StreamingResponse(
        body(),
        media_type=row.media_type,
        headers={
            "content-length": str(row.size),
            "content-disposition": content_disposition(row.file_name),
            "x-content-type-options": "nosniff",
            "cache-control": "private, no-store",
        },
    )


# -- a service's documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerKind:
    """A kind of thing documents are attached to: how its write scope is found (who may attach)
    and whether a caller may see it (who may list and download)."""

    exists: Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]
    scope: Callable[[AsyncSession, Any], Awaitable[Any]]
    visible: Callable[[AsyncSession, Identity, uuid.UUID], Awaitable[bool]]
    missing: str
    """What a person is told when the owner is not found («Такого договора нет»)."""


class Attachments:
    """One service's documents: its table, its store, its owner kinds and its download route."""

    def __init__(
        self,
        *,
        service: str,
        model: type[Any],
        owners: dict[str, OwnerKind],
        store: DocumentStore,
        event: type[DocumentAttachedData],
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.service = service
        self.model = model
        self.owners = owners
        self.store = store
        self.event = event
        self.max_bytes = max_bytes

    def owner(self, kind: str) -> OwnerKind:
        found = self.owners.get(kind)
        if found is None:
            raise DomainError(
                "К этому документы не прикрепляются", code="DOCUMENT_OWNER_UNKNOWN", field="ownerKind"
            )
        return found

    async def attach(
        self,
        session: AsyncSession,
        caller: Identity,
        *,
        owner_kind: str,
        owner_id: uuid.UUID,
        file_name: str,
        content_base64: str,
        title: str | None = None,
    ) -> Any:
        """Check the file, keep its bytes, add its row and record its ``document.attached`` event
        in the session's transaction. A transaction that fails after the bytes are kept leaves them
        in the store named by no row: unreachable, and harmless."""
        owner = self.owner(owner_kind)
        if not await owner.exists(session, owner_id):
            raise DomainError(owner.missing, code="DOCUMENT_OWNER_NOT_FOUND", field="ownerId")
        if len(content_base64) > (self.max_bytes * 4) // 3 + 8:
            raise DomainError(
                f"Файл больше {size_text(self.max_bytes)}: уменьшите его или разделите",
                code="DOCUMENT_TOO_LARGE",
                field="contentBase64",
            )
        content = decode_base64(content_base64)
        inspected = inspect(content, file_name, max_bytes=self.max_bytes)
        text = " ".join((title or "").split()) or None
        if text is not None and len(text) > 500:
            raise DomainError("Название длиннее 500 символов", code="TEXT_TOO_LONG", field="title")
        row = self.model(
            owner_kind=owner_kind,
            owner_id=owner_id,
            title=text,
            file_name=inspected.file_name,
            media_type=inspected.media_type,
            size=inspected.size,
            sha256=inspected.sha256,
            storage_key="",
            uploaded_by=caller.subject or "",
            uploaded_by_organization_id=to_uuid_or_none(caller.organization_id),
            uploaded_at=datetime.now(UTC),
        )
        row.storage_key = storage_key(owner_kind, owner_id, row.id)
        await self.store.put(row.storage_key, content, inspected.media_type)
        session.add(row)
        await session.flush()
        await outbox.record(
            session,
            self.event(
                document_id=row.id,
                owner_kind=owner_kind,
                owner_id=owner_id,
                title=row.title,
                file_name=row.file_name,
                media_type=row.media_type,
                size=row.size,
                sha256=row.sha256,
                uploaded_at=row.uploaded_at,
                uploaded_by_organization_id=row.uploaded_by_organization_id,
            ),
            source=f"/setka/{self.service}",
        )
        return row

    async def of_owners(
        self, session: AsyncSession, owner_kind: str, owner_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Any]]:
        """Each owner's documents, oldest first (for loaders)."""
        model = self.model
        rows = await session.scalars(
            select(model)
            .where(model.owner_kind == owner_kind, model.owner_id.in_(list(owner_ids)))
            .order_by(model.uploaded_at, model.id)
        )
        found: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in rows.all():
            found[row.owner_id].append(row)
        return found

    async def listed(self, info: Info, owner_kind: str, owner_id: Any) -> list[Document]:
        """An owner's documents for a GraphQL field: fetched with every other owner of the kind
        the request lists (one query), shown if the caller may see the owner (else none)."""
        key = to_uuid_or_none(owner_id)
        if key is None:
            return []

        async def load(keys: list[uuid.UUID]) -> list[list[Any]]:
            async with reading(info) as session:
                found = await self.of_owners(session, owner_kind, keys)
            return [found.get(k, []) for k in keys]

        rows = await loader(info, f"documents:{owner_kind}", load).load(key)
        if not rows:
            return []
        async with reading(info) as session:
            if not await self.owner(owner_kind).visible(session, identity(info), key):
                return []
        return [Document.of(r, self.service) for r in rows]

    def route(self, database: Callable[[], Any], internal_secret: str | None) -> Route:
        """``GET /documents/<service>/{id}``: the file, to a caller (the gateway's internal token)
        who may see its owner; 401 to an anonymous caller and 403 to another where they may not,
        404 where there is no such document."""

        async def download(request: Request) -> Response:
            try:
                caller = identity_from_authorization(request.headers.get("authorization"), internal_secret)
            except AccessDenied as exc:
                return PlainTextResponse(str(exc), 401)
            ident = to_uuid_or_none(request.path_params["document_id"])
            async with database().session() as session:
                row = await session.get(self.model, ident) if ident is not None else None
                if row is None:
                    return PlainTextResponse("Документ не найден", 404)
                owner = self.owners.get(row.owner_kind)
                if owner is None or not await owner.visible(session, caller, row.owner_id):
                    if not caller.authenticated:
                        return PlainTextResponse(
                            "Войдите, чтобы скачать этот документ",
                            401,
                            headers={"www-authenticate": "Bearer"},
                        )
                    return PlainTextResponse("Этот документ вам недоступен", 403)
            try:
                return await download_response(self.store, row)
            except StoredFileMissing:
                log.error("document %s: its file %s is missing from the store", row.id, row.storage_key)
                return PlainTextResponse("Файл документа не найден в хранилище", 404)

        return Route(download_path(self.service, "{document_id}"), download, methods=["GET"])


def to_uuid_or_none(value: object) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


async def anyone(_session: AsyncSession, _caller: Identity, _owner_id: uuid.UUID) -> bool:
    """A public owner's documents: everyone sees them, anonymous callers too."""
    return True


def sees_any(caller: Identity, targets: Iterable[Target]) -> bool:
    """Whether a signed-in caller belongs where one of ``targets`` is: an admin of every region; a
    person (of any role) of its region; a coordinator of its municipality; a representative of
    one of its organizations."""
    if not caller.authenticated:
        return False
    if caller.region_code == ALL_REGIONS:
        return True
    for target in targets:
        if caller.region_code is not None and caller.region_code == target.region_code:
            return True
        if caller.municipality_id is not None and caller.municipality_id == target.municipality_id:
            return True
        if caller.organization_id is not None and caller.organization_id in target.organization_ids:
            return True
    return False


def create_document_table(op: Any) -> None:
    """The ``document`` table, for a service's migration (the columns of :class:`DocumentFields`)."""
    import sqlalchemy as sa

    op.create_table(
        "document",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_kind", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("file_name", sa.String(NAME_LIMIT), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(300), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_by_organization_id", sa.Uuid(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_document_owner_id", "document", ["owner_id"])


def of_request(info: Info) -> Attachments:
    """The service's documents, from the request's context (``Service.context["documents"]``)."""
    return info.context["documents"]


async def documents_field(info: Info, owner_kind: str, owner_id: Any) -> list[Document]:
    """The ``documents`` field of an owner's GraphQL type."""
    return await of_request(info).listed(info, owner_kind, owner_id)


def owner_enum(name: str, owners: dict[str, OwnerKind], description: str) -> Any:
    """The GraphQL enum of a service's owner kinds, one value per entry of ``owners``: a new
    kind of owner is a new entry there, nothing else here."""
    return strawberry.enum(Enum(name, {kind: kind for kind in owners}), description=description)  # type: ignore[misc]


async def attach_command(
    info: Info,
    *,
    owner_kind: Enum,
    owner_id: strawberry.ID,
    file_name: str,
    content_base64: str,
    title: str | None,
    roles: Iterable[Role],
) -> Document | ValidationError:
    """An ``attach…Document`` mutation: in the owner's write scope, for ``roles``, audited."""
    documents = of_request(info)
    kind = str(owner_kind.value)
    return await run_command(
        info,
        lambda row: Document.of(row, documents.service),
        lambda session: documents.attach(
            session,
            identity(info),
            owner_kind=kind,
            owner_id=require_id(owner_id, "ownerId"),
            file_name=file_name,
            content_base64=content_base64,
            title=title,
        ),
        scope=lambda session: documents.owner(kind).scope(session, owner_id),
        roles=roles,
    )
