"""What a document is, read from its content; its name on download (RFC 6266); who sees an owner's
documents; the storage settings."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile

import pytest
from openpyxl import Workbook
from setka_runtime.access import ALL_REGIONS, Identity, Role, Target
from setka_runtime.documents import (
    DOC,
    DOCX,
    JPEG,
    ODS,
    ODT,
    PDF,
    PNG,
    TEXT,
    XLS,
    XLSX,
    content_disposition,
    decode_base64,
    inspect,
    sees_any,
    sniff,
)
from setka_runtime.errors import DomainError

from services.registry.settings import RegistrySettings

pytestmark = pytest.mark.unit


def zipped(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def xlsx() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


def compound_file(stream: str) -> bytes:
    """A minimal compound file (MS-CFB, 512-byte sectors): a FAT sector, then a directory sector
    with the root entry and one stream named ``stream``."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # FAT sectors
    struct.pack_into("<I", header, 48, 1)  # the directory's first sector
    struct.pack_into("<I", header, 60, 0xFFFFFFFE)
    struct.pack_into("<I", header, 68, 0xFFFFFFFE)
    header[76:512] = b"\xff" * 436
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    for index, name in enumerate(("Root Entry", stream)):
        encoded = (name + "\0").encode("utf-16-le")
        directory[index * 128 : index * 128 + len(encoded)] = encoded
        struct.pack_into("<H", directory, index * 128 + 64, len(encoded))
    return bytes(header + fat + directory)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.4\n...", PDF),
        (b"\x89PNG\r\n\x1a\n\x00\x00", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (zipped({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}), DOCX),
        (xlsx(), XLSX),
        (zipped({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"}), ODT),
        (zipped({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"}), ODS),
        (compound_file("WordDocument"), DOC),
        (compound_file("Workbook"), XLS),
        ("Протокол заседания\r\n\tпункт 1\n".encode(), TEXT),
    ],
)
def test_the_type_is_read_from_the_content(content: bytes, kind: object) -> None:
    assert sniff(content) == kind


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows program
        zipped({"readme.txt": "an ordinary archive"}),
        compound_file("PowerPoint Document"),
        "Протокол".encode("cp1251"),  # text, but not UTF-8
        b"text with a \x00 byte",
        b"PK\x03\x04 broken",
    ],
)
def test_what_is_none_of_the_accepted_types_is_refused(content: bytes) -> None:
    with pytest.raises(DomainError) as refused:
        inspect(content, "файл.pdf")
    assert refused.value.code in ("DOCUMENT_TYPE_NOT_ALLOWED", "DOCUMENT_TYPE_MISMATCH")
    assert sniff(content) in (None, TEXT)


def test_a_name_that_says_another_type_is_refused_in_russian() -> None:
    with pytest.raises(DomainError) as refused:
        inspect(b"\x89PNG\r\n\x1a\n\x00", "Договор.pdf")
    assert refused.value.code == "DOCUMENT_TYPE_MISMATCH"
    assert refused.value.field == "fileName"
    assert "изображение PNG" in refused.value.message


def test_an_accepted_file_has_its_size_type_and_checksum() -> None:
    found = inspect(b"%PDF-1.7 x", "C:\\Users\\Анна\\Договор № 5.PDF")
    assert found.file_name == "Договор № 5.PDF"
    assert found.media_type == "application/pdf"
    assert found.size == 10
    assert found.sha256 == hashlib.sha256(b"%PDF-1.7 x").hexdigest()


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "a.pdf", "DOCUMENT_EMPTY"),
        (b"%PDF-" + b"0" * 100, "a.pdf", "DOCUMENT_TOO_LARGE"),
        (b"%PDF-1.7", "", "DOCUMENT_NAME_MISSING"),
        (b"%PDF-1.7", "../", "DOCUMENT_NAME_MISSING"),
        (b"%PDF-1.7", "я" * 300 + ".pdf", "DOCUMENT_NAME_TOO_LONG"),
    ],
)
def test_refusals_have_their_codes(content: bytes, name: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        inspect(content, name, max_bytes=64)
    assert refused.value.code == code


def test_base64_that_is_not_is_refused() -> None:
    assert decode_base64("JVBE\nRi0x") == b"%PDF-1"
    with pytest.raises(DomainError) as refused:
        decode_base64("это не base64")
    assert refused.value.code == "DOCUMENT_CONTENT_INVALID"


def test_a_cyrillic_name_travels_as_rfc_6266_filename_star() -> None:
    header = content_disposition('Договор № 5 "итог".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%20%E2%84%96%205%20%22" in header
    fallback = header.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and fallback.endswith(".pdf")


def test_an_agreements_documents_are_seen_by_the_people_of_its_places() -> None:
    places = [Target.of("39", "m-1", ["org-1"]), Target.of("39", "m-2", ["org-2"])]
    assert sees_any(Identity("a", frozenset({Role.expert}), "39"), places)
    assert sees_any(Identity("a", frozenset({Role.viewer}), ALL_REGIONS), places)
    assert sees_any(Identity("c", frozenset({Role.municipal_coordinator}), None, "m-2"), places)
    assert sees_any(Identity("s", frozenset({Role.school_representative}), None, None, "org-1"), places)
    assert not sees_any(Identity("b", frozenset({Role.regional_admin}), "08"), places)
    assert not sees_any(Identity(), places)


def test_s3_storage_needs_a_bucket_and_both_keys_or_neither() -> None:
    with pytest.raises(ValueError, match="DOCUMENTS_S3_BUCKET"):
        RegistrySettings(DOCUMENTS_STORAGE="s3")
    with pytest.raises(ValueError, match="go together"):
        RegistrySettings(DOCUMENTS_STORAGE="s3", DOCUMENTS_S3_BUCKET="b", DOCUMENTS_S3_ACCESS_KEY_ID="k")
    settings = RegistrySettings(DOCUMENTS_STORAGE="s3", DOCUMENTS_S3_BUCKET="b")
    assert settings.documents_s3_path_style
