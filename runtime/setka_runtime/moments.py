"""Moments as every service stores and compares them: in UTC.

SQLite keeps no offset (a naive moment read back is UTC), and PostgreSQL's ``timestamptz`` is
UTC too, so a moment given with any offset is turned to UTC once, here. One that has no UTC
equivalent (``0001-01-01T00:00:00+14:00`` is before year 1 in UTC) is a :class:`DomainError`,
not an overflow inside a query: a caller gets BAD_USER_INPUT, a message is dead-lettered with the
reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from .errors import DomainError


def aware(moment: datetime) -> datetime:
    """A moment with its zone: a naive one (as SQLite hands it back) is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc(moment: datetime, *, field: str | None = None) -> datetime:
    """The moment in UTC; ``field`` names the input at fault when it has no UTC equivalent."""
    try:
        return aware(moment).astimezone(UTC)
    except OverflowError:
        raise DomainError(
            f"{moment.isoformat()} вне допустимого диапазона: в UTC это не время между 1 и 9999 годами",
            code="MOMENT_OUT_OF_RANGE",
            field=field,
        ) from None


def utc_day(moment: datetime) -> date:
    """The UTC day of a moment."""
    return utc(moment).date()
