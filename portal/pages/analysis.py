"""The analysis: a school's, network's, municipality's or region's effectiveness for a calendar
year, a quarter, a school year (September to August) or dates, each indicator drawn against the
same period a year before and its target, where it comes from in the regulations, the schools
that need attention, and the XLSX, PDF and HTML reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, export_route
from ..gateway import GatewayError
from ..web import Portal

ORDER = 60
NAV = [("/analysis", "Анализ", ())]

SCOPES = {"region": "регион", "municipality": "муниципалитет", "network": "сеть", "school": "школа"}
STATUS = {"good": "в норме", "attention": "внимание", "bad": "плохо", "no_data": "нет данных"}
TREND = {"up": "растёт", "down": "снижается", "flat": "без изменений", "unknown": "—"}
REPORTS = {"xlsx": "Таблица Excel", "pdf": "Документ PDF", "html": "Страница HTML"}
PERIOD = ("year", "quarter", "from", "to")
YEAR_KINDS = {"calendar": "календарный (январь – декабрь)", "school": "учебный (сентябрь – август)"}
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
    values = [indicator["value"], indicator["previous"], indicator["definition"]["target"]]
    top = max((abs(v) for v in values if v is not None), default=0) or 1
    return {
        "now": None if values[0] is None else round(abs(values[0]) / top * 100, 1),
        "before": None if values[1] is None else round(abs(values[1]) / top * 100, 1),
        "target": None if values[2] is None else round(abs(values[2]) / top * 100, 1),
    }


def routes(portal: Portal) -> list[Route]:
    async def analysis(request: Request) -> Response:
        token = portal.token(request)
        asked = _request(request)
        try:
            places = await portal.gateway.run("Places", token=token)
            result = None
            if asked is not None:
                result = (await portal.gateway.run("Analysis", asked[0], token))["effectivenessAnalysis"]
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
            )
        return portal.page(
            request,
            "analysis.html",
            places=places,
            analysis=result,
            asked=dict(request.query_params),
            report_query="&".join(f"{k}={v}" for k, v in (asked[1] if asked else {}).items()),
            scopes=SCOPES,
            status_names=STATUS,
            trends=TREND,
            reports=REPORTS,
            bars=bars,
            this_year=date.today().year,
            year_kinds=YEAR_KINDS,
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

    return [
        Route("/analysis", analysis, methods=["GET"]),
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
