"""The effectiveness analysis as files a methodologist hands to the authority (анализ эффективности
сетевого взаимодействия): an XLSX workbook, a readable Russian document in HTML and in PDF, and
the HTTP routes that serve them. Every file presents one ``Analysis``; nothing here computes an
indicator."""

from __future__ import annotations

import base64
import io
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, Series
from openpyxl.chart.marker import DataPoint
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from setka_contracts.events import LearningProcess
from setka_runtime.access import AccessDenied, identity_from_authorization
from setka_runtime.db import Database
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from . import disclosure, methodology
from .analysis import AnalysisRequestError, UnknownScope, parse_scope, period_of
from .analysis_model import (
    Analysis,
    Better,
    IndicatorValue,
    Period,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from .recommendations import ACTIVITY_TYPE_LABELS
from .settings import AnalyticsSettings

matplotlib.use("Agg")  # files only, never a window; charts are drawn on Figure objects, not pyplot

TITLE = "Анализ эффективности сетевого взаимодействия"

SCOPE_LABELS = {
    ScopeKind.school: "Школа",
    ScopeKind.network: "Сеть",
    ScopeKind.municipality: "Муниципалитет",
    ScopeKind.region: "Регион",
}
STATUS_LABELS = {
    Status.good: "В норме",
    Status.attention: "Требует внимания",
    Status.bad: "Отстаёт",
    Status.no_target: "Цель не установлена",
    Status.no_data: "Нет данных",
}
STATUS_MEANINGS = {
    Status.good: "цель, установленная регионом или сетью, достигнута",
    Status.attention: "цель пока не достигнута, но показатель улучшается или держится на прежнем уровне",
    Status.bad: "цель не достигнута, и показатель ухудшился по сравнению с предыдущим периодом",
    Status.no_target: "ни регион, ни сеть не установили цель на этот год: показатель не оценивается, "
    "показана только его динамика (предложение Setka — не цель)",
    Status.no_data: "в периоде нет сведений, по которым показатель можно рассчитать: значение не "
    "приводится (а не считается нулём), причина указана в примечании",
}
# (strong, pale): the strong colour for text, bars and markers; the pale one for cell backgrounds
STATUS_COLOURS = {
    Status.good: ("#2E7D32", "#E3F2E5"),
    Status.attention: ("#B26A00", "#FFF1D6"),
    Status.bad: ("#C62828", "#FDE3E3"),
    Status.no_target: ("#1F4E79", "#E6EEF6"),
    Status.no_data: ("#6B7280", "#EEF0F2"),
}
PREVIOUS_COLOUR = "#A8B0BC"
ACCENT_COLOUR = "#1F4E79"
TREND_LABELS = {
    Trend.up: "↑ рост",
    Trend.down: "↓ снижение",
    Trend.flat: "→ без изменений",
    Trend.unknown: "— нет сравнения",
}
BETTER_LABELS = {Better.higher: "чем выше, тем лучше", Better.lower: "чем ниже, тем лучше"}

NO_VALUE = "—"
NO_DATA_VALUE = "нет данных"
"""What stands in place of a figure with nothing to compute it from (its note says why)."""
NBSP = "\u00a0"


# Words and numbers, shared by every format


def format_number(value: float | None, unit: str = "") -> str:
    """A figure as a Russian reader writes it: decimal comma, spaced thousands, a unit after a
    non-breaking space (``1 234,5 ч``, ``45,3 %``); a dash when there is none."""
    if value is None:
        return NO_VALUE
    number = float(value)
    digits = 0 if number.is_integer() else (2 if abs(number) < 1 else 1)
    text = f"{number:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):  # a small negative figure rounded to nothing has no sign
        text = "0"
    text = text.replace(",", NBSP).replace(".", ",").replace("-", "−")
    return f"{text}{NBSP}{unit}" if unit else text


def plural(count: int, one: str, few: str, many: str) -> str:
    """``count`` with the Russian noun form it takes: 1 школа, 3 школы, 5 школ, 21 школа."""
    tens, units = count % 100, count % 10
    if 11 <= tens <= 14:
        form = many
    elif units == 1:
        form = one
    elif 2 <= units <= 4:
        form = few
    else:
        form = many
    return f"{count} {form}"


def period_short(period: Period) -> str:
    """A short name of a period for chart axes and file names: ``2025``, ``I кв. 2025``,
    ``2025/26 уч. г.``."""
    start, last = period.start, period.end - timedelta(days=1)
    if period == Period.year(start.year):
        return str(start.year)
    if period.is_school_year():
        return f"{start.year}/{str(start.year + 1)[2:]} уч. г."
    if start.day == 1 and start.month in (1, 4, 7, 10):
        quarter = (start.month + 2) // 3
        if period == Period.quarter(start.year, quarter):
            return f"{'I II III IV'.split()[quarter - 1]} кв. {start.year}"
    return f"{start:%d.%m.%Y}–{last:%d.%m.%Y}"


def period_slug(period: Period) -> str:
    """The period in a file name: ``2025``, ``2025-q1``, ``2025-26`` (a school year), or
    ``2025-01-01--2025-06-30`` (the last day included)."""
    start, last = period.start, period.end - timedelta(days=1)
    if period == Period.year(start.year):
        return str(start.year)
    if period.is_school_year():
        return f"{start.year}-{str(start.year + 1)[2:]}"
    if start.day == 1 and start.month in (1, 4, 7, 10):
        quarter = (start.month + 2) // 3
        if period == Period.quarter(start.year, quarter):
            return f"{start.year}-q{quarter}"
    return f"{start.isoformat()}--{last.isoformat()}"


def scope_label(analysis: Analysis) -> str:
    return f"{SCOPE_LABELS[analysis.scope.kind]}: {analysis.scope_title}"


def generated_label(analysis: Analysis) -> str:
    moment = analysis.generated_at
    if moment.tzinfo is not None:
        return f"{moment.astimezone(UTC):%d.%m.%Y %H:%M} (UTC)"
    return f"{moment:%d.%m.%Y %H:%M}"


def target_value(indicator: IndicatorValue) -> float | None:
    """The target the indicator is judged against (its region's or network's), if any."""
    return None if indicator.target is None else indicator.target.value


def target_label(indicator: IndicatorValue) -> str:
    return format_number(target_value(indicator), indicator.definition.unit)


def target_cell(indicator: IndicatorValue) -> str:
    """The target in a table's cell: its value and whose it is, or that there is none."""
    if indicator.target is None:
        return "нет"
    whose = "сети" if indicator.target.scope_kind == ScopeKind.network else "региона"
    return f"{format_number(indicator.target.value)} ({whose})"


def value_label(value: float | None, unit: str = "") -> str:
    """A figure, or «нет данных» for one with nothing to compute it from."""
    return NO_DATA_VALUE if value is None else format_number(value, unit)


def suggestion_label(indicator: IndicatorValue) -> str | None:
    """Setka's own number, labelled as what it is: a suggestion, never a target."""
    suggestion = indicator.definition.suggestion
    if suggestion is None:
        return None
    return f"предложение Setka: {format_number(suggestion, indicator.definition.unit)} (не цель)"


def target_source(indicator: IndicatorValue) -> str:
    """Where the indicator's target came from, or that nobody set one (with Setka's suggestion)."""
    if indicator.target is not None:
        return f"{target_label(indicator)} — {indicator.target.source()}"
    suggestion = suggestion_label(indicator)
    return "цель не установлена" + ("" if suggestion is None else f"; {suggestion}")


def summary(analysis: Analysis) -> list[str]:
    """The short conclusions that open the document: how the indicators stand and which schools
    need attention."""
    by_status: dict[Status, list[str]] = {status: [] for status in Status}
    for indicator in analysis.indicators:
        by_status[indicator.status].append(f"«{indicator.definition.title}»")
    counts = Counter({status: len(titles) for status, titles in by_status.items()})
    sentences = [
        f"Показателей в анализе: {len(analysis.indicators)} (в норме — {counts[Status.good]}, "
        f"требуют внимания — {counts[Status.attention]}, отстают — {counts[Status.bad]}, "
        f"без цели — {counts[Status.no_target]}, без данных — {counts[Status.no_data]}). "
        "Значения сравниваются с периодом "
        f"{analysis.previous_period.label()}."
    ]
    headings = {
        Status.bad: "Отстают и ухудшаются",
        Status.attention: "Требуют внимания",
        Status.good: "В норме",
        Status.no_target: "Цель не установлена (только динамика)",
        Status.no_data: "Нет данных для расчёта",
    }
    for status, heading in headings.items():
        if by_status[status]:
            sentences.append(f"{heading}: {', '.join(by_status[status])}.")
    schools = len(analysis.schools_needing_attention)
    if schools:
        sentences.append(
            "Требуют внимания "
            + plural(schools, "школа", "школы", "школ")
            + ": "
            + ", ".join(school.name for school in analysis.schools_needing_attention[:5])
            + (" и другие (см. раздел «Школы, требующие внимания»)." if schools > 5 else ".")
        )
    else:
        sentences.append("Школ, требующих особого внимания, не выявлено.")
    return sentences


def calculation_label(indicator: IndicatorValue) -> str | None:
    """Numerator and denominator behind the value, when the analysis gives them."""
    if indicator.numerator is None or indicator.denominator is None:
        return None
    return (
        f"за период: {format_number(indicator.numerator)} из {format_number(indicator.denominator)}; "
        f"в расчёте {plural(indicator.schools, 'школа', 'школы', 'школ')}"
    )


def comparison_label(indicator: IndicatorValue) -> str | None:
    """The interval of a comparison of results and the schools on each side, in Russian; none for
    an indicator that is no such comparison."""
    found = indicator.comparison
    if found is None:
        return None
    ours = plural(
        found.supported_schools, "сопровождаемая школа", "сопровождаемые школы", "сопровождаемых школ"
    )
    theirs = plural(found.comparison_schools, "сравнимая школа", "сравнимые школы", "сравнимых школ")
    schools = f"{ours} и {theirs}"
    if found.estimate is None or found.low is None or found.high is None:
        return f"Интервала нет: в сравнении {schools}."
    unit = indicator.definition.unit
    verdict = "изменение значимо" if found.significant else "значимого изменения нет"
    return (
        f"{found.level * 100:g} % доверительный интервал: от {format_number(found.low)} до "
        f"{format_number(found.high)} {unit} — {verdict}; в сравнении {schools}."
    )


PROCESS_LABELS = {
    LearningProcess.training: "обучение",
    LearningProcess.peer_learning: "взаимообучение",
    LearningProcess.co_learning: "совместное обучение",
    LearningProcess.joint_discussion: "совместное обсуждение",
    LearningProcess.experience_exchange: "обмен опытом",
    LearningProcess.research: "исследование",
    LearningProcess.design: "проектирование",
    LearningProcess.programming: "программирование",
}
MOBILITY_LABELS = {"students": "учащиеся", "teachers": "педагоги"}
# The parts of a comparison with schools outside the networks: (group, label, unit or None for the
# indicator's own, whether to chart the group)
COMPARISON_PARTS = {
    "supported_change": ("изменение от базового года", "сопровождаемые школы", None, True),
    "comparison_change": ("изменение от базового года", "сравнимые школы вне сетей", None, True),
    "supported_schools": ("число школ в сравнении", "сопровождаемые школы", "школ", False),
    "comparison_schools": ("число школ в сравнении", "сравнимые школы вне сетей", "школ", False),
}
PREFIXED_PARTS = {
    "type": ("по видам мероприятий", ACTIVITY_TYPE_LABELS),
    "process": ("по процессам сетевого взаимодействия", PROCESS_LABELS),
}


@dataclass(frozen=True)
class BreakdownGroup:
    """Parts of one indicator that belong together (e.g. by kind of activity), named in Russian."""

    title: str  # "по видам мероприятий"; "" when the breakdown has one kind of part
    unit: str
    parts: dict[str, float]
    charted: bool = True


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def breakdown_groups(indicator: IndicatorValue) -> list[BreakdownGroup]:
    """The indicator's breakdown as groups of like parts, in the order they first appear; a key
    this module does not know is shown as it is."""
    unit = indicator.definition.unit
    found: dict[str, BreakdownGroup] = {}
    for key, value in indicator.breakdown.items():
        prefix, separator, name = key.partition(":")
        if key in COMPARISON_PARTS:
            title, label, own_unit, charted = COMPARISON_PARTS[key]
        elif separator and prefix in PREFIXED_PARTS:
            title, labels = PREFIXED_PARTS[prefix]
            label, own_unit, charted = labels.get(name, name), None, True
        else:
            title, label, own_unit, charted = "", MOBILITY_LABELS.get(key, key), None, True
        group = found.setdefault(title, BreakdownGroup(title, own_unit or unit, {}, charted))
        group.parts[_capital(label)] = value
    return list(found.values())


def breakdown_title(indicator: IndicatorValue, group: BreakdownGroup) -> str:
    return f"{indicator.definition.title} — {group.title or 'в разрезе'}"


# Charts (matplotlib; the same figures become SVG in the HTML and PNG in the PDF)


@dataclass(frozen=True)
class Chart:
    title: str
    description: str  # what it shows, for the alt text
    figure: Figure


def _has_data(indicator: IndicatorValue) -> bool:
    return indicator.value is not None or indicator.previous is not None


def _axis_numbers(axis: Axes, unit: str) -> None:
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_number(value)))
    axis.yaxis.set_major_locator(MaxNLocator(nbins=4))
    axis.set_ylabel(unit, fontsize=7, color="#555555")
    axis.tick_params(labelsize=7, colors="#333333")
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="y", color="#E5E7EB", linewidth=0.6)
    axis.set_axisbelow(True)


