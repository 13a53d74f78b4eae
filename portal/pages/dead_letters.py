"""What the region's systems sent that Setka refused (dead letters), counted by reason for the
region's admin, over a chosen period: which topic, what kind of reason, how many, when first and
last, which systems, and the latest reasons in full. An admin of every region picks the region and
also sees the letters whose region could not be told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import signed_in
from ..gateway import GatewayError
from ..web import Portal

ORDER = 82
ADMINS = ("regional_admin",)
NAV: list[tuple[str, str, tuple[str, ...]]] = []
"""Reached from «Администрирование»."""

PERIODS = {
    "1": "за сутки",
    "7": "за неделю",
    "30": "за 30 дней",
    "90": "за 90 дней",
    "all": "за всё время",
}
DEFAULT_PERIOD = "7"
TOPICS = {
    "regional.activities": "мероприятия",
    "regional.attendance": "посещаемость",
    "regional.assessments": "результаты оценочных процедур",
    "regional.trainings": "повышение квалификации",
    "regional.deficits": "профессиональные дефициты",
    "setka.registry": "события реестра",
}


def routes(portal: Portal) -> list[Route]:
    async def summary(request: Request) -> Response:
        who = signed_in(portal, request, ADMINS)
        if isinstance(who, Response):
            return who
        person, token = who
        every_region = person.region_code == "*"
        period = request.query_params.get("period", DEFAULT_PERIOD)
        errors: dict[str, str] = {}
        if period not in PERIODS:
            errors["period"] = "Выберите период из списка"
            period = DEFAULT_PERIOD
        region = (
            request.query_params.get("regionCode", "").strip() if every_region else person.region_code or ""
        )
        if every_region and region and not (region.isdigit() and len(region) <= 3):
            errors["regionCode"] = "Код региона — цифры, например 39"
        values: dict[str, Any] = {
            "periods": PERIODS,
            "period": period,
            "every_region": every_region,
            "region": region,
            "errors": errors,
            "topics": TOPICS,
        }
        if errors:
            return portal.page(request, "admin_dead_letters.html", status=400, **values)
        if not region:
            return portal.page(request, "admin_dead_letters.html", **values)
        since = None if period == "all" else datetime.now(UTC) - timedelta(days=int(period))
        variables = {"regionCode": region, "since": since.isoformat() if since else None}
        try:
            data = await portal.gateway.run("DeadLetterSummary", variables, token)
        except GatewayError as exc:
            if exc.status >= 500:
                return portal.failure(request, exc)
            return portal.page(
                request, "admin_dead_letters.html", status=exc.status, problem=exc.message, **values
            )
        return portal.page(request, "admin_dead_letters.html", summary=data["deadLetterSummary"], **values)

    return [Route("/admin/dead-letters", summary, methods=["GET"])]
