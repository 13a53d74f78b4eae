"""Reading what Russian offices actually export: CSV in UTF-8 or cp1251 with `;` or `,`, and XLSX.

Every format comes out the same way: a header and then rows of strings, each with the line
number an operator sees when they open the file in an editor or a spreadsheet (1-based). Also
what every import makes of a header and of cells: headers compared without case, «ё» or
punctuation, dates as offices write them, identifiers without the spaces people type. Shared by
the registry's imports and the events service's imports of regional facts.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from .errors import DomainError

_SAMPLE_BYTES = 1 << 20
_SEPARATORS = (";", ",", "\t")


class UnreadableFile(Exception):
    """The file as a whole cannot be read (unknown format, no header, broken workbook); the
    message is in Russian, for the person who sent the file."""


SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
"""The file names :func:`open_table` reads."""


@dataclass(frozen=True)
class SourceRow:
    """One data row: its line number in the file and its cells as stripped strings."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """How a CSV file was written, as detected from its first bytes."""

    encoding: str
    separator: str
    excel_sep_line: bool = False
    """Excel's ``sep=;`` first line, which names the separator and is not the header."""


@dataclass
class Table:
    """An opened tabular file: its header and an iterator over its data rows."""

    path: Path
    format: str
    layout: Layout | None
    header: tuple[str, ...]
    header_line: int
    rows: Iterator[SourceRow]
    estimated_rows: int | None
    """For a progress bar: physical lines (CSV) or sheet rows (XLSX) after the header."""


def open_table(path: Path) -> Table:
    """Open a CSV or XLSX file and read its header (the first row with any text)."""
    suffix = path.suffix.lower()
    layout: Layout | None = None
    total: int | None
    if suffix in (".xlsx", ".xlsm"):
        kind = "xlsx"
        records, total = _xlsx_records(path)
    elif suffix in SUFFIXES:
        kind = "csv"
        layout = detect_layout(path)
        records, total = _csv_records(path, layout), _count_lines(path)
    else:
        raise UnreadableFile(f"{path.name}: нужен файл .csv или .xlsx")
    first = next(records, None)
    if first is None:
        raise UnreadableFile(f"{path.name}: в файле нет строки заголовка")
    header_line, header = first
    rows = (SourceRow(line, cells) for line, cells in records)
    estimate = max(total - header_line, 0) if total is not None else None
    return Table(path, kind, layout, header, header_line, rows, estimate)


def _count_lines(path: Path) -> int:
    with path.open("rb") as raw:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))


def _csv_records(path: Path, layout: Layout) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Non-blank records with the line each starts on (a quoted cell may span lines)."""
    with path.open(encoding=layout.encoding, newline="") as text:
        reader = csv.reader(text, delimiter=layout.separator)
        previous_end = 0
        try:
            for record in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                cells = tuple(cell.strip() for cell in record)
                if layout.excel_sep_line and start == 1:
                    continue
                if any(cells):
                    yield start, cells
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"{path.name}: текст не в кодировке {layout.encoding} после строки {previous_end}"
            ) from exc
        except csv.Error as exc:
            raise UnreadableFile(f"{path.name}: испорченный CSV в строке {reader.line_num}: {exc}") from exc


def _xlsx_records(path: Path) -> tuple[Iterator[tuple[int, tuple[str, ...]]], int | None]:
    from openpyxl import load_workbook  # heavy import, only when a workbook is read

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise UnreadableFile(f"{path.name}: не удаётся прочитать книгу XLSX ({exc})") from exc
    sheet = workbook.worksheets[0]

    def records() -> Iterator[tuple[int, tuple[str, ...]]]:
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = tuple(cell_text(value) for value in values)
                if any(cells):
                    yield number, cells
        finally:
            workbook.close()

    return records(), sheet.max_row


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text an operator sees (a whole number without ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as such, otherwise cp1251."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def detect_separator(*lines: str) -> str:
    """The separator that splits the header into the most columns (outside quotes).

    The header is the first of ``lines`` that any separator splits: an export may open with a
    title line that has none. Data lines are not counted, as an address is full of commas.
    """
    for line in lines:
        counts = {sep: len(next(csv.reader([line], delimiter=sep), [])) for sep in _SEPARATORS}
        best = max(_SEPARATORS, key=lambda sep: counts[sep])
        if counts[best] > 1:
            return best
    return ";"


def detect_layout(path: Path) -> Layout:
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    text = io.TextIOWrapper(io.BytesIO(sample), encoding=encoding, errors="replace", newline="")
    first_lines = [line for line, _ in zip((line for line in text if line.strip()), range(12), strict=False)]
    first = first_lines[0].strip() if first_lines else ""
    if first.lower().startswith("sep=") and len(first) == 5:
        return Layout(encoding=encoding, separator=first[4], excel_sep_line=True)
    return Layout(encoding=encoding, separator=detect_separator(*first_lines))


def normalize_header(text: str) -> str:
    """Case, «ё», punctuation and spacing do not matter in a header."""
    lowered = text.replace("\ufeff", "").lower().replace("ё", "е")
    return " ".join(re.sub(r"[\W_]+", " ", lowered).split())


_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y")


def parse_date(text: str, *, field: str) -> date:
    value = text.strip()
    if len(value) == 10 and value[2] == "." and value[5] == "." and value.replace(".", "").isdigit():
        try:  # ДД.ММ.ГГГГ, what nearly every file has, without strptime's cost
            return date(int(value[6:]), int(value[3:5]), int(value[:2]))
        except ValueError:
            pass
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    try:  # what a workbook's date cell turns into
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise DomainError(
            f"«{text}» — не дата; запишите её как ДД.ММ.ГГГГ", code="DATE_FORMAT", field=field
        ) from None


def digits(text: str, *, width: int) -> str:
    """An identifier without the spaces people type; a spreadsheet's lost leading zero restored.

    Excel stores an ИНН as a number, so Kalmykia's «08…» comes back nine digits long.
    """
    value = re.sub(r"[\s\-]", "", text)
    if value.isdigit() and len(value) == width - 1:
        value = "0" + value
    return value