def _indicator_panel(axis: Axes, indicator: IndicatorValue, analysis: Analysis) -> None:
    definition = indicator.definition
    strong = STATUS_COLOURS[indicator.status][0]
    names = [period_short(analysis.previous_period), period_short(analysis.period)]
    values = [indicator.previous, indicator.value]
    target = target_value(indicator)
    shown = [value for value in (*values, target) if value is not None]
    top, bottom = max([0.0, *shown]), min([0.0, *shown])
    span = (top - bottom) or 1.0
    label_box = {"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85}
    for place, (value, colour) in enumerate(zip(values, (PREVIOUS_COLOUR, strong), strict=True)):
        if value is None:
            axis.text(place, span * 0.04, "нет данных", ha="center", fontsize=7.5, color="#6B7280")
            continue
        axis.bar(place, value, width=0.55, color=colour, zorder=2)
        axis.text(
            place,
            value + span * (0.04 if value >= 0 else -0.04),
            format_number(value, definition.unit),
            ha="center",
            va="bottom" if value >= 0 else "top",
            fontsize=8,
            color="#111111",
            bbox=label_box,
            zorder=4,
        )
    if target is not None:
        axis.axhline(target, color="#374151", linestyle="--", linewidth=0.9, zorder=3)
        axis.text(
            1.42,
            target,
            f"цель\n{format_number(target, definition.unit)}",
            va="center",
            fontsize=7,
            color="#374151",
            bbox=label_box,
            zorder=4,
        )
    axis.set_xticks([0, 1], names)
    axis.set_xlim(-0.55, 1.85)
    axis.set_ylim(bottom - span * 0.2 if bottom < 0 else 0, top + span * 0.25)
    axis.set_title(textwrap.fill(definition.title, 36), fontsize=8.5, loc="left", color="#111111")
    _axis_numbers(axis, definition.unit)


PANELS_PER_FIGURE = 6


def _indicator_charts(analysis: Analysis) -> list[Chart]:
    """Every indicator with data: the previous period beside this one, coloured by status, with
    the target as a dashed line; two panels a row, six to a figure, so a figure fits a page."""
    shown = [indicator for indicator in analysis.indicators if _has_data(indicator)]
    charts = []
    for first in range(0, len(shown), PANELS_PER_FIGURE):
        group = shown[first : first + PANELS_PER_FIGURE]
        rows = (len(group) + 1) // 2
        figure = Figure(figsize=(7.2, 2.5 * rows), layout="constrained")
        axes = figure.subplots(rows, 2, squeeze=False).flatten()
        for axis, indicator in zip(axes, group, strict=False):
            _indicator_panel(axis, indicator, analysis)
        for axis in axes[len(group) :]:
            axis.set_visible(False)
        part = f" ({first // PANELS_PER_FIGURE + 1})" if len(shown) > PANELS_PER_FIGURE else ""
        charts.append(
            Chart(
                title=f"Показатели: {period_short(analysis.period)} и предыдущий период{part}",
                description="Столбцы: значения показателей в предыдущем и текущем периодах; "
                "пунктир — цель, установленная регионом или сетью (если установлена). "
                + "; ".join(
                    f"{item.definition.title}: {format_number(item.previous, item.definition.unit)} → "
                    f"{format_number(item.value, item.definition.unit)}"
                    for item in group
                ),
                figure=figure,
            )
        )
    return charts


def _breakdown_chart(indicator: IndicatorValue, group: BreakdownGroup) -> Chart:
    """The parts of one group, largest first, at most twelve."""
    parts = sorted(group.parts.items(), key=lambda item: item[1], reverse=True)[:12]
    names = [textwrap.fill(name, 38) for name, _ in reversed(parts)]
    values = [value for _, value in reversed(parts)]
    figure = Figure(figsize=(7.2, 0.7 + 0.34 * len(parts)), layout="constrained")
    axis = figure.subplots()
    axis.barh(names, values, color=ACCENT_COLOUR, height=0.6)
    largest = max([abs(value) for value in values] + [1e-9])
    for place, value in enumerate(values):
        axis.text(
            max(value, 0) + largest * 0.01,
            place,
            " " + format_number(value, group.unit),
            va="center",
            fontsize=7.5,
        )
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: format_number(value)))
    axis.set_xlim(min([0.0, *values]) * 1.15, largest * 1.25)
    axis.tick_params(labelsize=7.5)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="x", color="#E5E7EB", linewidth=0.6)
    axis.set_axisbelow(True)
    return Chart(
        title=breakdown_title(indicator, group),
        description="; ".join(f"{name}: {format_number(value, group.unit)}" for name, value in parts),
        figure=figure,
    )


