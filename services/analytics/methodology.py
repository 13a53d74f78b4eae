"""The methodology of the effectiveness analysis (методика), in Russian, built from the indicator
definitions and the analysis' own constants and settings, never written twice: docs/methodology.md
and the annex of every report (XLSX sheet, HTML and PDF section) are renderings of :func:`sections`.

``python -m services.analytics.methodology docs/methodology.md`` writes the document; a test checks
the committed file is what the definitions say.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import effects
from .analysis import ENGAGEMENT_FLOOR, TOLERANCE
from .analysis_model import PROCEDURE_NAMES, AnalysisRules, Better, IndicatorDefinition
from .disclosure import MIN_SCHOOLS
from .indicators import (
    ADDRESSED_TERM,
    DEFINITIONS,
    DROPPED,
    KALMYKIA,
    NETWORK_ACTIVITY_TERM,
    SCOPE_TERM,
    SUPPORTED_TERM,
)

MONTHS_OF = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
BETTER_WORDS = {Better.higher: "чем выше, тем лучше", Better.lower: "чем ниже, тем лучше"}


@dataclass(frozen=True)
class Entry:
    """One item of a section: a titled block of facts (label, text) and paragraphs."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = field(default_factory=tuple)


def _percent(share: float) -> str:
    return f"{share * 100:g} %".replace(".", ",")


def _deviations(value: float) -> str:
    return f"{value:g}".replace(".", ",") + f" {effects.UNIT}"


def results_method(rules: AnalysisRules) -> tuple[str, ...]:
    """How results are compared like for like (:mod:`.effects`), in Russian."""
    bands = ", ".join(effects.SIZE_BAND_NAMES.values())
    statuses = ", ".join(effects.STATUS_GROUP_NAMES.values())
    return (
        "Стандартизация. Средние баллы разных процедур несравнимы: 5 баллов ЕГЭ и 0,3 отметки ВПР — "
        "разные величины. Поэтому средний балл школы (и доля низших отметок) по каждой процедуре, "
        "предмету и классу за каждый год переводится в z-оценку: (значение школы − среднее по всем "
        "школам её субъекта РФ с результатом по той же процедуре, предмету и классу в том же "
        "году) / стандартное отклонение по этим школам. z-оценка измеряется в стандартных "
        f"отклонениях ({effects.UNIT}); ячейка, где результат есть меньше чем у двух школ, не "
        "используется; если все значения ячейки равны, z-оценка каждой её школы — 0.",
        "Изменение школы — среднее по процедурам, предметам и классам, по которым у неё есть "
        "результаты и в году периода, и в базовом году, разностей её z-оценок в эти годы. Результат "
        "базового года школы — её средняя z-оценка среднего балла в базовом году по тем же ячейкам.",
        "Подбор сравнимых школ. Сопровождаемые школы — сопровождаемые школы охвата, состоявшие в "
        "периоде в сети (при анализе сети — в этой сети). Кандидаты в сравнимые — школы тех же "
        "субъектов РФ, не состоявшие ни в одной сети ни в базовом году, ни в году периода. Каждой "
        f"сопровождаемой школе подбираются до {effects.NEIGHBOURS} кандидатов из того же субъекта "
        f"РФ, с той же группой статуса ({statuses}; статус — имевшийся в периоде) и той же группой "
        f"по числу педагогов, работавших в периоде ({bands}), с ближайшим результатом базового "
        f"года, отличающимся не больше чем на {_deviations(effects.CALIPER)}; одна сравнимая школа "
        "может быть подобрана нескольким сопровождаемым. Сопровождаемая школа без подходящего "
        "кандидата в расчёт не входит (их число указано в примечании). Сравнимые школы "
        "подбираются один раз, по среднему баллу, и служат обоим показателям результатов.",
        "Разность разностей. Для каждой сопровождаемой школы — её изменение минус среднее "
        "изменение её сравнимых школ; значение показателя — среднее этих разностей по "
        "сопровождаемым школам. Рядом приводятся средние изменения обеих групп и число школ "
        "каждой группы.",
        f"Доверительный интервал ({_percent(effects.LEVEL)}) — бутстреп по школам: "
        f"{effects.REPLICATES} раз случайно, с возвращением, выбираются столько же сопровождаемых "
        "школ и, отдельно, столько же сравнимых, и разность разностей пересчитывается; границы "
        "интервала — 2,5-й и 97,5-й процентили пересчитанных значений. Генератор случайных чисел "
        f"запускается с постоянным зерном ({effects.SEED}), поэтому одни и те же данные всегда дают "
        "один и тот же интервал. Изменение значимо, если интервал не содержит нуля; иначе в отчёте "
        "— «значимого изменения нет».",
        f"Минимум. Если сопровождаемых школ (с результатами в оба года и подобранной парой) или "
        f"сравнимых школ меньше {rules.results_min_schools} (настройка ANALYTICS_RESULTS_MIN_SCHOOLS), "
        "значения нет: «нет данных: недостаточно данных», с числом школ каждой группы.",
        "Проверка. Метод проверен на синтетических регионах с известным эффектом (тест "
        "tests/unit/test_analytics_effects.py): в 50 регионах с заложенным эффектом +0,3 ст. откл. "
        "интервал содержит истинное значение не реже чем в 90 % случаев, в 50 регионах без эффекта "
        "не реже чем в 90 % случаев значимого изменения нет.",
    )


