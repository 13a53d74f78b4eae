"""Keyset pagination for every list: a page ordered by some columns and the id, and cursors."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from setka_runtime.errors import DomainError
from sqlalchemy import Date, Select, Uuid, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")

MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    has_next_page: bool


def _encode(values: list[Any]) -> str:
    text = json.dumps([str(v) if isinstance(v, uuid.UUID | date) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str, columns: list[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong shape")
        decoded: list[Any] = []
        for column, value in zip(columns, values, strict=True):
            kind = column.property.columns[0].type
            if isinstance(kind, Uuid):
                decoded.append(uuid.UUID(value))
            elif isinstance(kind, Date):
                decoded.append(date.fromisoformat(value))
            else:
                decoded.append(value)
        return decoded
    except (ValueError, TypeError) as exc:
        raise DomainError(
            "Неверный курсор: начните с первой страницы", code="INVALID_CURSOR", field="after"
        ) from exc


def page_size(first: int) -> int:
    """The asked page size, capped at :data:`MAX_PAGE`."""
    return max(1, min(first, MAX_PAGE))


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    *,
    order: list[InstrumentedAttribute[Any]],
    first: int,
    after: str | None,
) -> Page[Any]:
    """One page of ``query`` in ``order`` (its last column must be unique, e.g. the id)."""
    limit = page_size(first)
    if after:
        query = query.where(tuple_(*order) > tuple(_decode(after, order)))
    query = query.order_by(*order).limit(limit + 1)
    rows = list((await session.scalars(query)).all())[: limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    cursors = [_encode([getattr(row, column.key) for column in order]) for row in rows]
    return Page(rows=rows, cursors=cursors, has_next_page=more)