def _charted_groups(analysis: Analysis) -> list[tuple[IndicatorValue, BreakdownGroup]]:
    """The breakdown groups worth a chart: two parts or more."""
    return [
        (indicator, group)
        for indicator in analysis.indicators
        for group in breakdown_groups(indicator)
        if group.charted and len(group.parts) > 1
    ]


def charts(analysis: Analysis) -> list[Chart]:
    """The document's charts, freshly drawn (a Figure is not shared between renderings)."""
    return _indicator_charts(analysis) + [
        _breakdown_chart(indicator, group) for indicator, group in _charted_groups(analysis)
    ]


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _png(figure: Figure, dpi: int = 200) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


# The workbook (openpyxl)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = PatternFill("solid", fgColor="DCE6F0")
HEADER_FONT = Font(bold=True, color="1F2937")
THIN = Side(style="thin", color="B8C2CC")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")


def _excel_colour(hex_colour: str) -> str:
    return hex_colour.lstrip("#").upper()


def _number_format(values: Iterable[float | None]) -> str:
    present = [value for value in values if value is not None]
    return "#,##0" if all(float(value).is_integer() for value in present) else "#,##0.0"


def _header(sheet: Worksheet, titles: Sequence[str], widths: Sequence[float], row: int = 1) -> None:
    for column, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = Border(bottom=THIN)
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1)
    sheet.auto_filter.ref = f"A{row}:{get_column_letter(len(titles))}{row}"