def due_month_words(rules: AnalysisRules) -> list[str]:
    """Per procedure: the month its results are in by, and from when they are expected."""
    words = []
    for procedure, month in rules.result_due_months.items():
        words.append(
            f"{PROCEDURE_NAMES.get(procedure, procedure)} — результаты года готовы к концу "
            f"{MONTHS_OF[month - 1]}, ожидаются с 1 {MONTHS_OF[month % 12]}"
            + (" следующего года;" if month == 12 else ";")
        )
    return words


def indicator_entry(definition: IndicatorDefinition, target: str | None = None) -> Entry:
    """An indicator as the methodology presents it: where it comes from and how it is computed;
    ``target``: the target a report's analysis judged it against and where that came from (a
    report's annex), else Setka's suggestion, labelled as not a target (docs/methodology.md)."""
    facts = [
        ("Ожидаемый результат", f"«{definition.expected_result}» — {definition.regulation}"),
        ("Что измеряет", definition.definition),
        ("Формула", definition.formula),
        ("Единица", f"{definition.unit}; {BETTER_WORDS[definition.better]}"),
        ("Источники данных", "; ".join(definition.sources)),
        ("Когда данные готовы", definition.data_due),
    ]
    if not definition.expected_result:
        facts = [(label, text) for label, text in facts[1:] if text]
    if target is not None:
        facts.append(("Цель", target))
    elif definition.suggestion is not None:
        unit = " %" if definition.unit == "%" else f" ({definition.unit})"
        suggestion = f"{definition.suggestion:g}".replace(".", ",") + unit
        facts.append(("Предложение Setka", f"{suggestion} — подсказка тем, кто устанавливает цели, не цель"))
    return Entry(definition.title, tuple(facts))


TARGETS = (
    "Цель (целевое значение) показателя — решение субъекта РФ или сети, а не Setka. Цель региона "
    "устанавливает региональный администратор, цель сети — редакторы сети (администратор её "
    "региона, координатор её муниципалитета); цель ставится на календарный год или на учебный год "
    "(с 1 сентября по 31 августа) и хранит, кто (роль) и когда её установил.",
    "Показатель анализа сети оценивается по цели этой сети, а если её нет — по цели региона сети; "
    "анализ региона, муниципалитета или школы — по цели региона. Применяется цель на год, "
    "целиком содержащий период анализа; если таких две (календарный и учебный год), — та, чей год "
    "совпадает с периодом, иначе установленная позже. В отчёте у каждого показателя указано, "
    "откуда его цель: чья она, на какой год, кто и когда её установил.",
    "Если цель не установлена, показатель не оценивается (статус «Цель не установлена»): "
    "показаны только его значение и динамика. Числа, которые Setka предлагает для части "
    "показателей («предложение Setka»), — лишь подсказка тем, кто устанавливает цели: по ним "
    "показатели не оцениваются, и в отчёте они подписаны как предложение, а не цель.",
)

