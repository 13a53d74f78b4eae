"""Dates, moments and numbers as the services' messages say them to people: in Russian.

A refusal's message is read by a person (in the workspace, on a portal); its ``code`` is what a
program reads (see :class:`~setka_runtime.errors.DomainError`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def day(value: date) -> str:
    """``5 марта 2026``."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def moment(value: datetime) -> str:
    """``5 марта 2026, 09:00 UTC``: the services keep no person's time zone, so they say UTC."""
    at = value.astimezone(UTC) if value.tzinfo else value
    return f"{day(at)}, {at:%H:%M} UTC"


def number(value: float) -> str:
    """``2,5``: a decimal comma, no needless zeros."""
    return f"{value:g}".replace(".", ",")