# Columns of the summary sheet; previous, value and target stand together for the charts.
SUMMARY_COLUMNS = (
    ("№", 5),
    ("Показатель", 46),
    ("Ед. изм.", 11),
    ("Предыдущий период", 14),
    ("Значение", 14),
    ("Цель", 13),
    ("Динамика", 17),
    ("Статус", 18),
    ("Школ в расчёте", 11),
    ("Числитель", 12),
    ("Знаменатель", 12),
    ("Как рассчитывается", 70),
    ("Примечание", 36),
    ("Откуда цель", 48),
    ("Доверительный интервал и школы в сравнении", 40),
)
PREVIOUS_COLUMN, VALUE_COLUMN, TARGET_COLUMN = 4, 5, 6


def _summary_sheet(sheet: Worksheet, analysis: Analysis) -> None:
    titles = [title for title, _ in SUMMARY_COLUMNS]
    titles[PREVIOUS_COLUMN - 1] = f"Предыдущий период ({period_short(analysis.previous_period)})"
    titles[VALUE_COLUMN - 1] = f"Значение ({period_short(analysis.period)})"
    _header(sheet, titles, [width for _, width in SUMMARY_COLUMNS])
    sheet.row_dimensions[1].height = 32
    for row, indicator in enumerate(analysis.indicators, start=2):
        definition = indicator.definition
        strong, pale = STATUS_COLOURS[indicator.status]
        cells = (
            row - 1,
            definition.title,
            definition.unit,
            indicator.previous,
            NO_DATA_VALUE if indicator.value is None else indicator.value,
            target_value(indicator),
            TREND_LABELS[indicator.trend],
            STATUS_LABELS[indicator.status],
            indicator.schools,
            indicator.numerator,
            indicator.denominator,
            f"{definition.definition} ({BETTER_LABELS[definition.better]}.)",
            indicator.note,
            target_source(indicator),
            comparison_label(indicator),
        )
        for column, value in enumerate(cells, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            cell.alignment = WRAP_TOP
            cell.border = Border(bottom=THIN)
        figures = (indicator.previous, indicator.value, target_value(indicator))
        for column in (PREVIOUS_COLUMN, VALUE_COLUMN, TARGET_COLUMN):
            sheet.cell(row=row, column=column).number_format = _number_format(figures)
        for column in (10, 11):
            sheet.cell(row=row, column=column).number_format = _number_format(
                (indicator.numerator, indicator.denominator)
            )
        status = sheet.cell(row=row, column=8)
        status.fill = PatternFill("solid", fgColor=_excel_colour(pale))
        status.font = Font(bold=True, color=_excel_colour(strong))
        sheet.cell(row=row, column=VALUE_COLUMN).font = Font(bold=True)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"


def _breakdown_sheet(
    sheet: Worksheet, analysis: Analysis
) -> list[tuple[IndicatorValue, BreakdownGroup, int, int]]:
    """One row per part of each indicator's breakdown; returns the rows (first, last) of each
    group worth a chart."""
    _header(
        sheet,
        ["Показатель", "Разрез", "Составляющая", "Значение", "Ед. изм."],
        [46, 30, 40, 14, 12],
    )
    charted: list[tuple[IndicatorValue, BreakdownGroup, int, int]] = []
    row = 2
    for indicator in analysis.indicators:
        for group in breakdown_groups(indicator):
            first = row
            number_format = _number_format(group.parts.values())
            for name, value in group.parts.items():
                values = (indicator.definition.title, group.title, name, value, group.unit)
                for column, cell_value in enumerate(values, start=1):
                    sheet.cell(row=row, column=column, value=cell_value).alignment = WRAP_TOP
                sheet.cell(row=row, column=4).number_format = number_format
                row += 1
            if group.charted and len(group.parts) > 1:
                charted.append((indicator, group, first, row - 1))
    if row == 2:
        sheet.cell(row=2, column=1, value="Разрезов в этом анализе нет.")
    return charted


def _schools_sheet(sheet: Worksheet, analysis: Analysis) -> None:
    _header(sheet, ["№", "Школа", "Почему требует внимания", "Идентификатор"], [5, 50, 80, 38])
    for row, school in enumerate(analysis.schools_needing_attention, start=2):
        values = (row - 1, school.name, "\n".join(school.reasons), str(school.organization_id))
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row, column=column, value=value).alignment = WRAP_TOP
    if not analysis.schools_needing_attention:
        sheet.cell(row=2, column=2, value="Школ, требующих особого внимания, не выявлено.")