NO_DATA = (
    "Если в периоде не записано ничего, из чего показатель считается (например, нет ни одного "
    "отзыва или ни одного педагога сопровождаемых школ), значение не приводится и не считается "
    "нулём: вместо числа стоит «нет данных», а примечание начинается с «нет данных:» и называет "
    "причину. Такой показатель получает статус «Нет данных» и не оценивается.",
    "У каждого значения указано, сколько школ (организаций охвата) за ним стоит — «Школ в "
    "расчёте»: чем их меньше, тем осторожнее выводы.",
)


VISIBILITY = (
    "Показатели сети, муниципалитета или региона публичны, если за ними стоит не меньше "
    "ANALYTICS_DISCLOSURE_MIN_SCHOOLS школ (по умолчанию "
    f"{MIN_SCHOOLS}): показатель по одной-двум школам — это результаты самих этих школ.",
    "Тот, за чью территорию отвечает пользователь (региональный администратор — регион, "
    "муниципальный координатор — муниципалитет, представитель школы — своя школа, эксперт и "
    "наблюдатель — свой регион), видит все показатели анализа своей территории.",
    "Всем остальным — анонимному пользователю и пользователю другого региона — анализ одной "
    f"школы и группы меньше чем из {MIN_SCHOOLS} школ не выдаётся вовсе, а в большей группе "
    "показатели, рассчитанные менее чем по этому числу школ, скрыты с пояснением.",
    "Список школ, требующих внимания, называет школы и причины так же, как сигналы, и подчиняется "
    "тому же правилу: его видят только вошедшие пользователи и только в части школ, сигналы о "
    "которых им показываются (регион, муниципалитет, своя школа — по ролям выше). Анонимному "
    "пользователю и пользователю другого региона список не выдаётся никогда, ни в интерфейсе, ни в "
    "отчётах XLSX, HTML и PDF.",
    "Показатели одной школы (её собственные результаты) видит только тот, за чью территорию "
    "отвечает пользователь и в которую входит школа.",
)

LIMITS = (
    "Анализ показывает связь участия в сети с изменением результатов, а не доказывает, что "
    "изменение вызвано сетью: сравнимые школы могут отличаться от сопровождаемых тем, что Setka "
    "не видит (кадры, контингент, другие программы поддержки).",
    "Средний балл и доля низших отметок — средние по школе, а не результаты учащихся; изменение "
    "состава учащихся или участников процедуры меняет их без изменения качества обучения.",
    "Сравнение результатов сопоставляет сопровождаемые школы сетей со школами вне сетей того же "
    "статуса, той же группы по числу педагогов и с близкими результатами базового года. Если "
    "в сеть шли школы, которые и без неё росли бы быстрее или медленнее (например, с более "
    "сильной администрацией), разность разностей это не устраняет: подбор выравнивает только то, "
    "что Setka видит.",
    "z-оценки сравнивают школу со школами её региона, а не с абсолютной шкалой: если весь регион "
    "вырос, рост школы вместе с ним изменение z-оценки не даёт. Школа, у которой в одном из двух "
    "лет нет результатов, в сравнение не входит; процедуры, предметы и классы, которые школа "
    "сдавала только в один из лет, — тоже.",
    "Доверительный интервал учитывает случайный разброс результатов школ, а не ошибки данных и "
    "не то, что сравнимая школа могла быть подобрана нескольким сопровождаемым (бутстреп тогда "
    "немного занижает неопределённость). «Значимого изменения нет» — не доказательство того, что "
    "эффекта нет: при малом числе школ интервал широк.",
    "Показатели считают только то, что записано в Setka: мероприятие без отмеченной "
    "посещаемости, курс, не попавший в региональные сведения, или дефицит, не внесённый после "
    "диагностики, в анализ не попадают.",
    "Проработка дефицита определяется по названиям: курс или мероприятие, в названии которого "
    "компетенция написана иначе (синонимом, сокращением), не засчитывается; название, совпавшее "
    "случайно, засчитывается.",
    "Оценка мероприятий участниками отражает мнение тех, кто оставил отзыв, а не всех участников.",
    "Единство подходов к оценке качества образования анализ не измеряет (см. «Исключённые показатели»).",
    "Месяцы готовности результатов — настройки региона; если результаты процедуры в регионе "
    "приходят позже, до их прихода сравнение года с базовым годом неполно.",
    "Анализ квартала сравнивает его с тем же кварталом прошлого года: изменения внутри года "
    "(между соседними кварталами) он не оценивает, потому что они отражают календарь школы, "
    "а не работу сети.",
)


