"""Reading CSV and XLSX files the way Russian offices export them."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from setka_runtime.spreadsheets import (
    UnreadableFile,
    cell_text,
    detect_encoding,
    detect_separator,
    open_table,
)

pytestmark = pytest.mark.unit

HEADER = ["Полное наименование", "ИНН", "Муниципалитет"]
ROWS = [
    ["МБОУ «СОШ № 1» г. Балтийска (демо)", "3901000008", "Балтийский муниципальный округ"],
    ["МКОУ «Яшкульская СОШ № 1» (демо)", "0800000000", "Яшкульский район"],
]


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(separator: str, rows: list[list[str]] = ROWS) -> str:
    def quote(cell: str) -> str:
        return f'"{cell}"' if separator in cell or '"' in cell else cell

    return "\r\n".join(separator.join(quote(c) for c in row) for row in [HEADER, *rows]) + "\r\n"


@pytest.mark.parametrize(
    ("encoding", "separator", "detected"),
    [
        ("cp1251", ";", "cp1251"),
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ";", "utf-8-sig"),
        ("cp1251", ",", "cp1251"),
    ],
)
def test_csv_in_any_office_encoding_and_separator_reads_the_same(
    tmp_path: Path, encoding: str, separator: str, detected: str
) -> None:
    path = write_csv(tmp_path / "schools.csv", csv_text(separator), encoding)
    table = open_table(path)
    assert table.layout is not None
    assert (table.layout.encoding, table.layout.separator) == (detected, separator)
    assert list(table.header) == HEADER
    rows = list(table.rows)
    assert [list(r.cells) for r in rows] == ROWS
    assert [r.line for r in rows] == [2, 3]


def test_line_numbers_count_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    text = (
        "\n"
        "Полное наименование;ИНН;Муниципалитет\n"
        '"Школа\nс переносом (демо)";3901000008;Балтийский муниципальный округ\n'
        "\n"
        ";;\n"
        "Школа № 2 (демо);0800000000;Яшкульский район\n"
    )
    table = open_table(write_csv(tmp_path / "a.csv", text, "cp1251"))
    assert table.header_line == 2
    rows = list(table.rows)
    assert [r.line for r in rows] == [3, 7]
    assert rows[0].cells[0] == "Школа\nс переносом (демо)"


def test_excel_sep_line_names_the_separator_and_is_skipped(tmp_path: Path) -> None:
    text = "sep=,\r\n" + csv_text(",")
    table = open_table(write_csv(tmp_path / "a.csv", text, "utf-8"))
    assert list(table.header) == HEADER
    assert [r.line for r in table.rows] == [3, 4]


def test_xlsx_reads_numbers_as_the_text_people_see(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["ИНН", "Полное наименование", "Дата вступления"])
    sheet.append([3901000008, "МБОУ СОШ № 1 (демо)", datetime(2024, 9, 1)])
    sheet.append([None, None, None])
    sheet.append([814000002.0, "МКОУ «Яшкульская СОШ» (демо)", date(2023, 1, 15)])
    path = tmp_path / "schools.xlsx"
    workbook.save(path)

    table = open_table(path)
    assert table.format == "xlsx"
    assert table.header == ("ИНН", "Полное наименование", "Дата вступления")
    rows = list(table.rows)
    assert [r.line for r in rows] == [2, 4]
    assert rows[0].cells == ("3901000008", "МБОУ СОШ № 1 (демо)", "2024-09-01")
    assert rows[1].cells == ("814000002", "МКОУ «Яшкульская СОШ» (демо)", "2023-01-15")


def test_encoding_detection_prefers_utf8_and_falls_back_to_cp1251() -> None:
    assert detect_encoding("Школа".encode()) == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + "Школа".encode()) == "utf-8-sig"
    assert detect_encoding("Школа".encode("cp1251")) == "cp1251"
    # a sample cut in the middle of a two-byte letter is still UTF-8
    assert detect_encoding("Школа".encode()[:3]) == "utf-8"


def test_separator_detection_ignores_separators_inside_quotes() -> None:
    assert detect_separator('"Школа, лицей";ИНН;ОГРН') == ";"
    assert detect_separator("ИНН,ОГРН") == ","
    assert detect_separator("ИНН") == ";"
    assert (
        detect_separator("Реестр школ на 01.09.2024\n", "ИНН,ОГРН\n", "3901;г. Балтийск, ул. Ленина, 5")
        == ","
    )


def test_cell_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(12.0) == "12"
    assert cell_text(12.5) == "12.5"
    assert cell_text(datetime(2024, 9, 1, 10, 30)) == "2024-09-01T10:30:00"


@pytest.mark.parametrize(
    ("name", "content"), [("a.pdf", b"%PDF"), ("a.xlsx", b"not a zip"), ("a.csv", b"\n\n")]
)
def test_unreadable_files_are_refused_as_a_whole(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile):
        open_table(path)


def test_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    from services.registry.importing.mapping import ImportKind, locate_header

    text = "Реестр образовательных организаций (демо)\n\nна 01.09.2024\n" + csv_text(",")
    table = open_table(write_csv(tmp_path / "a.csv", text, "cp1251"))
    assert table.layout is not None and table.layout.separator == ","
    pairs = ((row.line, row.cells) for row in table.rows)
    header, skipped = locate_header(ImportKind.organizations, table.header, pairs)
    assert skipped == 2 and header.columns["inn"] == 1
    assert [row.line for row in table.rows] == [5, 6]