def _bar_chart(title: str, y_title: str) -> BarChart:
    chart = BarChart()
    chart.title = title
    chart.style = 10
    chart.legend = None
    chart.y_axis.title = y_title
    chart.y_axis.majorGridlines = None
    chart.x_axis.delete = False  # openpyxl hides axes unless told to draw them
    chart.y_axis.delete = False
    chart.width, chart.height = 16, 7.5
    return chart


def _charts_sheet(
    sheet: Worksheet,
    summary_sheet: Worksheet,
    breakdown_sheet: Worksheet,
    analysis: Analysis,
    breakdown_rows: Sequence[tuple[IndicatorValue, BreakdownGroup, int, int]],
) -> None:
    """Native Excel charts over the other sheets' cells: for each indicator with data, the
    previous period, this one and the target; for each breakdown, its parts."""
    sheet.column_dimensions["A"].width = 2
    placed = 0

    def place(chart: BarChart) -> None:
        nonlocal placed
        sheet.add_chart(chart, f"{'BK'[placed % 2]}{2 + 16 * (placed // 2)}")
        placed += 1

    sheet.cell(row=1, column=2, value=f"{TITLE}: диаграммы").font = Font(bold=True, size=12)
    for row, indicator in enumerate(analysis.indicators, start=2):
        if not _has_data(indicator):
            continue
        chart = _bar_chart(textwrap.fill(indicator.definition.title, 60), indicator.definition.unit)
        values = Reference(summary_sheet, min_col=PREVIOUS_COLUMN, max_col=TARGET_COLUMN, min_row=row)
        series = Series(values, title=indicator.definition.title)
        for index, colour in enumerate(
            (PREVIOUS_COLOUR, STATUS_COLOURS[indicator.status][0], STATUS_COLOURS[Status.no_data][1])
        ):
            point = DataPoint(idx=index)
            point.graphicalProperties.solidFill = _excel_colour(colour)
            point.graphicalProperties.line.solidFill = _excel_colour("#374151" if index == 2 else colour)
            series.dPt.append(point)
        chart.series.append(series)
        chart.set_categories(
            Reference(summary_sheet, min_col=PREVIOUS_COLUMN, max_col=TARGET_COLUMN, min_row=1)
        )
        place(chart)
    for indicator, group, first, last in breakdown_rows:
        chart = _bar_chart(textwrap.fill(breakdown_title(indicator, group), 60), group.unit)
        chart.type = "bar"
        chart.add_data(Reference(breakdown_sheet, min_col=4, min_row=first, max_row=last))
        chart.set_categories(Reference(breakdown_sheet, min_col=3, min_row=first, max_row=last))
        chart.series[0].graphicalProperties.solidFill = _excel_colour(ACCENT_COLOUR)
        place(chart)
    if not placed:
        sheet.cell(row=3, column=2, value="Ни по одному показателю нет данных для диаграмм.")


def _about_sheet(sheet: Worksheet, analysis: Analysis) -> None:
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 100
    sheet.cell(row=1, column=1, value=TITLE).font = Font(bold=True, size=14)
    facts = (
        ("Объект анализа", scope_label(analysis)),
        ("Идентификатор" if analysis.scope.kind != ScopeKind.region else "Код региона", analysis.scope.key),
        ("Период", analysis.period.label()),
        ("Период сравнения", analysis.previous_period.label()),
        ("Сформировано", generated_label(analysis)),
    )
    row = 3
    for name, value in facts:
        sheet.cell(row=row, column=1, value=name).font = Font(bold=True)
        sheet.cell(row=row, column=2, value=value)
        row += 1
    row += 1
    sheet.cell(row=row, column=1, value="Краткие выводы").font = Font(bold=True, size=12)
    for sentence in summary(analysis):
        row += 1
        sheet.cell(row=row, column=2, value=sentence).alignment = WRAP_TOP
    row += 2
    sheet.cell(row=row, column=1, value="Что значат статусы").font = Font(bold=True, size=12)
    for status, meaning in STATUS_MEANINGS.items():
        row += 1
        strong, pale = STATUS_COLOURS[status]
        label = sheet.cell(row=row, column=1, value=STATUS_LABELS[status])
        label.fill = PatternFill("solid", fgColor=_excel_colour(pale))
        label.font = Font(bold=True, color=_excel_colour(strong))
        sheet.cell(row=row, column=2, value=meaning).alignment = WRAP_TOP