def sections(
    definitions: Sequence[IndicatorDefinition] | None = None,
    rules: AnalysisRules | None = None,
    targets: Mapping[str, str] | None = None,
) -> list[Section]:
    """The methodology, section by section: what is analysed, the periods, each indicator, targets
    and missing data, the indicators dropped, the schools needing attention, the thresholds, who
    sees what and what the analysis cannot tell. ``definitions``: the analysis' own (all of them
    unless given); ``rules``: its settings (the defaults unless given); ``targets``: per indicator
    id, the target a report's analysis applied and where it came from (none: the suggestions)."""
    targets = targets or {}
    definitions = list(DEFINITIONS.values()) if definitions is None else list(definitions)
    rules = rules or AnalysisRules()
    days = rules.follow_up_days
    return [
        Section(
            "Назначение и охват",
            (
                "Анализ эффективности сетевого взаимодействия предусмотрен положениями о сетевом "
                f"взаимодействии (например, {KALMYKIA}, п. 5.2: «анализ эффективности сетевого "
                "взаимодействия образовательных организаций по повышению качества образования»). "
                "Каждый показатель ниже выводится из ожидаемого результата, названного в положении.",
                SCOPE_TERM,
                SUPPORTED_TERM,
                NETWORK_ACTIVITY_TERM,
            ),
        ),
        Section(
            "Периоды и сравнение",
            (
                "Период анализа — календарный год, квартал, учебный год (с 1 сентября по 31 августа) "
                "или любые даты.",
                "Значения сравниваются с тем же сезоном год назад: квартал — с тем же кварталом "
                "прошлого года, учебный год — с прошлым учебным годом, календарный год — с прошлым "
                "годом, произвольные даты (до года) — с теми же датами год назад; период длиннее "
                "года — с таким же периодом перед ним. Соседние кварталы не сравниваются: летом "
                "мероприятий меньше, а результаты процедур приходят весной и летом.",
                "Результаты оценочных процедур годовые: год результатов — год последнего дня "
                "периода (для 2025/26 учебного года — 2026), базовый год — предыдущий. Результаты "
                "процедуры ожидаются только после её месяца готовности и только в периоде, в "
                "который этот месяц попадает; до этого отсутствие результатов не отмечается, а "
                "изменение результатов не оценивается. Месяцы готовности (настройка "
                "ANALYTICS_RESULT_DUE_MONTHS):",
            ),
            tuple(due_month_words(rules)),
        ),
        Section(
            "Показатели",
            (
                "Для каждого показателя: ожидаемый результат из положения (дословно, с разделом), "
                "что и по какой формуле считается, откуда данные и когда они готовы. «Школ в "
                "расчёте» в отчёте — сколько школ стоит за значением.",
            ),
            entries=tuple(
                indicator_entry(definition, targets.get(definition.id)) for definition in definitions
            ),
        ),
        Section("Цели и предложения Setka", TARGETS),
        Section("Нет данных и число школ", NO_DATA),
        Section("Сравнение результатов с сопоставимыми школами", results_method(rules)),
        Section(
            "Исключённые показатели",
            entries=tuple(Entry(dropped.title, paragraphs=(dropped.reason,)) for dropped in DROPPED),
        ),
        Section(
            "Школы, требующие внимания",
            (
                "В список попадают сопровождаемые школы охвата, у которых в периоде есть хотя бы "
                "одна из причин:",
            ),
            (
                "ни одного сетевого мероприятия за период (ни участия, ни проведения);",
                f"в сетевых мероприятиях участвовало меньше {_percent(ENGAGEMENT_FLOOR)} педагогов школы;",
                "средний балл снизился или доля низших отметок выросла относительно базового года "
                f"не меньше чем на {_deviations(effects.DECLINE)} в z-оценках (как в показателях "
                "результатов: относительно школ своего региона в той же процедуре, предмете, классе "
                "и году) — по процедурам, результаты которых ожидаются в периоде и уже должны быть "
                "готовы;",
                "нет результатов ни одной из этих процедур за год;",
                f"есть дефициты, выявленные в периоде и не проработанные за {days} дней. "
                f"{ADDRESSED_TERM} Сигнал «дефицит без повышения квалификации» поднимается ровно "
                "для таких дефицитов, так что отчёт и сигналы не расходятся.",
            ),
        ),
        Section(
            "Пороги и настройки",
            bullets=(
                f"Тенденция «без изменений» — если значения периодов различаются не больше чем на "
                f"{_percent(TOLERANCE)} от большего из них.",
                f"Доля участвовавших педагогов, ниже которой школа требует внимания, — "
                f"{_percent(ENGAGEMENT_FLOOR)}.",
                f"Срок проработки дефицита — {days} дней (ANALYTICS_DEFICIT_FOLLOW_UP_DAYS).",
                f"Меньше {rules.results_min_schools} сопровождаемых или сравнимых школ в сравнении "
                "результатов — значения нет, «нет данных: недостаточно данных» "
                "(ANALYTICS_RESULTS_MIN_SCHOOLS).",
                f"Сравнимых школ на одну сопровождаемую — до {effects.NEIGHBOURS}, с разницей "
                f"результатов базового года не больше {_deviations(effects.CALIPER)}; доверительный "
                f"интервал — {_percent(effects.LEVEL)}, {effects.REPLICATES} повторов бутстрепа.",
                f"Снижение результатов школы, после которого она требует внимания, — "
                f"{_deviations(effects.DECLINE)}.",
                f"Меньше ANALYTICS_DISCLOSURE_MIN_SCHOOLS школ (по умолчанию {MIN_SCHOOLS}) — "
                "показатель не показывается тем, кто не отвечает за территорию.",
                "Посещаемость, не отмеченная через ANALYTICS_ALERT_ATTENDANCE_GRACE_DAYS дней после "
                "мероприятия (по умолчанию 3), вызывает сигнал.",
            ),
        ),
        Section("Кто что видит", VISIBILITY),
        Section("Чего анализ не говорит", bullets=LIMITS),
    ]


