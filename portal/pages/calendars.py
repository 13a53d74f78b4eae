"""The calendar of activities: a month and a week, of one network or of every one the person sees,
each activity linking to its page; and the iCalendar feeds (RFC 5545) of a network and of an
organization that a school's website or a calendar application subscribes to: public data only
(asked anonymously), announced activities."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..exports import Column, export_route, filename, moment_in
from ..forms import moment, no_attempt, person_zone
from ..gateway import GatewayError
from ..web import Portal
from .plans import ACTIVITY_STATUSES, ACTIVITY_TYPES, FORMATS, MONTH_NAMES, WEEKDAYS, plan_forms

ORDER = 35
NAV = [("/calendar", "Календарь", ())]

MAX_ACTIVITIES = 1000
"""At most this many activities on a calendar page or in a feed (five pages of the API's 200)."""
FEED_SECONDS = 300
"""How long a feed is served from memory: calendar applications poll, and the workspace asks
the gateway as one anonymous client whose cost budget they would otherwise share."""
MAX_FEEDS = 1000

# --- the month and the week ----------------------------------------------------------------------


def month_of(text: str | None, today: date) -> date:
    """The first day of the month ``YYYY-MM`` (this month when not given or not one)."""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", text or "")
    if found and 2000 <= int(found[1]) <= 2100 and 1 <= int(found[2]) <= 12:
        return date(int(found[1]), int(found[2]), 1)
    return today.replace(day=1)


def week_of(text: str | None, today: date) -> date:
    """The Monday of the week of ``YYYY-MM-DD`` (this week when not given or not one)."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        day = today
    if not 2000 <= day.year <= 2100:
        day = today
    return day - timedelta(days=day.weekday())


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def month_title(first: date) -> str:
    return f"{MONTH_NAMES[first.month - 1].capitalize()} {first.year}"


def month_weeks(first: date) -> list[list[date]]:
    """The weeks (Monday to Sunday) that hold the month's days."""
    start = first - timedelta(days=first.weekday())
    end = next_month(first)
    weeks: list[list[date]] = []
    while start < end:
        weeks.append([start + timedelta(days=i) for i in range(7)])
        start += timedelta(days=7)
    return weeks


def by_day(activities: Iterable[dict[str, Any]], zone: Any) -> dict[date, list[dict[str, Any]]]:
    """Activities under the day they start on, in the person's clock."""
    days: dict[date, list[dict[str, Any]]] = {}
    for activity in activities:
        start = moment(activity["startsAt"])
        if start is not None:
            days.setdefault(start.astimezone(zone).date(), []).append(activity)
    return days


# --- iCalendar -----------------------------------------------------------------------------------


def ics_text(value: str) -> str:
    """A TEXT value escaped (RFC 5545, 3.3.11): backslash, semicolon, comma and line breaks."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def ics_fold(line: str) -> str:
    """A content line folded so that no line is longer than 75 octets (RFC 5545, 3.1), never
    inside a character: each continuation starts with a space."""
    if len(line.encode("utf-8")) <= 75:
        return line
    parts: list[str] = []
    current, size, limit = [], 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74  # the leading space is the 75th octet
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def ics_moment(value: str | datetime) -> str:
    when = moment(value)
    assert when is not None
    return f"{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def icalendar(
    name: str, activities: Iterable[dict[str, Any]], base_url: str, *, stamp: datetime | None = None
) -> bytes:
    """An iCalendar of the activities (UTC times, CRLF line ends, folded lines)."""
    stamp = stamp or datetime.now(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Setka//Workspace//RU",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_text(name)}",
        "X-WR-TIMEZONE:UTC",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for activity in activities:
        link = f"{base_url}/activities/{activity['id']}"
        details = [
            f"Проводит: {activity['host']['shortName']}",
            f"Вид: {ACTIVITY_TYPES.get(activity['activityType'], activity['activityType'])}",
            f"Формат: {FORMATS.get(activity['format'], activity['format'])}",
            f"Подробнее и запись: {link}",
        ]
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{activity['id']}@setka",
            f"DTSTAMP:{ics_moment(stamp)}",
            f"DTSTART:{ics_moment(activity['startsAt'])}",
            f"DTEND:{ics_moment(activity['endsAt'])}",
            f"SUMMARY:{ics_text(activity['title'])}",
        ]
        if activity.get("location"):
            lines.append(f"LOCATION:{ics_text(activity['location'])}")
        lines += [
            f"DESCRIPTION:{ics_text(chr(10).join(details))}",
            f"URL:{link}",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(ics_fold(line) for line in lines) + "\r\n").encode("utf-8")


# --- the pages -----------------------------------------------------------------------------------


def activity_columns(zone: Any) -> tuple[Column, ...]:
    """The calendar's activities as a table, on the person's clock."""
    return (
        Column("Начало", lambda a: moment_in(a["startsAt"], zone)),
        Column("Окончание", lambda a: moment_in(a["endsAt"], zone)),
        Column("Мероприятие", lambda a: a["title"]),
        Column("Вид", lambda a: ACTIVITY_TYPES.get(a["activityType"], a["activityType"])),
        Column("Формат", lambda a: FORMATS.get(a["format"], a["format"])),
        Column("Статус", lambda a: ACTIVITY_STATUSES.get(a["status"], a["status"])),
        Column("Проводит", lambda a: (a["host"] or {}).get("shortName")),
    )


def routes(portal: Portal) -> list[Route]:
    forms = plan_forms(portal)

    async def activities_between(
        request: Request, start: datetime, end: datetime, network: str | None
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        while len(found) < MAX_ACTIVITIES:
            data = await portal.gateway.run(
                "Calendar",
                {"networkId": network, "from": start.isoformat(), "before": end.isoformat(), "after": after},
                portal.token(request),
            )
            page = data["activities"]
            found.extend(e["node"] for e in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        return found

    async def networks(request: Request) -> list[dict[str, Any]]:
        data = await portal.gateway.run("Networks", {"first": 100}, portal.token(request))
        return [e["node"] for e in data["networks"]["edges"]]

    def network_of(request: Request) -> str | None:
        chosen = request.query_params.get("network") or None
        return chosen if chosen and re.fullmatch(r"[0-9A-Za-z-]{1,64}", chosen) else None

    async def calendar(
        request: Request,
        template: str,
        today: date,
        days: tuple[date, date],
        shown: Callable[[dict[date, list[dict[str, Any]]]], dict[str, Any]],
    ) -> Response:
        """A calendar page of the days from ``days[0]`` to before ``days[1]`` (the person's clock):
        the activities by day, given to ``shown`` for what the page says of them."""
        zone = person_zone(portal.person(request))
        network = network_of(request)
        start, end = (datetime.combine(day, time(), zone) for day in days)
        try:
            found = await activities_between(request, start, end, network)
            choices = await networks(request)
        except GatewayError as exc:
            return portal.failure(request, exc)
        return forms.page(
            request,
            template,
            no_attempt(),
            today=today,
            weekdays=WEEKDAYS,
            network=network,
            networks=choices,
            **shown(by_day(found, zone)),
        )

    async def month(request: Request) -> Response:
        today = datetime.now(person_zone(portal.person(request))).date()
        first = month_of(request.query_params.get("month"), today)
        weeks = month_weeks(first)
        return await calendar(
            request,
            "calendar_month.html",
            today,
            (weeks[0][0], weeks[-1][-1] + timedelta(days=1)),
            lambda days: {
                "first": first,
                "title": month_title(first),
                "weeks": weeks,
                "days": days,
                "count": sum(len(on) for day, on in days.items() if day.month == first.month),
                "previous": previous_month(first),
                "following": next_month(first),
                "week_start": today if (first.year, first.month) == (today.year, today.month) else first,
                "month_title": month_title,
            },
        )

    async def week(request: Request) -> Response:
        today = datetime.now(person_zone(portal.person(request))).date()
        monday = week_of(request.query_params.get("week"), today)
        return await calendar(
            request,
            "calendar_week.html",
            today,
            (monday, monday + timedelta(days=7)),
            lambda days: {
                "days": [monday + timedelta(days=i) for i in range(7)],
                "by_day": days,
                "monday": monday,
                "previous": monday - timedelta(days=7),
                "following": monday + timedelta(days=7),
                "month_names": MONTH_NAMES,
            },
        )

    def days_asked(request: Request, weekly: bool) -> tuple[datetime, datetime]:
        """The days a month's or a week's page lists (its own days: a month without the days of
        the weeks around it), on the person's clock."""
        zone = person_zone(portal.person(request))
        today = datetime.now(zone).date()
        if weekly:
            first = week_of(request.query_params.get("week"), today)
            last = first + timedelta(days=7)
        else:
            first = month_of(request.query_params.get("month"), today)
            last = next_month(first)
        start, end = (datetime.combine(day, time(), zone) for day in (first, last))
        return start, end

    def exported(weekly: bool) -> Callable[[Request], Any]:
        async def rows(request: Request) -> list[dict[str, Any]]:
            return await activities_between(request, *days_asked(request, weekly), network_of(request))

        return rows

    def columns(request: Request) -> tuple[Column, ...]:
        return activity_columns(person_zone(portal.person(request)))

    feeds: OrderedDict[tuple[str, str], tuple[float, bytes, str]] = OrderedDict()
    """Feeds served lately: (until when, the calendar, its file name) by (kind, id)."""

    async def feed(request: Request, operation: str, root: str, connection: str, title: str) -> Response:
        """A feed of public data: asked without the person's token, whoever asks; kept a few
        minutes."""
        key = (root, request.path_params["id"])
        kept = feeds.get(key)
        if kept is None or kept[0] <= monotonic():
            made = await fresh_feed(request, operation, root, connection, title)
            if isinstance(made, Response):
                return made
            kept = (monotonic() + FEED_SECONDS, *made)
            feeds[key] = kept
            feeds.move_to_end(key)
            while len(feeds) > MAX_FEEDS:
                feeds.popitem(last=False)
        return Response(
            kept[1],
            media_type="text/calendar; charset=utf-8",
            headers={
                "content-disposition": f'inline; filename="{kept[2]}"',
                "cache-control": f"public, max-age={FEED_SECONDS}",
            },
        )

    async def fresh_feed(
        request: Request, operation: str, root: str, connection: str, title: str
    ) -> tuple[bytes, str] | Response:
        """The calendar and its file name, or the answer why there is none."""
        found: list[dict[str, Any]] = []
        after = None
        name = ""
        try:
            while len(found) < MAX_ACTIVITIES:
                data = await portal.gateway.run(operation, {"id": request.path_params["id"], "after": after})
                owner = data[root]
                if owner is None:
                    return PlainTextResponse("Календарь не найден", 404)
                name = owner.get("name") or owner.get("shortName") or ""
                page = owner[connection]
                found.extend(e["node"] for e in page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        except GatewayError as exc:
            return PlainTextResponse(exc.message, exc.status)
        body = icalendar(f"{title}: {name}", found, portal.settings.base_url)
        return body, filename(f"setka-{root}-{request.path_params['id']}")[:80] + ".ics"

    async def network_feed(request: Request) -> Response:
        return await feed(request, "NetworkCalendarFeed", "network", "calendar", "Сетка, сеть")

    async def organization_feed(request: Request) -> Response:
        return await feed(request, "OrganizationCalendarFeed", "organization", "activities", "Сетка")

    return [
        Route("/calendar", month, methods=["GET"]),
        export_route(portal, "/calendar", "calendar-month", "Мероприятия", columns, exported(False)),
        Route("/calendar/week", week, methods=["GET"]),
        export_route(portal, "/calendar/week", "calendar-week", "Мероприятия", columns, exported(True)),
        Route("/networks/{id}/calendar.ics", network_feed, methods=["GET"]),
        Route("/organizations/{id}/calendar.ics", organization_feed, methods=["GET"]),
    ]