def _methodology_sheet(sheet: Worksheet, analysis: Analysis) -> None:
    """The methodology annex: each section's text, each indicator's trace as label and text."""
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 110
    sheet.cell(row=1, column=1, value="Методика расчёта").font = Font(bold=True, size=14)
    row = 2
    for number, section in enumerate(annex(analysis), 1):
        row += 1
        sheet.cell(row=row, column=1, value=f"{number}. {section.title}").font = Font(bold=True, size=12)
        for text in (*section.paragraphs, *(f"• {bullet}" for bullet in section.bullets)):
            row += 1
            sheet.cell(row=row, column=2, value=text).alignment = WRAP_TOP
        for entry in section.entries:
            row += 2
            sheet.cell(row=row, column=1, value=entry.title).font = Font(bold=True)
            sheet.cell(row=row, column=1).alignment = WRAP_TOP
            for label, text in entry.facts:
                row += 1
                sheet.cell(row=row, column=1, value=label).alignment = WRAP_TOP
                sheet.cell(row=row, column=2, value=text).alignment = WRAP_TOP
            for text in entry.paragraphs:
                row += 1
                sheet.cell(row=row, column=2, value=text).alignment = WRAP_TOP
        row += 1


def _text_stays_text(book: Workbook) -> None:
    """Every value written is data: a school's name such as ``=HYPERLINK(…)`` or ``+1+2`` is
    shown as it was registered, never evaluated (the workbook has no formulas of its own;
    openpyxl takes any text starting with ``=`` for one)."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    cell.quotePrefix = True


def workbook(analysis: Analysis) -> bytes:
    """The analysis as an XLSX workbook: the indicators, native charts, the schools needing
    attention, the breakdowns and what the analysis covers."""
    book = Workbook()
    summary_sheet = book.active
    assert summary_sheet is not None
    summary_sheet.title = "Показатели"
    charts_sheet = book.create_sheet("Диаграммы")
    schools_sheet = book.create_sheet("Школы, требующие внимания")
    breakdown_sheet = book.create_sheet("Разрезы")
    about_sheet = book.create_sheet("Сведения")
    methodology_sheet = book.create_sheet("Методика")
    _summary_sheet(summary_sheet, analysis)
    breakdown_rows = _breakdown_sheet(breakdown_sheet, analysis)
    _charts_sheet(charts_sheet, summary_sheet, breakdown_sheet, analysis, breakdown_rows)
    _schools_sheet(schools_sheet, analysis)
    _about_sheet(about_sheet, analysis)
    _methodology_sheet(methodology_sheet, analysis)
    _text_stays_text(book)
    book.properties.title = f"{TITLE} — {analysis.scope_title}, {analysis.period.label()}"
    book.properties.creator = "Setka"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# The HTML document (a Jinja2 template; charts inline as SVG data, nothing fetched)

HTML_TYPE = "text/html; charset=utf-8"


@cache
def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "report_templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = format_number
    return environment


def html_document(analysis: Analysis) -> str:
    """The analysis as one self-contained HTML page in Russian, ready to print."""
    rendered = [(chart, base64.b64encode(_svg(chart.figure)).decode("ascii")) for chart in charts(analysis)]
    return (
        _templates()
        .get_template("analysis.html.j2")
        .render(
            title=TITLE,
            analysis=analysis,
            scope=scope_label(analysis),
            generated=generated_label(analysis),
            summary=summary(analysis),
            charts=rendered,
            status_labels=STATUS_LABELS,
            status_meanings=STATUS_MEANINGS,
            status_colours=STATUS_COLOURS,
            trend_labels=TREND_LABELS,
            better_labels=BETTER_LABELS,
            target_source=target_source,
            target_cell=target_cell,
            value_label=value_label,
            calculation_label=calculation_label,
            comparison_label=comparison_label,
            previous_short=period_short(analysis.previous_period),
            annex=annex(analysis),
            period_short=period_short(analysis.period),
        )
    )


# The PDF document (reportlab, with DejaVu Sans from matplotlib's own data for Cyrillic)

PDF_TYPE = "application/pdf"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


@cache
def _fonts() -> None:
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_number: ParagraphStyle
    cell_head: ParagraphStyle
    caption: ParagraphStyle

    @classmethod
    def make(cls) -> _Styles:
        body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, spaceAfter=4)
        cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0)
        return cls(
            title=ParagraphStyle(
                "title",
                parent=body,
                fontName=FONT_BOLD,
                fontSize=17,
                leading=21,
                spaceAfter=6,
                textColor=colors.HexColor(ACCENT_COLOUR),
            ),
            subtitle=ParagraphStyle("subtitle", parent=body, fontSize=10.5, leading=14, spaceAfter=2),
            heading=ParagraphStyle(
                "heading",
                parent=body,
                fontName=FONT_BOLD,
                fontSize=12.5,
                leading=16,
                spaceBefore=12,
                spaceAfter=6,
                textColor=colors.HexColor(ACCENT_COLOUR),
            ),
            subheading=ParagraphStyle(
                "subheading",
                parent=body,
                fontName=FONT_BOLD,
                fontSize=9.5,
                spaceBefore=6,
                spaceAfter=2,
                keepWithNext=1,
            ),
            body=body,
            small=ParagraphStyle(
                "small", parent=body, fontSize=8, leading=10.5, textColor=colors.HexColor("#4B5563")
            ),
            cell=cell,
            cell_number=ParagraphStyle("cell_number", parent=cell, alignment=TA_RIGHT),
            cell_head=ParagraphStyle("cell_head", parent=cell, fontName=FONT_BOLD, alignment=TA_CENTER),
            caption=ParagraphStyle(
                "caption", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#374151")
            ),
        )


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def _grid_style(extra: Iterable[tuple[object, ...]] = ()) -> TableStyle:
    return TableStyle(
        [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F0")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#B8C2CC")),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            *extra,
        ]
    )


def _indicator_table(analysis: Analysis, styles: _Styles, width: float) -> Table:
    head = [
        "№",
        "Показатель",
        "Ед. изм.",
        f"Пред. период ({period_short(analysis.previous_period)})",
        f"Значение ({period_short(analysis.period)})",
        "Цель",
        "Динамика",
        "Статус",
        "Школ",
    ]
    rows: list[list[Flowable]] = [[Paragraph(_text(title), styles.cell_head) for title in head]]
    extra: list[tuple[object, ...]] = []
    for row, indicator in enumerate(analysis.indicators, start=1):
        strong, pale = STATUS_COLOURS[indicator.status]
        title = f"<b>{_text(indicator.definition.title)}</b>"
        for remark in (indicator.note, comparison_label(indicator)):
            if remark:
                title += f"<br/><font size=7 color='#4B5563'>{_text(remark)}</font>"
        rows.append(
            [
                Paragraph(str(row), styles.cell),
                Paragraph(title, styles.cell),
                Paragraph(_text(indicator.definition.unit), styles.cell),
                Paragraph(_text(value_label(indicator.previous)), styles.cell_number),
                Paragraph(f"<b>{_text(value_label(indicator.value))}</b>", styles.cell_number),
                Paragraph(_text(target_cell(indicator)), styles.cell_number),
                Paragraph(_text(TREND_LABELS[indicator.trend]), styles.cell),
                Paragraph(
                    f"<font color='{strong}'><b>{STATUS_LABELS[indicator.status]}</b></font>", styles.cell
                ),
                Paragraph(str(indicator.schools), styles.cell_number),
            ]
        )
        extra.append(("BACKGROUND", (7, row), (7, row), colors.HexColor(pale)))
    fractions = (0.04, 0.255, 0.1, 0.085, 0.1, 0.1, 0.11, 0.145, 0.065)
    return Table(rows, colWidths=[width * part for part in fractions], repeatRows=1, style=_grid_style(extra))


def _schools_table(analysis: Analysis, styles: _Styles, width: float) -> Table:
    rows: list[list[Flowable]] = [
        [Paragraph(title, styles.cell_head) for title in ("№", "Школа", "Почему требует внимания")]
    ]
    for row, school in enumerate(analysis.schools_needing_attention, start=1):
        reasons = "<br/>".join(f"• {_text(reason)}" for reason in school.reasons)
        rows.append(
            [
                Paragraph(str(row), styles.cell),
                Paragraph(f"<b>{_text(school.name)}</b>", styles.cell),
                Paragraph(reasons, styles.cell),
            ]
        )
    return Table(rows, colWidths=[width * 0.05, width * 0.4, width * 0.55], repeatRows=1, style=_grid_style())


def _fitted(text: str, width: float, font: str, size: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _heading(text: str, styles: _Styles) -> list[Flowable]:
    """A section heading that starts a new page rather than stand alone at the foot of one."""
    return [CondPageBreak(40 * mm), Paragraph(text, styles.heading)]


def _chart_image(chart: Chart, width: float) -> Image:
    figure_width, figure_height = chart.figure.get_size_inches()
    return Image(io.BytesIO(_png(chart.figure)), width=width, height=width * figure_height / figure_width)


def _bullets(markup: Iterable[str], style: ParagraphStyle) -> ListFlowable:
    items = [ListItem(Paragraph(text, style), leftIndent=10) for text in markup]
    return ListFlowable(items, bulletType="bullet", start="•", leftIndent=10)


def annex(analysis: Analysis) -> list[methodology.Section]:
    """The methodology annex of a report: from the analysis' own indicator definitions and the
    settings it was computed by (:mod:`.methodology`, the same text as docs/methodology.md), each
    indicator with the target it was judged against and where that came from."""
    return methodology.sections(
        [value.definition for value in analysis.indicators],
        analysis.rules,
        {value.definition.id: target_source(value) for value in analysis.indicators},
    )


def _methodology(analysis: Analysis, styles: _Styles) -> list[Flowable]:
    statuses = [
        f"<font color='{STATUS_COLOURS[status][0]}'><b>{STATUS_LABELS[status]}</b></font> — {_text(meaning)}."
        for status, meaning in STATUS_MEANINGS.items()
    ]
    story: list[Flowable] = [
        Paragraph(
            f"Значения за период {_text(analysis.period.label())} сравниваются с периодом "
            f"{_text(analysis.previous_period.label())}. «Школ в расчёте» — сколько школ стоит за "
            "значением: чем их меньше, тем осторожнее выводы.",
            styles.body,
        ),
        KeepTogether([Paragraph("Статусы показателей:", styles.subheading), _bullets(statuses, styles.body)]),
    ]
    for number, section in enumerate(annex(analysis), 1):
        heading = Paragraph(f"{number}. {_text(section.title)}", styles.subheading)
        parts: list[Flowable] = [Paragraph(_text(text), styles.body) for text in section.paragraphs]
        if section.bullets:
            parts.append(_bullets(map(_text, section.bullets), styles.body))
        if parts:
            story.append(KeepTogether([heading, parts[0]]))
            story.extend(parts[1:])
        else:
            story.append(heading)
        for entry in section.entries:
            block: list[Flowable] = [Paragraph(f"<b>{_text(entry.title)}</b>", styles.body)]
            facts = [f"<b>{_text(name)}.</b> {_text(text)}" for name, text in entry.facts]
            block += [Paragraph(fact, styles.small) for fact in facts]
            block += [Paragraph(_text(text), styles.small) for text in entry.paragraphs]
            story.append(KeepTogether(block))
    return story


def pdf_document(analysis: Analysis) -> bytes:
    """The analysis as a PDF document in Russian: the same sections and charts as the HTML."""
    _fonts()
    styles = _Styles.make()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{TITLE} — {analysis.scope_title}",
        author="Setka",
        subject=f"{scope_label(analysis)}; период {analysis.period.label()}",
        creator="Setka",
        lang="ru-RU",
    )
    width = document.width
    footer = f"{TITLE} · {analysis.scope_title} · {analysis.period.label()}"

    def decorate(canvas: Canvas, _: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#6B7280"))
        canvas.drawString(16 * mm, 10 * mm, _fitted(footer, width - 20 * mm, FONT, 7.5))
        canvas.drawRightString(A4[0] - 16 * mm, 10 * mm, f"стр. {canvas.getPageNumber()}")
        canvas.restoreState()

    story: list[Flowable] = [
        Paragraph(TITLE, styles.title),
        Paragraph(_text(scope_label(analysis)), styles.subtitle),
        Paragraph(
            f"Период: {_text(analysis.period.label())} "
            f"(сравнение с {_text(analysis.previous_period.label())})",
            styles.subtitle,
        ),
        Paragraph(f"Сформировано: {_text(generated_label(analysis))}", styles.small),
        *_heading("Краткие выводы", styles),
        _bullets(map(_text, summary(analysis)), styles.body),
        *_heading("Показатели", styles),
        _indicator_table(analysis, styles, width),
    ]
    # the heading goes with the first chart: reportlab's keepWithNext does not join a KeepTogether
    heading: list[Flowable] = [Paragraph("Диаграммы", styles.heading)]
    for chart in charts(analysis):
        caption = Paragraph(_text(chart.title), styles.caption)
        story.append(KeepTogether([*heading, caption, _chart_image(chart, width), Spacer(1, 6)]))
        heading = []
    if heading:
        story.extend([*heading, Paragraph("Ни по одному показателю нет данных для диаграмм.", styles.body)])
    story.extend(_heading("Школы, требующие внимания", styles))
    if analysis.schools_needing_attention:
        story.append(_schools_table(analysis, styles, width))
    else:
        story.append(Paragraph("Школ, требующих особого внимания, не выявлено.", styles.body))
    story.extend(_heading("Приложение. Методика расчёта", styles))
    story.extend(_methodology(analysis, styles))
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


# HTTP: GET /reports/analysis.{xlsx,html,pdf}


def requested_scope(params: Mapping[str, str]) -> Scope:
    """``scope`` (school, network, municipality, region) and ``id`` (a UUID; a region's code),
    read by the analysis' own reader so every entrypoint refuses alike."""
    if not params.get("scope"):
        raise AnalysisRequestError(
            f"Укажите scope: одно из {', '.join(kind.value for kind in ScopeKind)}", code="SCOPE_REQUIRED"
        )
    if not params.get("id"):
        raise AnalysisRequestError(
            "Укажите id: идентификатор области анализа (UUID) или код региона, например 39",
            code="ID_REQUIRED",
        )
    return parse_scope(params["scope"], params["id"])


def _whole(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    text = params[name].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise AnalysisRequestError(
            f"{name} — целое число, например {name}={1 if name == 'quarter' else 2025}", code="NUMBER_FORMAT"
        )
    return int(text)


def _date(params: Mapping[str, str], name: str) -> date | None:
    if name not in params:
        return None
    try:
        return date.fromisoformat(params[name].strip())
    except ValueError:
        raise AnalysisRequestError(f"{name} — дата в виде ГГГГ-ММ-ДД", code="DATE_FORMAT") from None


def requested_period(params: Mapping[str, str]) -> Period:
    """``year`` (with ``quarter`` 1–4 for a quarter), ``school_year`` (2025 for 2025/26), or
    ``from`` and ``to``: the first and the last day included, as YYYY-MM-DD."""
    return period_of(
        year=_whole(params, "year"),
        quarter=_whole(params, "quarter"),
        school_year=_whole(params, "school_year"),
        start=_date(params, "from"),
        last=_date(params, "to"),
    )


@dataclass(frozen=True)
class ReportFormat:
    render: Callable[[Analysis], bytes | str]
    media_type: str
    disposition: str  # "attachment" to download, "inline" to read in the browser


FORMATS = {
    "xlsx": ReportFormat(workbook, XLSX_TYPE, "attachment"),
    "html": ReportFormat(html_document, HTML_TYPE, "inline"),
    "pdf": ReportFormat(pdf_document, PDF_TYPE, "attachment"),
}


def file_name(scope: Scope, period: Period, extension: str) -> str:
    return f"analysis-{scope.kind.value}-{scope.key}-{period_slug(period)}.{extension}"


def report_routes(get_db: Callable[[], Database], settings: AnalyticsSettings | None = None) -> list[Route]:
    """``GET /reports/analysis.{xlsx,html,pdf}?scope=network&id=<uuid>&year=2025`` (or
    ``&quarter=1``, or ``from=…&to=…``; a region by its code: ``scope=region&id=39``), as the
    caller (the internal token the gateway sends) may see it (:mod:`.disclosure`): 401 or 403
    where it may not."""
    settings = settings or AnalyticsSettings()
    secret = settings.internal_token_secret
    secret_text = secret.get_secret_value() if secret is not None else None

    async def analysis_report(request: Request) -> Response:
        extension = request.path_params["extension"]
        report = FORMATS.get(extension)
        if report is None:
            return PlainTextResponse(f"no report as .{extension}: ask for .xlsx, .html or .pdf", 404)
        try:
            scope = requested_scope(request.query_params)
            period = requested_period(request.query_params)
        except AnalysisRequestError as exc:
            return PlainTextResponse(str(exc), 400)
        try:
            caller = identity_from_authorization(request.headers.get("authorization"), secret_text)
            async with get_db().session() as session:
                analysis = await disclosure.analysis_for(
                    session,
                    caller,
                    scope,
                    period,
                    min_schools=settings.disclosure_min_schools,
                    rules=settings.analysis_rules(),
                )
        except UnknownScope as exc:
            return PlainTextResponse(str(exc), 404)
        except AccessDenied as exc:
            return PlainTextResponse(str(exc), 401 if exc.code == "UNAUTHENTICATED" else 403)
        content = await run_in_threadpool(report.render, analysis)
        name = file_name(scope, period, extension)
        return Response(
            content,
            media_type=report.media_type,
            headers={"Content-Disposition": f'{report.disposition}; filename="{name}"'},
        )

    return [Route("/reports/analysis.{extension}", analysis_report, methods=["GET"])]