def markdown(found: Iterable[Section], statuses: Mapping[str, str] | None = None) -> str:
    """The methodology as a Markdown document (``statuses``: each status' label and meaning)."""
    lines = [
        "# Методика анализа эффективности сетевого взаимодействия",
        "",
        "Документ создан командой `python -m services.analytics.methodology docs/methodology.md` из "
        "определений показателей (`services/analytics/indicators.py`) и настроек анализа; то же "
        "приложение «Методика» входит в каждый отчёт. Правьте определения, а не этот файл.",
    ]
    for number, section in enumerate(found, 1):
        lines += ["", f"## {number}. {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        lines += [f"- {bullet}" for bullet in section.bullets]
        if section.bullets:
            lines.append("")
        for entry in section.entries:
            lines += [f"### {entry.title}", ""]
            lines += [f"- **{label}.** {text}" for label, text in entry.facts]
            if entry.facts:
                lines.append("")
            for paragraph in entry.paragraphs:
                lines += [paragraph, ""]
        if section.title == "Показатели" and statuses:
            lines += ["### Статусы показателей", ""]
            lines += [f"- **{label}** — {meaning}." for label, meaning in statuses.items()]
            lines.append("")
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"


def document() -> str:
    """docs/methodology.md as the definitions and the default settings give it."""
    from .reports import STATUS_LABELS, STATUS_MEANINGS  # the reports present the methodology

    statuses = {STATUS_LABELS[status]: meaning for status, meaning in STATUS_MEANINGS.items()}
    return markdown(sections(), statuses)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    text = document()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
