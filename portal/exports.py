"""Lists as files a person opens in Excel: XLSX, and CSV in UTF-8 with a BOM and ``;`` between
cells (what Excel in a Russian locale reads without asking). Every list page offers both, of the
same rows as on screen (the same filters, the person's own token, so no more than the API shows
them), headed in Russian, dates as dates, names rather than ids.

A cell that begins like a formula (``= + - @``, a tab or a carriage return) stays text: in CSV it
is prefixed with an apostrophe, in XLSX it is a text cell marked as quoted. A list is described by
its :class:`Column` list; :func:`export_route` gives the ``…/export.{format}`` address of a list
whose rows a page function loads. Not a page module (those live in ``pages/`` and give routes).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .gateway import GatewayError
from .web import Portal

LIMIT = 2000
"""At most this many rows in a file (the API's pages walked one after another)."""
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""How a cell that a spreadsheet would run as a formula begins (OWASP's list)."""

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One column: its Russian heading and its cell of a row (a text, a number, a date or a
    moment, None for an empty cell; a list is written with commas)."""

    title: str
    value: Callable[[Row], Any]


# --- cells ---------------------------------------------------------------------------------------


def day(value: str | date | None) -> date | None:
    """A date the API gives as ``YYYY-MM-DD`` (or a moment: its day)."""
    if not value:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def moment_in(value: str | datetime | None, zone: ZoneInfo) -> datetime | None:
    """A moment the API gives (ISO, with its offset) on the person's clock, as a spreadsheet keeps
    it (without a zone)."""
    if not value:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone(zone).replace(tzinfo=None)
    return when


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if v not in (None, ""))
    return value


def neutral(text: str) -> str:
    """A text cell of a CSV file that no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return neutral(str(value))


def csv_file(columns: Sequence[Column], rows: Iterable[Row]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")  # Excel in a Russian locale splits on ";"
    writer.writerow([c.title for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(c.value(row)) for c in columns])
    return ("\ufeff" + text.getvalue()).encode("utf-8")  # the BOM: Excel reads it as UTF-8


def xlsx_file(
    title: str, columns: Sequence[Column], rows: Iterable[Row], heading: Sequence[str] = ()
) -> bytes:
    """The sheet ``title``: the ``heading`` lines (what the list is of), then the table."""
    book = Workbook()
    sheet = book.active
    sheet.title = re.sub(r"[\\/*?:\[\]]", " ", title)[:31] or "Список"
    for line in heading:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", line)])
        sheet.cell(row=sheet.max_row, column=1).data_type = "s"
    if heading:
        sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
        sheet.append([])
    top = len(heading) + (1 if heading else 0) + 1
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=top, column=index)
        cell.value, cell.font = column.title, Font(bold=True)
    widths = [len(c.title) for c in columns]
    for number, row in enumerate(rows, start=top + 1):
        for index, column in enumerate(columns):
            value = _plain(column.value(row))
            cell = sheet.cell(row=number, column=index + 1)
            if isinstance(value, datetime):
                cell.value, cell.number_format = value, "DD.MM.YYYY HH:MM"
            elif isinstance(value, date):
                cell.value, cell.number_format = value, "DD.MM.YYYY"
            elif isinstance(value, int | float) or value is None:
                cell.value = value
            else:
                text = ILLEGAL_CHARACTERS_RE.sub("", str(value))  # XML 1.0 cannot hold them
                cell.value = text
                cell.data_type = "s"  # a text, never a formula
                if text.startswith(FORMULA_START):
                    cell.quotePrefix = True  # as Excel marks a text typed after an apostrophe
                if "\n" in text:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            longest = max((len(line) for line in str(value or "").splitlines()), default=0)
            widths[index] = max(widths[index], min(longest, 60))
    for index, width in enumerate(widths):
        sheet.column_dimensions[sheet.cell(row=top, column=index + 1).column_letter].width = width + 2
    sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(text: str) -> str:
    """A file name of Latin letters, digits, dots and dashes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "list"


def table(
    kind: str,
    name: str,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Row],
    heading: Sequence[str] = (),
) -> Response:
    """The rows as a file of ``kind`` (xlsx or csv), named ``name.kind`` (Latin letters: every
    browser keeps them); a workbook's sheet is headed with the ``heading`` lines (a CSV file is
    the table alone, so that it opens as one)."""
    rows = list(rows)
    body = csv_file(columns, rows) if kind == "csv" else xlsx_file(title, columns, rows, heading)
    return Response(
        body,
        media_type=FORMATS[kind],
        headers={
            "content-disposition": f'attachment; filename="{name}.{kind}"',
            "cache-control": "no-store",
        },
    )


# --- rows ----------------------------------------------------------------------------------------


async def every(
    page: Callable[[str | None], Awaitable[Mapping[str, Any]]], limit: int = LIMIT
) -> list[dict[str, Any]]:
    """The nodes of a connection, page after page (``page(after)`` gives one), at most ``limit``."""
    nodes: list[dict[str, Any]] = []
    after = None
    while len(nodes) < limit:
        connection = await page(after)
        nodes.extend(e["node"] for e in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    return nodes[:limit]


Rows = list[dict[str, Any]] | list[Row]
Loader = Callable[[Request], Awaitable["Rows | Response"]]


def export_route(
    portal: Portal,
    path: str,
    name: str | Callable[[Request], str],
    title: str,
    columns: Sequence[Column] | Callable[[Request], Sequence[Column]],
    rows: Loader,
) -> Route:
    """``path/export.xlsx`` and ``path/export.csv``: the rows ``rows`` loads for the request (the
    page's own loader, with its filters and the person's token; a Response when it cannot), in
    ``columns`` (for the person, when a function: the columns of the page they see)."""

    async def export(request: Request) -> Response:
        kind = request.path_params["format"]
        if kind not in FORMATS:
            return portal.page(request, "error.html", status=404, message="Выгрузка бывает в .xlsx и .csv")
        try:
            loaded = await rows(request)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if isinstance(loaded, Response):
            return loaded
        shown = columns(request) if callable(columns) else columns
        named = name(request) if callable(name) else name
        return table(kind, named, title, shown, loaded)

    return Route(f"{path}/export.{{format:str}}", export, methods=["GET"])
