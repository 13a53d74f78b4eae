"""The analysis: a school's, network's, municipality's or region's effectiveness for a calendar
year, a quarter, a school year (September to August) or dates, each indicator drawn against the
same period a year before and the target its region or network set (with where it came from;
none: only the trend), where the indicator comes from in the regulations, the schools that need
attention, and the XLSX, PDF and HTML reports. A regional admin (for the region) and a network's
coordinator (for the network) set and remove the targets on the same page; Setka's numbers are
offered as suggestions, never as targets."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, export_route
from ..forms import Attempt, Field, Forms, no_attempt
from ..gateway import GatewayError
from ..web import Portal

ORDER = 60
NAV = [("/analysis", "Анализ", ())]

SCOPES = {"region": "регион", "municipality": "муниципалитет", "network": "сеть", "school": "школа"}
STATUS = {
    "good": "в норме",
    "attention": "внимание",
    "bad": "плохо",
    "no_target": "цель не установлена — только динамика",
    "no_data": "нет данных",
}
TREND = {"up": "растёт", "down": "снижается", "flat": "без изменений", "unknown": "—"}
REPORTS = {"xlsx": "Таблица Excel", "pdf": "Документ PDF", "html": "Страница HTML"}
PERIOD = ("year", "quarter", "from", "to")
PERIOD_YEAR_KINDS = {"calendar": "календарный (январь – декабрь)", "school": "учебный (сентябрь – август)"}
"""Which year the analysis' period is."""
DECIDERS = ("regional_admin", "municipal_coordinator")
"""Who sets targets: a region's admin, a network's coordinator (the API checks whose)."""
YEAR_KINDS = {"calendar": "календарный год", "school": "учебный год (начинается в этом году)"}
"""Which year a target is for."""
TARGET_FIELDS = (
    Field("indicatorId", "Показатель", "select", required=True, invalid="Выберите показатель"),
    Field("yearKind", "Год", "select", choices=YEAR_KINDS),
    Field("value", "Цель", "number", required=True, invalid="Укажите число"),
)
CLEAR_FIELDS = (Field("indicatorId", kind="hidden"), Field("yearKind", kind="hidden"))
ATTENTION_COLUMNS = (
    Column("Школа", lambda s: s["name"]),
    Column("Почему требует внимания", lambda s: "; ".join(s["reasons"])),
)


def _request(request: Request) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The analysis asked for (GraphQL variables, the report's query), or None when none is."""
    query = request.query_params
    scope, ident = query.get("scope"), query.get("id")
    if scope not in SCOPES or not ident:
        return None
    variables: dict[str, Any] = {"scope": scope, "id": ident}
    params = {"scope": scope, "id": ident}
    year = query.get("year") or str(date.today().year)
    if query.get("from") and query.get("to"):
        variables.update({"from": query["from"], "to": query["to"]})
        params.update({"from": query["from"], "to": query["to"]})
    elif query.get("year_kind") == "school":
        variables["schoolYear"] = int(year) if year.isdigit() else _this_school_year()
        params["school_year"] = str(variables["schoolYear"])
    else:
        variables["year"] = int(year) if year.isdigit() else date.today().year
        params["year"] = str(variables["year"])
        if (query.get("quarter") or "").isdigit():
            variables["quarter"] = int(query["quarter"])
            params["quarter"] = query["quarter"]
    return variables, params


def _this_school_year() -> int:
    """The school year under way, by the year it started in (2025 for 2025/26)."""
    today = date.today()
    return today.year if today.month >= 9 else today.year - 1


def bars(indicator: dict[str, Any]) -> dict[str, Any]:
    """The lengths (0–100) of an indicator's bars: this period, the previous one, the target."""
    target = indicator.get("target") or {}
    values = [indicator["value"], indicator["previous"], target.get("value")]
    top = max((abs(v) for v in values if v is not None), default=0) or 1
    return {
        "now": None if values[0] is None else round(abs(values[0]) / top * 100, 1),
        "before": None if values[1] is None else round(abs(values[1]) / top * 100, 1),
        "target": None if values[2] is None else round(abs(values[2]) / top * 100, 1),
    }


def _indicator_options(targets: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The indicators to set a target for, each with Setka's suggestion labelled as one."""
    options = []
    for item in (targets or {}).get("indicatorDefinitions", []):
        title = item["title"]
        if item["suggestion"] is not None:
            number = f"{item['suggestion']:g}".replace(".", ",")
            title += f" — предложение Setka: {number} {item['unit']}"
        options.append((item["id"], title))
    return options


def _target_year(variables: dict[str, Any]) -> int:
    """The year whose targets the page offers to set: the analysed year, the school year's first
    (2025 for 2025/26), or the first day's."""
    if "year" in variables:
        return int(variables["year"])
    if "schoolYear" in variables:
        return int(variables["schoolYear"])
    return int(str(variables["from"])[:4])


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal)

    async def targets_of(asked: dict[str, Any], token: str | None) -> dict[str, Any] | None:
        """The region's or network's targets of the year, for a person who may set them."""
        if asked["scope"] not in ("region", "network") or token is None:
            return None
        try:
            variables = {"scope": asked["scope"], "id": asked["id"], "year": _target_year(asked)}
            return await portal.gateway.run("IndicatorTargets", variables, token)
        except GatewayError:
            return None

    async def analysis(request: Request, attempt: Attempt | None = None) -> Response:
        token = portal.token(request)
        asked = _request(request)
        person = portal.person(request)
        may_set = person is not None and person.has(*DECIDERS)
        try:
            places = await portal.gateway.run("Places", token=token)
            result = None
            targets = None
            if asked is not None:
                result = (await portal.gateway.run("Analysis", asked[0], token))["effectivenessAnalysis"]
                if may_set:
                    targets = await targets_of(asked[0], token)
        except GatewayError as exc:
            if asked is None or exc.status >= 500:
                return portal.failure(request, exc)
            return portal.page(
                request,
                "analysis.html",
                status=exc.status,
                places=places,
                refused=exc.message,
                asked=dict(request.query_params),
                scopes=SCOPES,
                this_year=date.today().year,
                period_year_kinds=PERIOD_YEAR_KINDS,
            )
        return forms.page(
            request,
            "analysis.html",
            attempt or no_attempt(),
            places=places,
            analysis=result,
            targets=targets,
            indicator_options=_indicator_options(targets),
            target_year=_target_year(asked[0]) if asked else None,
            target_year_kind="school" if asked and "schoolYear" in asked[0] else "calendar",
            year_kinds=YEAR_KINDS,
            target_query="&".join(f"{k}={v}" for k, v in (asked[1] if asked else {}).items()),
            asked=dict(request.query_params),
            report_query="&".join(f"{k}={v}" for k, v in (asked[1] if asked else {}).items()),
            scopes=SCOPES,
            status_names=STATUS,
            trends=TREND,
            reports=REPORTS,
            bars=bars,
            this_year=date.today().year,
            period_year_kinds=PERIOD_YEAR_KINDS,
        )

    async def attention(request: Request) -> list[dict[str, Any]] | Response:
        """The schools that need attention in the analysis asked for (as the page lists them)."""
        asked = _request(request)
        if asked is None:
            return portal.page(request, "error.html", status=404, message="Выберите, что анализировать")
        data = await portal.gateway.run("Analysis", asked[0], portal.token(request))
        return list(data["effectivenessAnalysis"]["schoolsNeedingAttention"])

    async def report(request: Request) -> Response:
        extension = request.path_params["format"]
        asked = _request(request)
        if extension not in REPORTS or asked is None:
            return portal.page(request, "error.html", status=404, message="Такого отчёта нет")
        try:
            reply = await portal.gateway.report(
                f"/reports/analysis.{extension}", asked[1], portal.token(request)
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        if reply.status_code != 200:
            message = {401: "Войдите, чтобы скачать этот отчёт", 403: "Этот отчёт вне ваших полномочий"}.get(
                reply.status_code, f"Отчёт не получен: {reply.text[:300]}"
            )
            return portal.page(request, "error.html", status=reply.status_code, message=message)
        headers = {k: v for k, v in reply.headers.items() if k in ("content-type", "content-disposition")}
        return Response(reply.content, headers=headers)

    def deciding(operation: str, fields: tuple[Field, ...], form: str, said: str) -> Any:
        async def take(request: Request) -> Response:
            asked = _request(request)
            if asked is None or asked[0]["scope"] not in ("region", "network"):
                return portal.page(
                    request, "error.html", status=404, message="Цели устанавливают регион или сеть"
                )
            scope, year = asked[0], _target_year(asked[0])
            back = "/analysis?" + "&".join(f"{k}={v}" for k, v in asked[1].items())
            return await forms.take(
                request,
                form,
                fields,
                operation,
                lambda v: {
                    "scope": scope["scope"],
                    "id": scope["id"],
                    "year": year,
                    "indicatorId": v["indicatorId"],
                    "yearKind": v.get("yearKind") or "calendar",
                    **({"value": v["value"]} if "value" in v else {}),
                },
                again=analysis,
                then=lambda r, v: (back, said),
            )

        return take

    return [
        Route("/analysis", analysis, methods=["GET"]),
        Route(
            "/analysis/targets",
            deciding("SetIndicatorTarget", TARGET_FIELDS, "target", "Цель записана"),
            methods=["POST"],
        ),
        Route(
            "/analysis/targets/clear",
            deciding("ClearIndicatorTarget", CLEAR_FIELDS, "clear", "Цель снята"),
            methods=["POST"],
        ),
        Route("/analysis/report.{format:str}", report, methods=["GET"]),
        export_route(
            portal,
            "/analysis/attention",
            "schools-needing-attention",
            "Школы, требующие внимания",
            ATTENTION_COLUMNS,
            attention,
        ),
    ]
